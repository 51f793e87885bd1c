"""The Open Inference Protocol (KServe v2 REST): its request and response shapes, and the conversions.

Inputs: `image`, either BYTES of shape [N] (each the image file's bytes, base64 in JSON, as KServe's image
examples send them; `{"b64": ...}` items are accepted too) or UINT8 of shape [N, H, W, 3] (RGB pixels, the
data flattened in row-major order). Outputs: `probability` FP32 [N, 1], `label` BYTES [N, 1], `differential`
FP32 [N, 7] (columns in the order of its `classes` parameter) and `warnings` BYTES [N, 1] (JSON lists).
Errors are `{"error": "..."}` with the status the service's problem table gives the same error.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Literal

import numpy as np
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contract.errors import ImageTooLarge
from service.api.problems import kind_of
from service.errors import InvalidInferenceRequest, PayloadTooLarge
from service.inference.dataplane import Assessment
from service.inference.decision import OperatingPointName

INPUT_NAME = "image"
OUTPUTS = ("probability", "label", "differential", "warnings")


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class InferInput(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(max_length=64)
    shape: list[int] = Field(min_length=1, max_length=4)
    datatype: Literal["BYTES", "UINT8"]
    data: list


class RequestedOutput(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(max_length=64)


class RequestParameters(BaseModel):
    model_config = ConfigDict(extra="allow")

    threshold: float | None = Field(None, ge=0.0, le=1.0)
    operating_point: OperatingPointName | None = None


class InferRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | None = Field(None, max_length=256)
    parameters: RequestParameters = Field(default_factory=RequestParameters)
    inputs: list[InferInput] = Field(min_length=1, max_length=1)
    outputs: list[RequestedOutput] | None = None

    @property
    def threshold(self) -> float | None:
        return self.parameters.threshold

    @property
    def operating_point(self) -> OperatingPointName | None:
        return self.parameters.operating_point


class InferOutput(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    data: list
    parameters: dict[str, object] | None = None


class InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[InferOutput]


def error_response(error: Exception) -> JSONResponse:
    """The protocol's error body, with the status the service's problem table maps this error to."""
    return JSONResponse({"error": str(error)}, status_code=kind_of(error).status)


def model_metadata(name: str, version: str, classes: int) -> ModelMetadata:
    return ModelMetadata(
        name=name, versions=[version], platform="litert",
        inputs=[TensorMetadata(name=INPUT_NAME, datatype="BYTES", shape=[-1]),
                TensorMetadata(name=INPUT_NAME, datatype="UINT8", shape=[-1, -1, -1, 3])],
        outputs=[TensorMetadata(name="probability", datatype="FP32", shape=[-1, 1]),
                 TensorMetadata(name="label", datatype="BYTES", shape=[-1, 1]),
                 TensorMetadata(name="differential", datatype="FP32", shape=[-1, classes]),
                 TensorMetadata(name="warnings", datatype="BYTES", shape=[-1, 1])],
    )


@dataclass(frozen=True)
class Limits:
    max_images: int  # MAX_BATCH_FILES
    max_file_bytes: int  # MAX_UPLOAD_BYTES, per encoded image
    max_pixels: int  # MAX_IMAGE_PIXELS, per image


@dataclass(frozen=True)
class ParsedInference:
    """A validated request, its images decoded out of the JSON (which is then no longer held)."""

    request: InferRequest  # without its input data
    encoded: list[bytes] | None  # BYTES input: the image files
    pixels: list[np.ndarray] | None  # UINT8 input: (H, W, 3) arrays


def parse_inference(raw: bytes, limits: Limits) -> ParsedInference:
    """Body bytes -> a request whose images are ready to assess; CPU-bound, so it runs in a worker thread."""
    try:
        request = InferRequest.model_validate_json(raw)
    except ValidationError as error:
        found = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:5])
        raise InvalidInferenceRequest(f"not an inference request: {found}") from error
    requested_outputs(request)  # refuse an unknown output name before any work
    [tensor] = request.inputs
    if tensor.name != INPUT_NAME:
        raise InvalidInferenceRequest(f"the input is named {INPUT_NAME!r}, not {tensor.name!r}")
    encoded = encoded_images(tensor, limits) if tensor.datatype == "BYTES" else None
    pixels = pixel_images(tensor, limits) if tensor.datatype == "UINT8" else None
    tensor.data.clear()  # the decoded images are all that is kept
    return ParsedInference(request, encoded, pixels)


def encoded_images(tensor: InferInput, limits: Limits) -> list[bytes]:
    """BYTES [N]: each item the image file, base64 (or {"b64": ...})."""
    count = len(tensor.data)
    if len(tensor.shape) != 1 or tensor.shape[0] != count or not 1 <= count <= limits.max_images:
        raise InvalidInferenceRequest(f"a BYTES `{INPUT_NAME}` input has shape [N] with N = len(data), 1 to "
                                      f"{limits.max_images}; got shape {tensor.shape} and {count} items")
    decoded = []
    for index, item in enumerate(tensor.data):
        text = item.get("b64") if isinstance(item, dict) else item
        if not isinstance(text, str):
            raise InvalidInferenceRequest(f"item {index} of `{INPUT_NAME}` is not a base64 string")
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as error:
            raise InvalidInferenceRequest(f"item {index} of `{INPUT_NAME}` is not valid base64") from error
        if len(data) > limits.max_file_bytes:
            raise PayloadTooLarge(f"image {index} is {len(data)} bytes; the limit is {limits.max_file_bytes}")
        decoded.append(data)
    return decoded


def pixel_images(tensor: InferInput, limits: Limits) -> list[np.ndarray]:
    """UINT8 [N, H, W, 3]: RGB pixels, row-major."""
    shape = tensor.shape
    if len(shape) != 4 or shape[3] != 3 or not 1 <= shape[0] <= limits.max_images or min(shape) < 1:
        raise InvalidInferenceRequest(f"a UINT8 `{INPUT_NAME}` input has shape [N, H, W, 3] with N from 1 to "
                                      f"{limits.max_images}; got {shape}")
    if shape[1] * shape[2] > limits.max_pixels:  # the same refusal, and 413, as an uploaded image this large
        raise ImageTooLarge(f"image is {shape[2]}x{shape[1]} = {shape[1] * shape[2]} pixels; the limit is "
                            f"{limits.max_pixels}")
    try:
        values = np.asarray(tensor.data).reshape(-1)  # ints stay ints; floats, bools, huge or nested values do not
    except ValueError as error:  # ragged nesting
        raise InvalidInferenceRequest(f"`{INPUT_NAME}` data must be a flat or regular list of integers") from error
    expected = int(np.prod(shape))
    if values.dtype.kind not in "iu" or values.size != expected:
        raise InvalidInferenceRequest(f"`{INPUT_NAME}` needs {expected} integers for shape {shape}; got "
                                      f"{values.size} values of type {values.dtype}")
    if values.size and (values.min() < 0 or values.max() > 255):
        raise InvalidInferenceRequest(f"`{INPUT_NAME}` values must lie in 0-255")
    return list(values.astype(np.uint8).reshape(shape))


def infer_response(request: InferRequest, name: str, version: str, classes: tuple[str, ...],
                   assessments: list[Assessment]) -> InferResponse:
    count = len(assessments)
    ordered = [{d.code: d.probability for d in a.differential} for a in assessments]
    produced = {
        "probability": InferOutput(name="probability", datatype="FP32", shape=[count, 1],
                                   data=[a.probability for a in assessments]),
        "label": InferOutput(name="label", datatype="BYTES", shape=[count, 1],
                             data=[a.verdict.label for a in assessments],
                             parameters={"threshold": assessments[0].verdict.threshold,
                                         "threshold_source": assessments[0].threshold_source}),
        "differential": InferOutput(name="differential", datatype="FP32", shape=[count, len(classes)],
                                    data=[row[code] for row in ordered for code in classes],
                                    parameters={"classes": list(classes)}),
        "warnings": InferOutput(name="warnings", datatype="BYTES", shape=[count, 1],
                                data=[json.dumps([{"code": w.code.value, "detail": w.detail} for w in a.warnings])
                                      for a in assessments]),
    }
    return InferResponse(model_name=name, model_version=version, id=request.id,
                         outputs=[produced[output] for output in requested_outputs(request)])


def requested_outputs(request: InferRequest) -> list[str]:
    """The outputs the request asks for (all, by default); InvalidInferenceRequest for an unknown name."""
    wanted = [output.name for output in request.outputs] if request.outputs else list(OUTPUTS)
    unknown = [output for output in wanted if output not in OUTPUTS]
    if unknown:
        raise InvalidInferenceRequest(f"unknown output(s) {unknown[:4]}; this model has {list(OUTPUTS)}")
    return wanted
