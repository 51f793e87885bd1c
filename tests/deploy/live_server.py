"""A real uvicorn process serving a small test bundle, for tests that talk HTTP from outside (curl, a browser).

The bundle is tests/conftest.py's `tiny_bundle` (tests/bundle_factory.py, ~20 s, needs TensorFlow), built
once per pytest session and shared with the service tests.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.common import HAM10000_IMAGES, free_port, running_server

REPO_ROOT = Path(__file__).resolve().parents[2]
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


@contextmanager
def serve(model_dir: Path, log_path: Path, **settings: str) -> Iterator[LiveServer]:
    """The service in a uvicorn subprocess on a free loopback port: bench.common's one harness, as a test sees it."""
    try:
        with running_server(model_dir, log_path, ready_timeout_s=READY_TIMEOUT_S, INFERENCE_THREADS="1",
                            **settings) as server:
            yield LiveServer(server.base_url, log_path)
    except (RuntimeError, TimeoutError) as error:
        pytest.fail(str(error))


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
