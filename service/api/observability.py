"""Per-request plumbing: a request id, a JSON access-log line, Prometheus metrics, and a last-resort 500.

A pure ASGI middleware (not BaseHTTPMiddleware) so it sees every response, including the ones
other middleware produce, and adds no task hop.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.problems import error_response
from service.api.scope import header
from service.core.logs import current_request_id
from service.core.metrics import ServiceMetrics

REQUEST_ID_HEADER = "x-request-id"
_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")  # anything else could forge log lines

log = logging.getLogger("service.access")


class RequestObserver:
    def __init__(self, app: ASGIApp, metrics: ServiceMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        started = time.perf_counter()
        scope.setdefault("state", {}).update(request_id=request_id, started=started)
        token = current_request_id.set(request_id)
        status = {"code": 500, "started": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error", extra={"path": scope["path"]})
            if status["started"]:
                raise  # too late for a clean answer; let the server drop the connection
            response = error_response(RuntimeError(), instance=scope["path"], request_id=request_id)
            await response(scope, receive, send_with_id)
        finally:
            self._record(scope, status["code"], time.perf_counter() - started)
            current_request_id.reset(token)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"  # templates, never raw paths
        method = scope["method"]
        self.metrics.requests.labels(route, method, str(status)).inc()
        self.metrics.request_latency.labels(route, method).observe(seconds)
        log.info(
            "request",
            extra={
                "method": method, "path": scope["path"], "route": route,
                "status": status, "duration_ms": round(seconds * 1000, 3),
            },
        )


def _request_id(scope: Scope) -> str:
    candidate = header(scope, REQUEST_ID_HEADER)
    return candidate if candidate is not None and _ACCEPTABLE_ID.fullmatch(candidate) else uuid.uuid4().hex
