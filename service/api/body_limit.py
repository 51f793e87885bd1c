"""Cap request bodies while they arrive, so an upload can never be read unbounded into memory or disk.

A declared Content-Length over the cap is refused before the app reads any byte; a body that grows
past the cap (chunked, or lying about its length) stops being parsed mid-stream. Either way: a 413 problem.
The rest of the body is drained before the 413 (service.api.drain), so the client reads the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.drain import declared_length, refuse
from service.api.scope import route_path
from service.core.config import Settings
from service.errors import PayloadTooLarge

MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers and small form fields


class _BodyOverCap(Exception):
    pass


OPEN_INFERENCE_EXPANSION = 2  # an image file as base64 JSON costs 4/3 of it (a UINT8 tensor as JSON numbers more)


def is_open_inference_call(path: str) -> bool:
    """POST /v2/models/{name}/infer, the Open Inference Protocol's inference call."""
    return path.startswith("/v2/models/") and path.endswith("/infer")


@dataclass(frozen=True)
class BodyCaps:
    """The most bytes a request body may bring, by path: an upload's, a batch's, a small JSON body's, and one
    base64-encoded upload's worth of JSON for /v2/models/{name}/infer."""

    default: int
    by_path: dict[str, int]
    open_inference: int

    def cap_for(self, path: str) -> int:
        if is_open_inference_call(path):
            return self.open_inference
        return self.by_path.get(path, self.default)


def body_caps(settings: Settings) -> BodyCaps:
    return BodyCaps(
        default=settings.max_upload_bytes + MULTIPART_OVERHEAD,
        by_path={"/predict/batch": settings.max_upload_bytes * settings.max_batch_files + MULTIPART_OVERHEAD,
                 "/predict-url": MULTIPART_OVERHEAD},
        open_inference=settings.max_upload_bytes * OPEN_INFERENCE_EXPANSION + MULTIPART_OVERHEAD,
    )


class BodySizeLimit:
    def __init__(self, app: ASGIApp, caps: BodyCaps):
        self.app = app
        self.caps = caps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.caps.cap_for(route_path(scope))
        declared = declared_length(scope)
        if declared is not None and declared > cap:
            error = PayloadTooLarge(f"the request declares {declared} bytes; the limit is {cap}")
            await refuse(scope, receive, send, error)
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
            error = PayloadTooLarge(f"the request body exceeds the limit of {cap} bytes")
            await refuse(scope, receive, send, error, body_pending=not body_done)
