"""Tests of training/evaluation/."""
