"""Admission control: at most MAX_INFLIGHT_REQUESTS model requests are in the building at once.

The inference limiter bounds the CPU work, but a request waiting for it still holds its upload in
memory; without a bound on admissions, a burst of large uploads could exhaust the container's memory
long before it ran out of CPU. Beyond the bound, requests are shed at once with a 503 `overloaded`
problem and `Retry-After`, which load balancers and clients know how to back off from.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.body_limit import is_open_inference_call
from service.api.drain import refuse
from service.api.scope import route_path
from service.errors import Overloaded

MODEL_PATHS = frozenset({"/predict", "/predict-url", "/predict/batch", "/gradcam"})
RETRY_AFTER_S = 1


class AdmissionLimit:
    def __init__(self, app: ASGIApp, max_inflight: int):
        self.app = app
        self.max_inflight = max_inflight
        self.inflight = 0  # one event loop per process: no lock needed between awaits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not _is_model_call(route_path(scope)):
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.max_inflight:
            await self._shed(scope, receive, send)
            return
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1

    async def _shed(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = Overloaded(f"more than {self.max_inflight} requests are in progress; retry in a moment")
        await refuse(scope, receive, send, error, headers={"Retry-After": str(RETRY_AFTER_S)})


def _is_model_call(path: str) -> bool:
    return path in MODEL_PATHS or is_open_inference_call(path)
