"""Annotated dependencies: route functions take these, and never reach for globals."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, File, Request, Security, UploadFile
from fastapi.security import APIKeyHeader

from service.api.uploads import read_capped
from service.core.config import Settings
from service.core.metrics import ServiceMetrics
from service.errors import Unauthenticated
from service.fetch.safe_url import SafeUrlFetcher
from service.inference.dataplane import DataPlane
from service.inference.model import LesionModel


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_model(request: Request) -> LesionModel:
    return request.app.state.model


def get_metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


def get_fetcher(request: Request) -> SafeUrlFetcher:
    return request.app.state.fetcher


SettingsDep = Annotated[Settings, Depends(get_settings)]
ModelDep = Annotated[LesionModel, Depends(get_model)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
FetcherDep = Annotated[SafeUrlFetcher, Depends(get_fetcher)]


def get_ready_dataplane(request: Request, model: ModelDep) -> DataPlane:
    """The data plane, once the model is ready: refuse (503) before reading or fetching anything."""
    model.require_ready()
    return request.app.state.dataplane


ReadyDataPlaneDep = Annotated[DataPlane, Depends(get_ready_dataplane)]


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    path: str
    started: float  # perf_counter() when the request reached the app

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 3)


def get_request_context(request: Request) -> RequestContext:
    started = getattr(request.state, "started", None) or time.perf_counter()
    return RequestContext(request.state.request_id, request.url.path, started)


RequestContextDep = Annotated[RequestContext, Depends(get_request_context)]

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="Required on model endpoints when API_KEY is configured."
)


def require_api_key(settings: SettingsDep, api_key: Annotated[str | None, Security(api_key_header)]) -> None:
    expected = settings.api_key
    if expected is None:
        return
    # compare_digest: the comparison takes as long for a near miss as for a wild guess.
    if api_key is None or not secrets.compare_digest(api_key.encode(), expected.get_secret_value().encode()):
        raise Unauthenticated("send the API key in the X-API-Key header")


async def read_uploaded_image(
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="A dermoscopy image (JPEG, PNG, WebP, BMP, TIFF, GIF).")],
) -> bytes:
    return await read_capped(file, settings.max_upload_bytes)


UploadedImageDep = Annotated[bytes, Depends(read_uploaded_image)]
