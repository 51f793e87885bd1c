"""The one place where errors become HTTP: RFC 7807 application/problem+json responses.

Domain errors (service.errors, contract.errors) say what went wrong; this table says which
status that is. Unexpected exceptions become a 500 problem without a stack trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from contract.errors import ImageTooLarge, InvalidImage, UnsupportedImageFormat
from service import errors
from service.api.schemas import Problem

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:skin-cancer-detector:problem:"


@dataclass(frozen=True)
class ProblemKind:
    status: int
    slug: str
    title: str


# Looked up along the exception's MRO, so a subclass may refine its parent's entry.
_KINDS: dict[type[Exception], ProblemKind] = {
    InvalidImage: ProblemKind(422, "invalid-image", "Invalid image"),
    UnsupportedImageFormat: ProblemKind(415, "unsupported-image-format", "Unsupported image format"),
    ImageTooLarge: ProblemKind(413, "image-too-large", "Image dimensions too large"),
    errors.ModelNotReady: ProblemKind(503, "model-not-ready", "Model not ready"),
    errors.Overloaded: ProblemKind(503, "overloaded", "Server busy"),
    errors.OutOfDistribution: ProblemKind(422, "out-of-distribution", "Not an image the model knows"),
    errors.NotAcceptable: ProblemKind(406, "not-acceptable", "Not acceptable"),
    errors.InvalidInferenceRequest: ProblemKind(400, "invalid-inference-request", "Invalid inference request"),
    errors.UnknownModel: ProblemKind(404, "unknown-model", "Unknown model"),
    errors.InvalidOperatingPoint: ProblemKind(422, "invalid-operating-point", "Operating point not available"),
    errors.EngineFailure: ProblemKind(500, "engine-failure", "Model runtime failure"),
    errors.Unauthenticated: ProblemKind(401, "unauthenticated", "Missing or invalid API key"),
    errors.PayloadTooLarge: ProblemKind(413, "payload-too-large", "Payload too large"),
    errors.RemoteImageTooLarge: ProblemKind(413, "remote-image-too-large", "Remote image too large"),
    errors.TooManyFiles: ProblemKind(413, "too-many-files", "Too many files"),
    errors.MissingImage: ProblemKind(422, "missing-image", "No image given"),
    errors.UrlRefused: ProblemKind(400, "url-refused", "URL refused"),
    errors.TooManyRedirects: ProblemKind(502, "too-many-redirects", "Too many redirects"),
    errors.UrlFetchFailed: ProblemKind(502, "url-fetch-failed", "Could not fetch the URL"),
    errors.UrlFetchTimeout: ProblemKind(504, "url-fetch-timeout", "URL fetch timed out"),
    errors.RemoteContentRejected: ProblemKind(415, "remote-content-rejected", "Remote content not an image"),
}
_INTERNAL = ProblemKind(500, "internal-error", "Internal server error")
_EXTRA_HEADERS: dict[int, dict[str, str]] = {
    401: {"WWW-Authenticate": 'ApiKey header="X-API-Key"'},
    503: {"Retry-After": "10"},
}


def kind_of(error: Exception) -> ProblemKind:
    for cls in type(error).__mro__:
        if cls in _KINDS:
            return _KINDS[cls]
    return _INTERNAL


def describe(error: Exception, *, instance: str | None, request_id: str | None) -> Problem:
    """The problem body for a domain error (also used for one failed item of a batch)."""
    kind = kind_of(error)
    detail = str(error) if kind is not _INTERNAL else "an unexpected error occurred; quote the request_id"
    return Problem(
        type=TYPE_PREFIX + kind.slug,
        title=kind.title,
        status=kind.status,
        detail=detail,
        instance=instance,
        request_id=request_id,
    )


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    merged = {**_EXTRA_HEADERS.get(problem.status, {}), **(headers or {})}
    return JSONResponse(
        problem.model_dump(exclude_none=True), status_code=problem.status, headers=merged,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def error_response(error: Exception, *, instance: str | None, request_id: str | None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return problem_response(describe(error, instance=instance, request_id=request_id), headers=headers)


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    return error_response(error, instance=request.url.path, request_id=request_id_of(request))


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    phrase = HTTPStatus(error.status_code).phrase
    detail = error.detail if isinstance(error.detail, str) and error.detail != phrase else _routing_detail(
        error.status_code, request)
    problem = Problem(
        title=phrase, status=error.status_code, detail=detail,
        instance=request.url.path, request_id=request_id_of(request),
    )
    return problem_response(problem, headers=dict(error.headers or {}))


def _routing_detail(status: int, request: Request) -> str:
    """What the router's bare 404/405 meant, so every problem body says what went wrong in its own words."""
    if status == 404:
        return f"nothing is served at {request.url.path}; /docs lists the API"
    if status == 405:
        return f"{request.url.path} does not accept {request.method}"
    return HTTPStatus(status).description


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # Only where and what: echoing the offending input back could reflect large or sensitive data.
    found = [
        {"loc": list(item.get("loc", ())), "msg": item.get("msg", ""), "type": item.get("type", "")}
        for item in error.errors()
    ]
    problem = Problem(
        type=TYPE_PREFIX + "validation-error",
        title="Request validation failed",
        status=422,
        detail="; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in found),
        instance=request.url.path,
        request_id=request_id_of(request),
        errors=found,
    )
    return problem_response(problem)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.ServiceError, _domain_error)
    app.add_exception_handler(InvalidImage, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


def problem_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI `responses=` entries documenting problem+json bodies for the given statuses."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
