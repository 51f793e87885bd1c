"""Fixtures for the hardening checks: real uvicorn subprocesses on loopback, serving tests/conftest.py's tiny bundle."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.common import Server, running_server


@pytest.fixture(scope="module")
def live_server(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server with default settings, shared by a module's tests."""
    pytest.importorskip("keras", reason="building the test bundle needs TensorFlow (the dev extra)")
    log_path = tmp_path_factory.mktemp("live") / "server.log"
    with running_server(tiny_bundle, log_path, ready_timeout_s=90) as server:
        yield server
