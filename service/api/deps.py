"""Annotated dependencies: route functions take these, and never reach for globals.

Every dependency is `async def` although none awaits: FastAPI runs a plain `def` dependency in a worker
thread, and a dozen thread hops per request cost more than the work they guard. None of them blocks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, File, Form, Header, Query, Request, UploadFile

from contract.preprocessing import ACCEPTED_FORMATS
from service.api.schemas import UrlRequest
from service.api.uploads import read_capped
from service.core.config import Settings
from service.core.metrics import ServiceMetrics
from service.errors import MissingImage, NotAcceptable
from service.fetch.safe_url import SafeUrlFetcher
from service.inference.dataplane import DataPlane
from service.inference.decision import DecisionPolicy, OperatingPointName
from service.inference.model import LesionModel, ReadyModel

ACCEPTED_FORMAT_NAMES = ", ".join(sorted(ACCEPTED_FORMATS))  # MPO: the JPEG variant many phones save


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_model(request: Request) -> LesionModel:
    return request.app.state.model


async def get_metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


async def get_fetcher(request: Request) -> SafeUrlFetcher:
    return request.app.state.fetcher


SettingsDep = Annotated[Settings, Depends(get_settings)]
ModelDep = Annotated[LesionModel, Depends(get_model)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
FetcherDep = Annotated[SafeUrlFetcher, Depends(get_fetcher)]


async def get_dataplane(request: Request) -> DataPlane:
    return request.app.state.dataplane


async def get_ready_model(request: Request) -> ReadyModel:
    """The model's snapshot for this request, taken once; 503 (before any URL is fetched) until it is ready."""
    model: LesionModel = request.app.state.model  # from the app's state, not a sub-dependency: see image_from_upload
    return model.require_ready()


DataPlaneDep = Annotated[DataPlane, Depends(get_dataplane)]
ReadyModelDep = Annotated[ReadyModel, Depends(get_ready_model)]


async def get_request_policy(
    ready: ReadyModelDep,
    operating_point: Annotated[OperatingPointName | None, Query(
        description="decision: the bundle's tuned threshold (default); high_sensitivity: its second, lower one.",
    )] = None,
    threshold: Annotated[float | None, Query(
        ge=0.0, le=1.0, description="Your own threshold for this request, 0-1 (e.g. 0.61, a stricter one).",
    )] = None,
) -> DecisionPolicy:
    """The decision policy of this request: the service's, unless the request names its own operating point."""
    return ready.policy.for_request(operating_point, threshold)


RequestPolicyDep = Annotated[DecisionPolicy, Depends(get_request_policy)]

JSON_MEDIA_TYPE = "application/json"
FHIR_MEDIA_TYPE = "application/fhir+json"
JSON_RANGES = frozenset({JSON_MEDIA_TYPE, "application/*", "*/*"})  # Accept values that a JSON answer satisfies


async def get_response_format(accept: Annotated[str | None, Header(include_in_schema=False)] = None) -> str:
    """application/json (the default) or application/fhir+json, from the Accept header; 406 for anything else."""
    offered = _by_preference(accept or "")
    for media_type in offered or ["*/*"]:
        if media_type == FHIR_MEDIA_TYPE:
            return FHIR_MEDIA_TYPE
        if media_type in JSON_RANGES:
            return JSON_MEDIA_TYPE
    raise NotAcceptable(f"this endpoint answers {JSON_MEDIA_TYPE} or {FHIR_MEDIA_TYPE}; the request accepts "
                        f"only {', '.join(offered)}")


def _by_preference(accept: str) -> list[str]:
    """Media types of an Accept header, highest q first (ties keep their order); q=0 means 'not this'."""
    ranked = []
    for position, part in enumerate(piece for piece in accept.split(",") if piece.strip()):
        media_type, *params = (item.strip() for item in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, position, media_type.lower()))
    return [media_type for _, _, media_type in sorted(ranked)]


ResponseFormatDep = Annotated[str, Depends(get_response_format)]


async def require_json(accept: Annotated[str | None, Header(include_in_schema=False)] = None) -> None:
    """For endpoints that answer JSON only: 406 unless the Accept header allows JSON somewhere."""
    offered = _by_preference(accept or "") or ["*/*"]
    if not any(media_type in JSON_RANGES for media_type in offered):
        raise NotAcceptable(f"this endpoint answers {JSON_MEDIA_TYPE} only (send images one by one for FHIR "
                            f"reports); the request accepts only {', '.join(offered)}")


@dataclass(frozen=True)
class FhirContext:
    """What a FHIR answer passes through from the request."""

    subject: str | None
    identifier: str | None


async def get_fhir_context(
    subject: Annotated[str | None, Query(
        max_length=128, pattern=r"^[A-Za-z]{1,64}/[A-Za-z0-9\-\.]{1,64}$",
        description="FHIR answers only: a reference for DiagnosticReport.subject, e.g. Patient/123.",
    )] = None,
    identifier: Annotated[str | None, Query(
        max_length=128, pattern=r"^[\x21-\x7e]+$",
        description="FHIR answers only: a DiagnosticReport.identifier value (e.g. your order number).",
    )] = None,
) -> FhirContext:
    return FhirContext(subject, identifier)


FhirContextDep = Annotated[FhirContext, Depends(get_fhir_context)]


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    path: str
    started: float  # perf_counter() when the request reached the app

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 3)


async def get_request_context(request: Request) -> RequestContext:
    started = getattr(request.state, "started", None) or time.perf_counter()
    return RequestContext(request.state.request_id, request.url.path, started)


RequestContextDep = Annotated[RequestContext, Depends(get_request_context)]

@dataclass(frozen=True)
class SourcedImage:
    """The image bytes a request names, however it named them."""

    data: bytes
    fetch_ms: float | None = None  # set when the bytes came from a URL


async def obtain_image(settings: Settings, fetcher: SafeUrlFetcher, file: UploadFile | None,
                       url: str | None) -> SourcedImage:
    """The one way image bytes enter: an upload read under the byte cap, or a URL through the SSRF guard."""
    if file is not None:
        return SourcedImage(await read_capped(file, settings.max_upload_bytes))
    fetched = await fetcher.fetch(url or "")
    return SourcedImage(fetched.data, fetched.fetch_ms)


async def image_from_upload(
    request: Request,
    file: Annotated[UploadFile, File(description=f"A dermoscopy image ({ACCEPTED_FORMAT_NAMES}).")],
) -> SourcedImage:
    # The settings and fetcher come from the app's state, not from sub-dependencies: FastAPI resolves every node
    # of a route's dependency tree on every request, cached or not, and this path is the hottest. Nor does an
    # upload need a readiness check of its own: the routes that take it list ReadyModelDep first.
    settings: Settings = request.app.state.settings
    fetcher: SafeUrlFetcher = request.app.state.fetcher
    return await obtain_image(settings, fetcher, file, None)


async def image_from_json_url(ready: ReadyModelDep, settings: SettingsDep, fetcher: FetcherDep,
                              body: UrlRequest) -> SourcedImage:
    return await obtain_image(settings, fetcher, None, body.url)


async def image_from_form(
    ready: ReadyModelDep,
    settings: SettingsDep,
    fetcher: FetcherDep,
    file: Annotated[UploadFile | None, File(description="The image; send this or `url`, not both.")] = None,
    url: Annotated[str | None, Form(max_length=2048, description="Public http(s) URL of the image.")] = None,
) -> SourcedImage:
    if (file is None) == (url is None or not url.strip()):  # neither, or both
        raise MissingImage("send exactly one of the multipart file `file` or the form field `url`")
    return await obtain_image(settings, fetcher, file, url)


UploadedImageDep = Annotated[SourcedImage, Depends(image_from_upload)]
UrlImageDep = Annotated[SourcedImage, Depends(image_from_json_url)]
FormImageDep = Annotated[SourcedImage, Depends(image_from_form)]
