"""Tests of postman/."""
