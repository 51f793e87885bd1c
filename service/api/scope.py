"""Reading a raw ASGI scope, for the pure ASGI middleware that run before Starlette builds a Request."""

from __future__ import annotations

from starlette.types import Scope


def header(scope: Scope, name: str) -> str | None:
    """The first value of header `name` (any case), decoded as latin-1 as Starlette decodes headers; None if absent."""
    wanted = name.lower().encode("latin-1")  # ASGI header names arrive lower-case
    for key, value in scope.get("headers", []):
        if key == wanted:
            return value.decode("latin-1")
    return None
