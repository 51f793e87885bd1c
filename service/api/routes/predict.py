"""Classification of one uploaded image, one image behind a URL, or a batch of uploads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Response, UploadFile

from service.api.deps import (
    DataPlaneDep,
    ReadyModelDep,
    RequestContextDep,
    SettingsDep,
    UploadedImageDep,
    UrlImageDep,
    require_api_key,
)
from service.api.encode import batch_response, prediction_response
from service.api.problems import problem_responses
from service.api.schemas import BatchResponse, PredictionResponse
from service.api.uploads import read_capped
from service.errors import PayloadTooLarge, TooManyFiles

router = APIRouter(tags=["prediction"], dependencies=[Depends(require_api_key)])


@router.post("/predict", response_model=PredictionResponse, responses=problem_responses(400, 401, 413, 415, 422, 503))
async def predict_upload(ready: ReadyModelDep, image: UploadedImageDep, dataplane: DataPlaneDep,
                         context: RequestContextDep) -> Response:
    """Classify one uploaded dermoscopy image (multipart field `file`): verdict, differential, warnings."""
    assessment = await dataplane.assess(ready, image.data)
    return prediction_response(assessment, context)


@router.post("/predict-url", response_model=PredictionResponse,
             responses=problem_responses(400, 401, 413, 415, 422, 502, 503, 504))
async def predict_url(ready: ReadyModelDep, image: UrlImageDep, dataplane: DataPlaneDep,
                      context: RequestContextDep) -> Response:
    """Classify the image at a public http(s) URL; private, loopback and link-local targets are refused."""
    assessment = await dataplane.assess(ready, image.data)
    return prediction_response(assessment, context, fetch_ms=image.fetch_ms)


@router.post("/predict/batch", response_model=BatchResponse, responses=problem_responses(400, 401, 413, 422, 503))
async def predict_batch(
    files: Annotated[list[UploadFile], File(description="Images, as repeated multipart fields `files`.")],
    ready: ReadyModelDep,
    settings: SettingsDep,
    dataplane: DataPlaneDep,
    context: RequestContextDep,
) -> Response:
    """Classify up to MAX_BATCH_FILES images in one engine call; a bad item fails alone."""
    if len(files) > settings.max_batch_files:
        raise TooManyFiles(f"{len(files)} files sent; the limit is {settings.max_batch_files} per batch")
    payloads = [await _read_or_error(file, settings.max_upload_bytes) for file in files]
    readable = [payload for payload in payloads if isinstance(payload, bytes)]
    assessed = iter(await dataplane.assess_batch(ready, readable) if readable else [])
    outcomes = [next(assessed) if isinstance(payload, bytes) else payload for payload in payloads]
    return batch_response([file.filename for file in files], outcomes, ready.identity, context)


async def _read_or_error(file: UploadFile, limit: int) -> bytes | PayloadTooLarge:
    try:
        return await read_capped(file, limit)
    except PayloadTooLarge as error:  # one oversized item must not fail the batch
        return error
