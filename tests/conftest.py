"""Shared fixtures: paths to the shared HAM10000 copy and a session-wide real test bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
HAM10000_DIR = REPO_ROOT.parent / "shared" / "data" / "ham10000"


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
