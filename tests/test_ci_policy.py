"""On CI (CI=true) a skipped test is a failure: a missing input there means a broken setup, not an option."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

SKIPPING_TEST = """
import pytest

def test_needs_something_absent():
    pytest.skip("the input is not here")
"""


def _run(tmp_path: Path, ci: str) -> subprocess.CompletedProcess:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "conftest.py").write_text((REPO_ROOT / "tests" / "conftest.py").read_text())
    (tests / "test_skipping.py").write_text(SKIPPING_TEST)
    env = {**os.environ, "CI": ci}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_a_skip_fails_on_ci(tmp_path: Path) -> None:
    result = _run(tmp_path, "true")
    assert result.returncode == 1, result.stdout
    assert "skipped on CI, where every input must be present: the input is not here" in result.stdout


def test_a_skip_stays_a_skip_off_ci(tmp_path: Path) -> None:
    result = _run(tmp_path, "")
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
