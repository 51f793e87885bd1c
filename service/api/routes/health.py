"""Liveness and readiness, KServe style: alive as soon as the process serves; ready once the model is."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import ModelDep
from service.api.problems import problem_responses
from service.api.schemas import Liveness, Readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Liveness)
async def read_liveness() -> Liveness:
    """The process is up (says nothing about the model)."""
    return Liveness()


@router.get("/readyz", response_model=Readiness, responses=problem_responses(503))
async def read_readiness(model: ModelDep) -> Readiness:
    """The model is loaded and warmed up; 503 problem (saying why) until then."""
    ready = model.require_ready()
    return Readiness(model_version=ready.bundle.contract.model_version, engine=ready.bundle.engine.name)
