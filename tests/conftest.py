"""Shared fixtures: paths to the shared HAM10000 copy and a session-wide real test bundle."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
HAM10000_DIR = REPO_ROOT.parent / "shared" / "data" / "ham10000"
# CI sets CI=true. There every input a test needs (HAM10000, chromium, curl, the dev extra) must be present,
# so a skip means a broken setup, and is reported as a failure instead of hiding it.
ON_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    report = outcome.get_result()
    if ON_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = f"skipped on CI, where every input must be present: {reason}"


@pytest.fixture(scope="session")
def ham10000_dir() -> Path:
    if not (HAM10000_DIR / "HAM10000_metadata.csv").is_file():
        pytest.skip(f"the shared HAM10000 copy is not at {HAM10000_DIR}")
    return HAM10000_DIR


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real bundle (Lite0 at 64 px, random head) built once per test session."""
    from tests.bundle_factory import make_bundle

    return make_bundle(tmp_path_factory.mktemp("bundle"))
