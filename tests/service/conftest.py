"""Fixtures for the service tests (the real bundle is tests/conftest.py's session-wide `tiny_bundle`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from service.core.config import Settings
from tests.service.harness import Served, serving


@pytest.fixture(autouse=True)
def _no_stray_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's exported API_KEY or MODEL_DIR must not change what these tests see."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        overrides.setdefault("model_dir", tmp_path / "bundle")
        return Settings(**overrides)

    return make


@pytest.fixture
def served(make_settings: Callable[..., Settings]) -> Iterator[Served]:
    """The app with the fake engine, loaded and ready."""
    with serving(make_settings()) as running:
        yield running
