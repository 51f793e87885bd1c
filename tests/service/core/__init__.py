"""Tests of service/core/."""
