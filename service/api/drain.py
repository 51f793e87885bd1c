"""Read and discard an unwanted request body before refusing it.

Most clients send their whole body before reading the answer. Closing the connection on unread bytes
makes TCP send a reset, which destroys the refusal before the client reads it; reading the rest first
(a bounded amount, for a bounded time) lets a 413 or 503 arrive as an answer.
"""

from __future__ import annotations

import anyio
from starlette.types import Receive

DRAIN_LIMIT_BYTES = 32 * 1024 * 1024
DRAIN_TIMEOUT_S = 5.0


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
