"""Tests of service/fetch/."""
