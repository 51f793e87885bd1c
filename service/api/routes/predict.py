"""Classification of one uploaded image, one image behind a URL, or a batch of uploads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Response, UploadFile

from service.api.api_key import require_api_key
from service.api.deps import (
    FHIR_MEDIA_TYPE,
    DataPlaneDep,
    FhirContextDep,
    ReadyModelDep,
    RequestContextDep,
    RequestPolicyDep,
    ResponseFormatDep,
    SettingsDep,
    UploadedImageDep,
    UrlImageDep,
    require_json,
)
from service.api.encode import batch_response, prediction_response
from service.api.fhir import fhir_response
from service.api.problems import problem_responses
from service.api.schemas import BatchResponse, PredictionResponse
from service.api.uploads import read_capped
from service.errors import PayloadTooLarge, TooManyFiles
from service.inference.dataplane import Assessment
from service.inference.model import ReadyModel

router = APIRouter(tags=["prediction"], dependencies=[Depends(require_api_key)])
FHIR_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {FHIR_MEDIA_TYPE: {"schema": {"type": "object", "description": "A FHIR R4 DiagnosticReport"}}}}}


@router.post("/predict", response_model=PredictionResponse,
             responses={**FHIR_RESPONSE, **problem_responses(400, 401, 406, 413, 415, 422, 503)})
async def predict_upload(ready: ReadyModelDep, policy: RequestPolicyDep, answer: ResponseFormatDep,
                         fhir: FhirContextDep, image: UploadedImageDep, dataplane: DataPlaneDep,
                         context: RequestContextDep) -> Response:
    """Classify one uploaded dermoscopy image (multipart field `file`): verdict, differential, warnings.

    `Accept: application/fhir+json` answers a FHIR R4 DiagnosticReport instead.
    """
    assessment = await dataplane.assess(ready, policy, image.data)
    return _answer(assessment, ready, answer, fhir, context)


@router.post("/predict-url", response_model=PredictionResponse,
             responses={**FHIR_RESPONSE, **problem_responses(400, 401, 406, 413, 415, 422, 502, 503, 504)})
async def predict_url(ready: ReadyModelDep, policy: RequestPolicyDep, answer: ResponseFormatDep,
                      fhir: FhirContextDep, image: UrlImageDep, dataplane: DataPlaneDep,
                      context: RequestContextDep) -> Response:
    """Classify the image at a public http(s) URL; private, loopback and link-local targets are refused."""
    assessment = await dataplane.assess(ready, policy, image.data)
    return _answer(assessment, ready, answer, fhir, context, fetch_ms=image.fetch_ms)


def _answer(assessment: Assessment, ready: ReadyModel, answer: str, fhir, context, fetch_ms: float | None = None):
    if answer == FHIR_MEDIA_TYPE:
        return fhir_response(assessment, context, fhir, ready.model_sha256)
    return prediction_response(assessment, context, fetch_ms=fetch_ms)


@router.post("/predict/batch", response_model=BatchResponse, dependencies=[Depends(require_json)],
             responses=problem_responses(400, 401, 406, 413, 422, 503))
async def predict_batch(
    files: Annotated[list[UploadFile], File(description="Images, as repeated multipart fields `files`.")],
    ready: ReadyModelDep,
    policy: RequestPolicyDep,
    settings: SettingsDep,
    dataplane: DataPlaneDep,
    context: RequestContextDep,
) -> Response:
    """Classify up to MAX_BATCH_FILES images in one engine call; a bad item fails alone."""
    if len(files) > settings.max_batch_files:
        raise TooManyFiles(f"{len(files)} files sent; the limit is {settings.max_batch_files} per batch")
    payloads = [await _read_or_error(file, settings.max_upload_bytes) for file in files]
    readable = [payload for payload in payloads if isinstance(payload, bytes)]
    assessed = iter(await dataplane.assess_batch(ready, policy, readable) if readable else [])
    outcomes = [next(assessed) if isinstance(payload, bytes) else payload for payload in payloads]
    return batch_response([file.filename for file in files], outcomes, ready.identity, context)


async def _read_or_error(file: UploadFile, limit: int) -> bytes | PayloadTooLarge:
    try:
        return await read_capped(file, limit)
    except PayloadTooLarge as error:  # one oversized item must not fail the batch
        return error
