"""Tests of training/model/."""
