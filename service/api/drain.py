"""Refuse a request whose body the app will not read, so that the refusal arrives as an answer.

Most clients send their whole body before reading the answer. Closing the connection on unread bytes
makes TCP send a reset, which destroys the refusal before the client reads it; reading the rest first
(a bounded amount, for a bounded time) lets a 413 or 503 arrive as an answer. A body too large to drain
gets its answer with `Connection: close`, so its remaining bytes are never read as a next request.
"""

from __future__ import annotations

import anyio
from starlette.types import Receive, Scope, Send

from service.api.problems import error_response
from service.api.scope import header

DRAIN_LIMIT_BYTES = 32 * 1024 * 1024
DRAIN_TIMEOUT_S = 5.0


async def refuse(scope: Scope, receive: Receive, send: Send, error: Exception, *, body_pending: bool = True,
                 headers: dict[str, str] | None = None) -> None:
    """Answer `error` as a problem, after draining what is left of the body when that is affordable."""
    declared = declared_length(scope)
    drained = not body_pending or (
        (declared is None or declared <= DRAIN_LIMIT_BYTES) and await drain(receive))
    request_id = scope.get("state", {}).get("request_id")
    closing = {} if drained else {"Connection": "close"}
    response = error_response(error, instance=scope["path"], request_id=request_id, headers=(headers or {}) | closing)
    await response(scope, receive, send)


async def drain(receive: Receive) -> bool:
    """Read and discard the rest of the request body; True if it ended within the byte and time bounds."""
    drained = 0
    with anyio.move_on_after(DRAIN_TIMEOUT_S):
        while drained <= DRAIN_LIMIT_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                return False  # the client went away
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                return True
    return False


# More digits than any byte cap has: such a length is "too large" without parsing it (int() refuses thousands of digits)
_LONGEST_LENGTH = 18


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None when absent or not a plain number of ASCII digits.

    uvicorn refuses a malformed Content-Length before the app runs, but these middleware must not depend on
    the server in front of them: latin-1 digits such as "²" pass str.isdigit() and fail int().
    """
    text = (header(scope, "content-length") or "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text) if len(text) <= _LONGEST_LENGTH else 10**_LONGEST_LENGTH
