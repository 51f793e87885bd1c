"""Prometheus metrics, in a registry owned by one app (so several apps, e.g. in tests, never clash)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServiceMetrics:
    """Request counts and latencies by route, inference latency by engine, and model readiness."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests", "HTTP requests by route template, method and status.",
            ["route", "method", "status"], registry=self.registry,
        )
        self.request_latency = Histogram(
            "http_request_duration_seconds", "Wall time from request to response, by route.",
            ["route", "method"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.inference_latency = Histogram(
            "model_inference_duration_seconds", "Time spent in the model runtime per call (one batch).",
            ["engine"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.predictions = Counter(
            "model_predictions", "Images classified, by label at the decision threshold.",
            ["label"], registry=self.registry,
        )
        self.model_ready = Gauge("model_ready", "1 once the model is ready.", registry=self.registry)

    def track_readiness(self, is_ready: Callable[[], bool]) -> None:
        # Read at scrape time, so the gauge can never disagree with /readyz.
        self.model_ready.set_function(lambda: 1.0 if is_ready() else 0.0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
