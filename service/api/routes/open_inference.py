"""The Open Inference Protocol v2 (KServe REST): health, model metadata and readiness, and inference.

`{name}` is the model id that /v1/model reports. Errors follow the protocol: `{"error": "..."}`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from contract.errors import InvalidImage
from service.api.api_key import require_api_key
from service.api.deps import DataPlaneDep, ModelDep, SettingsDep
from service.api.encode import json_response
from service.api.open_inference import (
    InferResponse,
    Limits,
    ModelMetadata,
    error_response,
    infer_response,
    model_metadata,
    parse_inference,
)
from service.api.problems import problem_responses
from service.errors import ModelNotReady, ServiceError, UnknownModel
from service.inference.dataplane import Assessment
from service.inference.model import LesionModel, ReadyModel

router = APIRouter(prefix="/v2", tags=["open inference protocol"])
model_router = APIRouter(prefix="/v2/models", tags=["open inference protocol"],
                         dependencies=[Depends(require_api_key)])
_ERROR_SCHEMA = {"schema": {"type": "object", "properties": {"error": {"type": "string"}}}}
# The protocol answers "not ready" with the readiness body itself, under a 4xx status
_NOT_READY: dict[int | str, dict] = {400: {"description": "Not ready", "content": {"application/json": {"schema": {
    "type": "object", "required": ["ready"],
    "properties": {"name": {"type": "string"}, "ready": {"type": "boolean", "const": False}}}}}}}


def _responses(*protocol: int, problems: tuple[int, ...] = (), not_ready: bool = False) -> dict[int | str, dict]:
    """The protocol's {"error"} answers (or, with not_ready, its 400 readiness body), and the problem+json ones
    the middleware and the key check give."""
    documented: dict[int | str, dict] = {
        status: {"description": "Open Inference error", "content": {"application/json": dict(_ERROR_SCHEMA)}}
        for status in protocol}
    if not_ready:
        documented.update(_NOT_READY)
    for status, entry in problem_responses(*problems).items():
        if status in documented:
            documented[status]["content"].update(entry["content"])
        else:
            documented[status] = entry
    return documented


@router.get("/health/live")
async def read_server_live() -> dict:
    """The server process answers."""
    return {"live": True}


@router.get("/health/ready", responses=_responses(not_ready=True))
async def read_server_ready(model: ModelDep) -> JSONResponse:
    """200 once the model is ready; the protocol's 4xx (400) until then."""
    return JSONResponse({"ready": model.ready}, status_code=200 if model.ready else 400)


@model_router.get("/{name}", response_model=ModelMetadata, responses=_responses(404, 503, problems=(401,)))
async def read_model_metadata(name: str, model: ModelDep) -> Response:
    """The model's name, version, and its input and output tensors."""
    try:
        ready = _named(model, name)
    except ServiceError as error:
        return error_response(error)
    contract = ready.bundle.contract
    return json_response(model_metadata(contract.model_name, contract.model_version, len(contract.output.classes)))


@model_router.get("/{name}/ready", responses=_responses(404, problems=(401,), not_ready=True))
async def read_model_ready(name: str, model: ModelDep) -> JSONResponse:
    """200 with ready=true once this model serves; 400 with ready=false (the protocol's 'not ready') before."""
    try:  # one snapshot: a shutdown between a check and a read must still answer in the protocol's shape
        served = model.require_ready().bundle.contract.model_name
    except ModelNotReady:  # the bundle, and so the model's name, is not known until it has loaded
        return JSONResponse({"name": name, "ready": False}, status_code=400)
    if name != served:
        return error_response(UnknownModel(f"no model named {name!r}; this server serves {served!r}"))
    return JSONResponse({"name": name, "ready": True})


@model_router.post("/{name}/infer", response_model=InferResponse,
                   responses=_responses(400, 404, 413, 415, 422, 503, problems=(401, 413, 503)))
async def infer(name: str, request: Request, model: ModelDep, dataplane: DataPlaneDep,
                settings: SettingsDep) -> Response:
    """Classify the images of the `image` input: BYTES [N] (base64 files) or UINT8 [N, H, W, 3].

    Request `parameters` may carry `threshold` (0-1) or `operating_point` (decision | high_sensitivity).
    """
    limits = Limits(settings.max_batch_files, settings.max_upload_bytes, settings.max_image_pixels)
    try:
        ready = _named(model, name)
        parsed = await dataplane.offload(parse_inference, await request.body(), limits)
        body = parsed.request
        policy = ready.policy.for_request(body.operating_point, body.threshold)
        if parsed.encoded is not None:
            outcomes = await dataplane.assess_batch(ready, policy, parsed.encoded)
        else:
            outcomes = await dataplane.assess_pixels(ready, policy, parsed.pixels or [])
        contract = ready.bundle.contract
        answer = infer_response(body, contract.model_name, contract.model_version, contract.output.classes,
                                _all_assessed(outcomes))
    except (ServiceError, InvalidImage) as error:
        return error_response(error)
    return json_response(answer)


def _named(model: LesionModel, name: str) -> ReadyModel:
    ready = model.require_ready()  # 503 until loaded
    if name != ready.bundle.contract.model_name:
        raise UnknownModel(f"no model named {name!r}; this server serves {ready.bundle.contract.model_name!r}")
    return ready


def _all_assessed(outcomes: list) -> list[Assessment]:
    for outcome in outcomes:
        if isinstance(outcome, Exception):  # the protocol answers a request whole: one bad image fails it
            raise outcome
    return outcomes
