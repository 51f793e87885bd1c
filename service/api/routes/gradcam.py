"""Grad-CAM: the prediction plus a heatmap of where the model looked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile

from service.api.deps import FetcherDep, ReadyDataPlaneDep, RequestContextDep, SettingsDep, require_api_key
from service.api.encode import gradcam_response
from service.api.problems import problem_responses
from service.api.schemas import GradcamResponse
from service.api.uploads import read_capped
from service.errors import MissingImage

router = APIRouter(tags=["explanation"], dependencies=[Depends(require_api_key)])


@router.post(
    "/gradcam",
    response_model=GradcamResponse,
    responses=problem_responses(400, 401, 413, 415, 422, 502, 503, 504),
)
async def explain_image(
    dataplane: ReadyDataPlaneDep,
    fetcher: FetcherDep,
    settings: SettingsDep,
    context: RequestContextDep,
    file: Annotated[UploadFile | None, File(description="The image; send this or `url`, not both.")] = None,
    url: Annotated[str | None, Form(max_length=2048, description="Public http(s) URL of the image.")] = None,
    include_raw: Annotated[bool, Query(description="Also return the raw G x G Grad-CAM grid.")] = False,
) -> GradcamResponse:
    """Classify one image and return its Grad-CAM overlay (base64 PNG) on the resized input.

    Send multipart/form-data with either the file `file` or the field `url` (a form-encoded `url=` body
    works too); JSON bodies are not accepted here. A `url` goes through the same SSRF guard as /predict-url.
    """
    if (file is None) == (url is None or not url.strip()):  # neither, or both
        raise MissingImage("send exactly one of the multipart file `file` or the form field `url`")
    fetch_ms = None
    if file is not None:
        data = await read_capped(file, settings.max_upload_bytes)
    else:
        fetched = await fetcher.fetch(url)
        data, fetch_ms = fetched.data, fetched.fetch_ms
    explanation = await dataplane.explain(data)
    return gradcam_response(explanation, context, include_raw=include_raw, fetch_ms=fetch_ms)
