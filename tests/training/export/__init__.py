"""Tests of training/export/."""
