"""Admission control: a bound on the model requests in the building at once, by count and by bytes.

The decode semaphore and the model lanes bound the CPU work, but a request waiting for them still holds its upload
(in memory, or spooled to /tmp past 1 MiB). A bound on the count alone (MAX_INFLIGHT_REQUESTS) still lets a few
large batches fill a container's /tmp or memory, so each request also reserves the bytes it may hold: its declared
Content-Length (its path's cap when it declares none), or for /predict-url the URL download's limit. A /gradcam
form usually carries its file; the download of one that names a URL instead (at most URL_MAX_BYTES, in memory,
never in /tmp) is bounded by the request count, not reserved, so a burst of small /gradcam uploads is not shed.
Beyond either bound, requests are shed at once with a 503 `overloaded` problem and `Retry-After`, which load
balancers and clients know how to back off from. A request is always admitted into an empty building, so one
larger than the whole budget still runs, alone (Settings warns at startup when a full batch is that large).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.body_limit import BodyCaps, is_open_inference_call
from service.api.drain import declared_length, refuse
from service.api.scope import route_path
from service.errors import Overloaded

MODEL_PATHS = frozenset({"/predict", "/predict-url", "/predict/batch", "/gradcam"})
FETCHING_PATHS = frozenset({"/predict-url"})  # the image is downloaded from a URL
RETRY_AFTER_S = 1


@dataclass(frozen=True)
class Reservation:
    """The bytes a model request may hold while it waits: its body, or the image /predict-url downloads."""

    caps: BodyCaps
    url_max_bytes: int

    def bytes_for(self, path: str, declared: int | None) -> int:
        cap = self.caps.cap_for(path)
        body = cap if declared is None else min(declared, cap)  # over the cap, BodySizeLimit refuses it anyway
        return max(body, self.url_max_bytes) if path in FETCHING_PATHS else body


class AdmissionLimit:
    def __init__(self, app: ASGIApp, max_inflight: int, max_inflight_bytes: int, reservation: Reservation):
        self.app = app
        self.max_inflight = max_inflight
        self.max_inflight_bytes = max_inflight_bytes
        self.reservation = reservation
        self.inflight = 0  # one event loop per process: no lock needed between awaits
        self.held_bytes = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not _is_model_call(path := route_path(scope)):
            await self.app(scope, receive, send)
            return
        reserved = self.reservation.bytes_for(path, declared_length(scope))
        refusal = self._refusal(reserved)
        if refusal is not None:
            await refuse(scope, receive, send, refusal, headers={"Retry-After": str(RETRY_AFTER_S)})
            return
        self.inflight += 1
        self.held_bytes += reserved
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1
            self.held_bytes -= reserved

    def _refusal(self, reserved: int) -> Overloaded | None:
        if self.inflight >= self.max_inflight:
            return Overloaded(f"more than {self.max_inflight} requests are in progress; retry in a moment")
        if self.inflight and self.held_bytes + reserved > self.max_inflight_bytes:
            return Overloaded(f"the requests in progress hold {self.held_bytes} bytes of uploads; {reserved} more "
                              f"would pass the limit of {self.max_inflight_bytes}; retry in a moment")
        return None


def _is_model_call(path: str) -> bool:
    return path in MODEL_PATHS or is_open_inference_call(path)
