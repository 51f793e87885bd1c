"""Prometheus exposition."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.api.deps import MetricsDep

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def read_metrics(metrics: MetricsDep) -> Response:
    """Request counts and latencies by route, inference latency, and the model-ready gauge."""
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
