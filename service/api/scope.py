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


def route_path(scope: Scope) -> str:
    """The path the app's routes see: behind a proxy that mounts the service under a prefix (ASGI `root_path`),
    the request's path without that prefix, as Starlette's router matches it."""
    path, root = scope["path"], scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root):][:1] in ("", "/"):
        return path[len(root):] or "/"
    return path
