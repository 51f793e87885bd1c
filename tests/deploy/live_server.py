"""A real uvicorn process serving a small test bundle, for tests that talk HTTP from outside (curl, a browser).

The bundle is tests/conftest.py's `tiny_bundle` (tests/bundle_factory.py, ~20 s, needs TensorFlow), built
once per pytest session and shared with the service tests.
"""

from __future__ import annotations

import functools
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.core.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
HAM10000_IMAGES = REPO_ROOT.parent / "shared" / "data" / "ham10000" / "images"
READY_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def tiny_bundle_or_skip(request: pytest.FixtureRequest) -> Path:
    """tests/conftest.py's session-wide `tiny_bundle`, or a skip when TensorFlow (needed to build it) is absent."""
    pytest.importorskip("keras", reason="building the test bundle needs TensorFlow (the dev extra)")
    return request.getfixturevalue("tiny_bundle")


def sample_image(directory: Path) -> Path:
    """A real HAM10000 JPEG when the shared data copy is there, else a synthetic lesion written as JPEG."""
    real = sorted(HAM10000_IMAGES.glob("*.jpg"))[:1] if HAM10000_IMAGES.is_dir() else []
    if real:
        return real[0]
    from PIL import Image

    from tests.bundle_factory import synthetic_images

    path = directory / "lesion.jpg"
    Image.fromarray(synthetic_images(1, 256, seed=3)[0]).save(path, quality=90)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serve(model_dir: Path, log_path: Path, **settings: str) -> Iterator[LiveServer]:
    """Run `python -m uvicorn service.main:app` on a free loopback port until the block ends."""
    port = free_port()
    # A developer's exported API_KEY or MODEL_DIR must not change what the tests see.
    env = {key: value for key, value in os.environ.items() if key.lower() not in Settings.model_fields}
    env.update(MODEL_DIR=str(model_dir), INFERENCE_THREADS="1", LOG_LEVEL="WARNING", **settings)
    command = [sys.executable, "-m", "uvicorn", "service.main:app", "--host", "127.0.0.1", "--port", str(port),
               "--no-access-log"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = LiveServer(f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_until_ready(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(server: LiveServer, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"uvicorn exited with {process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.base_url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    pytest.fail(f"the service was not ready within {READY_TIMEOUT_S:.0f} s:\n{server.log_tail()}")


@contextmanager
def host_directory(directory: Path) -> Iterator[str]:
    """Serve a directory over plain HTTP on a free loopback port (for the URL inputs); yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass
