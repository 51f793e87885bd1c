"""The API key: one rule, enforced before any byte of a request body is read.

FastAPI parses a route's multipart form before it solves the route's dependencies, so a key checked only as
a dependency would let a keyless client make the server receive and spool a whole upload (a batch: up to
MAX_BATCH_FILES x MAX_UPLOAD_BYTES) before answering 401. `ApiKeyGate` answers from the headers alone, on
the paths of the routes that depend on `require_api_key`. The dependency stays on those routers: OpenAPI
shows the scheme, and a route added to them is guarded even if the gate were built without its path.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from typing import Annotated

from fastapi import APIRouter, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.drain import refuse
from service.api.scope import header, route_path
from service.core.config import Settings
from service.errors import Unauthenticated

API_KEY_HEADER = "X-API-Key"

api_key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="Required on model endpoints when API_KEY is configured."
)


def check_key(presented: str | None, expected: SecretStr | None) -> None:
    """Pass when no key is configured or `presented` is the key; raise Unauthenticated otherwise."""
    if expected is None:
        return
    # compare_digest: the comparison takes as long for a near miss as for a wild guess.
    if presented is None or not secrets.compare_digest(presented.encode(), expected.get_secret_value().encode()):
        raise Unauthenticated(f"send the API key in the {API_KEY_HEADER} header")


async def require_api_key(request: Request, api_key: Annotated[str | None, Security(api_key_header)]) -> None:
    settings: Settings = request.app.state.settings  # not a sub-dependency: see deps.image_from_upload
    check_key(api_key, settings.api_key)


def keyed_paths(routers: Iterable[APIRouter]) -> tuple[re.Pattern[str], ...]:
    """The path patterns of every route that depends on require_api_key, on its router or on itself."""
    return tuple(
        route.path_regex
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        and any(getattr(dep, "dependency", None) is require_api_key for dep in [*router.dependencies,
                                                                               *route.dependencies])
    )


class ApiKeyGate:
    """Installed only when API_KEY is set: without a key, requests do not pass through it at all."""

    def __init__(self, app: ASGIApp, expected: SecretStr, paths: Sequence[re.Pattern[str]]):
        self.app = app
        self.expected = expected
        self.paths = paths

    def guards(self, path: str) -> bool:
        return any(pattern.match(path) for pattern in self.paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.guards(route_path(scope)):
            try:
                check_key(header(scope, API_KEY_HEADER), self.expected)
            except Unauthenticated as error:
                await refuse(scope, receive, send, error)  # drains what it can, so the client reads the 401
                return
        await self.app(scope, receive, send)
