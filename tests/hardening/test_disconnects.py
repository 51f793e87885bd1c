"""Clients that vanish: half an upload then a closed socket, or a whole upload and no wait for the answer.

Nothing may leak: afterwards the server still answers, records no 5xx, and its thread count and RSS
are where they were after warm-up. Also the oversize upload whose 413 a keep-alive client never sees.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time

import httpx
import pytest

from bench.common import proc_status, sample_jpeg

DISCONNECTS = 50
BOUNDARY = "hardeningboundary"
RSS_GROWTH_LIMIT = 0.10
ROUNDS = 3
WORKER_POOL_CAP = 40  # anyio's default thread limiter, which Starlette's upload handling runs under


def multipart_body(jpeg: bytes) -> bytes:
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="lesion.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n").encode()
    return head + jpeg + f"\r\n--{BOUNDARY}--\r\n".encode()


def send_and_vanish(port: int, body: bytes, fraction: float) -> None:
    """Declare the whole body, send `fraction` of it, close without reading the answer."""
    head = (f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(head + body[: int(len(body) * fraction)])


def server_errors_recorded(client: httpx.Client) -> int:
    """5xx answers except 503: a burst of 50 vanishing uploads is past MAX_INFLIGHT_REQUESTS, and shedding
    it with 503 `overloaded` is the designed answer to overload, not a fault."""
    metrics = client.get("/metrics").text
    pattern = r'http_requests_total\{[^}]*status="5(?!03)\d\d"[^}]*\} (\S+)'
    return sum(int(float(value)) for value in re.findall(pattern, metrics))


def warm_up(client: httpx.Client, jpeg: bytes) -> None:
    """Two clients' worth of real requests, so the worker pool and buffers exist before the baseline."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(lambda _: client.post("/predict", files={"file": ("x.jpg", jpeg, "image/jpeg")})
                                 .status_code, range(20)))
    assert statuses == [200] * 20
    time.sleep(0.5)


def vanish_round(port: int, body: bytes, fraction: float) -> None:
    for _ in range(DISCONNECTS):
        send_and_vanish(port, body, fraction)
    time.sleep(1.0)  # whatever the server still does for the vanished clients ends here


@pytest.mark.parametrize("fraction", [0.5, 1.0], ids=["half-upload", "whole-upload-no-wait"])
def test_vanishing_clients_leak_nothing(live_server, fraction):
    jpeg = sample_jpeg()
    body = multipart_body(jpeg)
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        warm_up(client, jpeg)
        baseline = proc_status(live_server.pid)
        errors_before = server_errors_recorded(client)
        readings = []
        for _ in range(ROUNDS):
            vanish_round(live_server.port, body, fraction)
            readings.append(proc_status(live_server.pid))
            started = time.monotonic()
            answer = client.post("/predict", files={"file": ("x.jpg", jpeg, "image/jpeg")})
            assert answer.status_code == 200 and time.monotonic() - started < 5
        assert server_errors_recorded(client) == errors_before
    # Threads: a burst may grow the worker pool (anyio keeps up to 40 threads, retiring idle ones only when
    # new work arrives), but never past that bound. Memory: the first round sizes the buffers; later rounds
    # must not add to them.
    assert max(r["Threads"] for r in readings) <= baseline["Threads"] + WORKER_POOL_CAP, readings
    assert readings[-1]["VmRSS"] < readings[0]["VmRSS"] * (1 + RSS_GROWTH_LIMIT), readings


async def oversize_uploads(base_url: str, size: int, count: int) -> list[int | str]:
    outcomes: list[int | str] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for _ in range(count):
            try:
                response = await client.post("/predict", files={"file": ("big.jpg", b"\xff" * size, "image/jpeg")})
                outcomes.append(response.status_code)
            except httpx.TransportError as error:
                outcomes.append(type(error).__name__)
    return outcomes


def test_an_oversize_upload_gets_its_413_not_a_reset(live_server):
    outcomes = asyncio.run(oversize_uploads(live_server.base_url, 11 * 1024 * 1024, 3))
    assert outcomes == [413, 413, 413]


def read_response_head(connection: socket.socket) -> str:
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(4096)
        if not chunk:
            break
        received += chunk
    return received.split(b"\r\n\r\n")[0].decode("latin-1").lower()


def test_a_body_too_large_to_drain_gets_its_413_at_once_and_the_connection_closed(live_server):
    # 1 GiB declared, a few bytes sent: draining would take forever, so the answer must not wait for it.
    head = (f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{live_server.port}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {2**30}\r\n\r\n").encode()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as connection:
        connection.sendall(head + b"--" + BOUNDARY.encode())
        response = read_response_head(connection)
    assert response.startswith("http/1.1 413") and "connection: close" in response, response
    assert time.monotonic() - started < 3


def test_a_drained_oversize_body_leaves_the_connection_usable(live_server):
    # Just over the cap: the server reads the rest, answers 413, and keeps the connection for the next request.
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        refused = client.post("/predict", files={"file": ("big.jpg", b"\xff" * (11 * 1024 * 1024), "image/jpeg")})
        assert refused.status_code == 413 and "close" not in refused.headers.get("connection", "")
        assert client.get("/healthz").status_code == 200
