"""Admission control: beyond MAX_INFLIGHT_REQUESTS model requests, new ones are shed with a 503 problem."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from service.api.admission import AdmissionLimit, Reservation
from service.api.body_limit import body_caps
from service.core.config import Settings
from service.main import create_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the service runs on uvicorn's asyncio loop


def gated_app(gate: asyncio.Event, limit: int, max_bytes: int = 1 << 30) -> AdmissionLimit:
    async def slow_model(request: Request) -> JSONResponse:
        body = await request.body()
        await gate.wait()
        return JSONResponse({"bytes": len(body)})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "alive"})

    routes = [Route("/predict", slow_model, methods=["POST"]), Route("/predict/batch", slow_model, methods=["POST"]),
              Route("/healthz", health)]
    reservation = Reservation(body_caps(Settings(max_upload_bytes=4096, max_batch_files=4)), url_max_bytes=2048)
    return AdmissionLimit(Starlette(routes=routes), max_inflight=limit, max_inflight_bytes=max_bytes,
                          reservation=reservation)


@pytest.mark.anyio
async def test_requests_beyond_the_limit_are_shed_and_the_admitted_ones_finish():
    gate = asyncio.Event()
    transport = httpx.ASGITransport(app=gated_app(gate, limit=2))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        admitted = [asyncio.create_task(client.post("/predict", content=b"x" * 1000)) for _ in range(2)]
        await asyncio.sleep(0.05)  # both are now inside, waiting at the gate
        shed = await client.post("/predict", content=b"y" * 1000)
        health = await client.get("/healthz")  # probes and other routes are never shed
        gate.set()
        finished = await asyncio.gather(*admitted)
        after = await client.post("/predict", content=b"z")  # the slots were given back

    assert shed.status_code == 503 and shed.headers["retry-after"] == "1"
    assert shed.headers["content-type"] == "application/problem+json"
    assert shed.json()["type"].endswith(":overloaded") and "more than 2 requests" in shed.json()["detail"]
    assert health.status_code == 200
    assert [response.json() for response in finished] == [{"bytes": 1000}] * 2
    assert after.status_code == 200


@pytest.mark.anyio
async def test_requests_beyond_the_byte_budget_are_shed_but_an_empty_building_admits_one():
    gate = asyncio.Event()
    transport = httpx.ASGITransport(app=gated_app(gate, limit=10, max_bytes=25_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        alone = asyncio.create_task(client.post("/predict/batch", content=b"x" * 30_000))  # over the budget alone
        await asyncio.sleep(0.05)
        behind_it = await client.post("/predict", content=b"y" * 100)  # 100 bytes more would pass the budget
        gate.set()
        assert (await alone).status_code == 200
        gate.clear()
        first = asyncio.create_task(client.post("/predict", content=b"x" * 20_000))
        await asyncio.sleep(0.05)
        small = asyncio.create_task(client.post("/predict", content=b"y" * 4_000))  # 24,000: within the budget
        await asyncio.sleep(0.05)
        large = await client.post("/predict", content=b"z" * 2_000)  # 26,000: over it
        gate.set()
        admitted = await asyncio.gather(first, small)

    assert behind_it.status_code == 503 and behind_it.headers["retry-after"] == "1"
    assert "30000 bytes" in behind_it.json()["detail"] and "limit of 25000" in behind_it.json()["detail"]
    assert [response.status_code for response in admitted] == [200, 200]
    assert large.status_code == 503 and large.json()["type"].endswith(":overloaded")


def test_a_request_reserves_its_declared_size_or_its_cap_and_predict_url_its_download_limit():
    reservation = Reservation(body_caps(Settings(max_upload_bytes=4096, max_batch_files=4)), url_max_bytes=50_000)
    assert reservation.bytes_for("/predict", 1000) == 1000
    assert reservation.bytes_for("/predict", None) == 4096 + 64 * 1024  # chunked: its cap, the most it may bring
    assert reservation.bytes_for("/predict", 10**9) == 4096 + 64 * 1024  # over the cap: refused by the body limit
    assert reservation.bytes_for("/predict/batch", None) == 4 * 4096 + 64 * 1024
    assert reservation.bytes_for("/predict-url", 80) == 50_000
    assert reservation.bytes_for("/gradcam", 1000) == 1000  # its form carries a file (a url is bounded by count)
    assert reservation.bytes_for("/v2/models/skin-cancer-detector/infer", 3000) == 3000


def test_the_limit_is_a_setting_wired_into_the_app(tmp_path):
    app = create_app(Settings(model_dir=tmp_path, max_inflight_requests=3, max_inflight_bytes=5 * 2**20))
    limits = [middleware for middleware in app.user_middleware if middleware.cls is AdmissionLimit]
    assert len(limits) == 1
    assert limits[0].kwargs["max_inflight"] == 3 and limits[0].kwargs["max_inflight_bytes"] == 5 * 2**20
    assert "503" in app.openapi()["paths"]["/predict"]["post"]["responses"]
