"""Tests of service/inference/."""
