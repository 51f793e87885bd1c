"""Cap request bodies while they arrive, so an upload can never be read unbounded into memory or disk.

A declared Content-Length over the cap is refused before the app reads any byte; a body that grows
past the cap (chunked, or lying about its length) stops being parsed mid-stream. Either way: a 413 problem.
Before answering, the rest of the body is read and discarded, a bounded amount for a bounded time: most
clients send their whole body before reading, and closing on unread bytes makes TCP reset the connection,
destroying the 413 before the client sees it. A body too large to drain gets its 413 with `Connection: close`.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.drain import DRAIN_LIMIT_BYTES, drain
from service.api.problems import error_response
from service.core.config import Settings
from service.errors import PayloadTooLarge

MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers and small form fields


class _BodyOverCap(Exception):
    pass


def body_caps(settings: Settings) -> tuple[int, dict[str, int]]:
    """(default cap, cap by exact path): one upload's worth, a batch's worth, a small JSON body."""
    single = settings.max_upload_bytes + MULTIPART_OVERHEAD
    return single, {
        "/predict/batch": settings.max_upload_bytes * settings.max_batch_files + MULTIPART_OVERHEAD,
        "/predict-url": MULTIPART_OVERHEAD,
    }


class BodySizeLimit:
    def __init__(self, app: ASGIApp, default_cap: int, caps: dict[str, int]):
        self.app = app
        self.default_cap = default_cap
        self.caps = caps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.caps.get(scope["path"], self.default_cap)
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            detail = f"the request declares {declared} bytes; the limit is {cap}"
            drained = declared <= DRAIN_LIMIT_BYTES and await drain(receive)
            await self._refuse(scope, receive, send, detail, keep_alive=drained)
            return
        received, over_cap, body_done = 0, False, False

        async def capped_receive() -> Message:
            nonlocal received, over_cap, body_done
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > cap:
                    over_cap = True
                    raise _BodyOverCap  # aborts whatever was parsing the body
            return message

        async def send_unless_over_cap(message: Message) -> None:
            if not over_cap:  # the app's answer to a half-read body is replaced by our 413
                await send(message)

        try:
            await self.app(scope, capped_receive, send_unless_over_cap)
        except Exception:
            if not over_cap:  # whatever the half-read body made the app raise is moot once over the cap
                raise
        if over_cap:
            drained = body_done or await drain(receive)
            await self._refuse(scope, receive, send, f"the request body exceeds the limit of {cap} bytes",
                               keep_alive=drained)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, detail: str, *, keep_alive: bool) -> None:
        request_id = scope.get("state", {}).get("request_id")
        response = error_response(PayloadTooLarge(detail), instance=scope["path"], request_id=request_id)
        if not keep_alive:
            response.headers["Connection"] = "close"  # the body is still arriving: never read it as a request
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None
