"""The Open Inference Protocol v2 (KServe REST): health, model metadata and readiness, and inference.

`{name}` is the model id that /v1/model reports. Errors follow the protocol: `{"error": "..."}`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from contract.errors import InvalidImage
from service.api.deps import DataPlaneDep, ModelDep, SettingsDep, require_api_key
from service.api.encode import json_response
from service.api.open_inference import (
    InferRequest,
    InferResponse,
    ModelMetadata,
    encoded_images,
    error_response,
    infer_response,
    model_metadata,
    pixel_images,
    requested_outputs,
)
from service.errors import InvalidInferenceRequest, ServiceError, UnknownModel
from service.inference.dataplane import Assessment
from service.inference.model import LesionModel, ReadyModel

router = APIRouter(prefix="/v2", tags=["open inference protocol"])
model_router = APIRouter(prefix="/v2/models", tags=["open inference protocol"],
                         dependencies=[Depends(require_api_key)])
_ERROR = {"content": {"application/json": {"schema": {"type": "object", "properties": {"error": {"type": "string"}}}}}}


@router.get("/health/live")
async def read_server_live() -> dict:
    """The server process answers."""
    return {"live": True}


@router.get("/health/ready", responses={400: _ERROR})
async def read_server_ready(model: ModelDep) -> JSONResponse:
    """200 once the model is ready; the protocol's 4xx (400) until then."""
    return JSONResponse({"ready": model.ready}, status_code=200 if model.ready else 400)


@model_router.get("/{name}", response_model=ModelMetadata, responses={404: _ERROR, 503: _ERROR})
async def read_model_metadata(name: str, model: ModelDep) -> Response:
    """The model's name, version, and its input and output tensors."""
    try:
        ready = _named(model, name)
    except ServiceError as error:
        return error_response(error)
    contract = ready.bundle.contract
    return json_response(model_metadata(contract.model_name, contract.model_version, len(contract.output.classes)))


@model_router.get("/{name}/ready", responses={400: _ERROR, 404: _ERROR})
async def read_model_ready(name: str, model: ModelDep) -> JSONResponse:
    """200 with ready=true once this model serves; 400 (the protocol's 'not ready') before."""
    if name != _served_name(model):
        return error_response(UnknownModel(f"no model named {name!r}; this server serves {_served_name(model)!r}"))
    return JSONResponse({"name": name, "ready": model.ready}, status_code=200 if model.ready else 400)


@model_router.post("/{name}/infer", response_model=InferResponse, responses={400: _ERROR, 404: _ERROR, 503: _ERROR})
async def infer(name: str, request: Request, model: ModelDep, dataplane: DataPlaneDep,
                settings: SettingsDep) -> Response:
    """Classify the images of the `image` input: BYTES [N] (base64 files) or UINT8 [N, H, W, 3].

    Request `parameters` may carry `threshold` (0-1) or `operating_point` (decision | high_sensitivity).
    """
    try:
        ready = _named(model, name)
        body = await _parsed(request)
        requested_outputs(body)  # refuse an unknown output name before any work
        policy = ready.policy.for_request(body.operating_point, body.threshold)
        assessments = await _assess(body, ready, dataplane, settings.max_image_pixels, policy)
        contract = ready.bundle.contract
        answer = infer_response(body, contract.model_name, contract.model_version, contract.output.classes,
                                assessments)
    except (ServiceError, InvalidImage) as error:
        return error_response(error)
    return json_response(answer)


def _served_name(model: LesionModel) -> str | None:
    return model.require_ready().bundle.contract.model_name if model.ready else None


def _named(model: LesionModel, name: str) -> ReadyModel:
    ready = model.require_ready()  # 503 until loaded
    if name != ready.bundle.contract.model_name:
        raise UnknownModel(f"no model named {name!r}; this server serves {ready.bundle.contract.model_name!r}")
    return ready


async def _parsed(request: Request) -> InferRequest:
    try:
        return InferRequest.model_validate_json(await request.body())
    except ValidationError as error:
        found = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:5])
        raise InvalidInferenceRequest(f"not an inference request: {found}") from error


async def _assess(body: InferRequest, ready: ReadyModel, dataplane, max_pixels: int, policy) -> list[Assessment]:
    [tensor] = body.inputs
    if tensor.name != "image":
        raise InvalidInferenceRequest(f"the input is named 'image', not {tensor.name!r}")
    if tensor.datatype == "BYTES":
        outcomes = await dataplane.assess_batch(ready, policy, encoded_images(tensor))
    else:
        outcomes = await dataplane.assess_pixels(ready, policy, pixel_images(tensor, max_pixels))
    for outcome in outcomes:
        if isinstance(outcome, Exception):  # the protocol answers a request whole: one bad image fails it
            raise outcome
    return outcomes
