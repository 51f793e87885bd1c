"""Admission control: beyond MAX_INFLIGHT_REQUESTS model requests, new ones are shed with a 503 problem."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from service.api.admission import AdmissionLimit
from service.core.config import Settings
from service.main import create_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the service runs on uvicorn's asyncio loop


def gated_app(gate: asyncio.Event, limit: int) -> AdmissionLimit:
    async def slow_model(request: Request) -> JSONResponse:
        body = await request.body()
        await gate.wait()
        return JSONResponse({"bytes": len(body)})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "alive"})

    routes = [Route("/predict", slow_model, methods=["POST"]), Route("/healthz", health)]
    return AdmissionLimit(Starlette(routes=routes), max_inflight=limit)


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


def test_the_limit_is_a_setting_wired_into_the_app(tmp_path):
    app = create_app(Settings(model_dir=tmp_path, max_inflight_requests=3))
    limits = [middleware for middleware in app.user_middleware if middleware.cls is AdmissionLimit]
    assert len(limits) == 1 and limits[0].kwargs == {"max_inflight": 3}
    assert "503" in app.openapi()["paths"]["/predict"]["post"]["responses"]
