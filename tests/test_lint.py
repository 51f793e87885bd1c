"""Lint and types are part of the test command: `python -m pytest` fails on any ruff or mypy finding."""

import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(REPO_ROOT)],
                            capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing_in_the_serving_packages():
    # [tool.mypy] in pyproject.toml: contract/ and service/, with the pydantic plugin
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", "/dev/null"],
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
