"""The served model's lifecycle, KServe style: created → load() → warmed up → ready (or failed)."""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from contract.bundle import BundleError
from service.core.config import Settings
from service.errors import ModelNotReady
from service.inference.bundle_loader import LoadedBundle, open_bundle
from service.inference.decision import DecisionPolicy
from service.inference.engine import EngineOutput

log = logging.getLogger(__name__)


class ModelState(enum.StrEnum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    STOPPED = "stopped"


class LesionModel:
    """Owns the bundle and its engine; answers inference only once loaded and warmed up."""

    def __init__(self, settings: Settings, opener: Callable[[Settings], LoadedBundle] = open_bundle):
        self._settings = settings
        self._opener = opener
        self._bundle: LoadedBundle | None = None
        self._policy: DecisionPolicy | None = None
        self._lock = threading.Lock()
        self.state = ModelState.LOADING
        self.failure: str | None = None

    @property
    def ready(self) -> bool:
        return self.state is ModelState.READY

    def load(self) -> None:
        """Open the bundle and run one warm-up inference; record why, if that fails (never raises)."""
        started = time.perf_counter()
        try:
            bundle = self._opener(self._settings)
            self._warm_up(bundle)
        except BundleError as error:
            self._fail(str(error), exc_info=False)
            return
        except Exception as error:  # a broken runtime must not take the liveness endpoint down with it
            self._fail(f"{type(error).__name__}: {error}", exc_info=True)
            return
        with self._lock:
            if self.state is ModelState.STOPPED:  # shut down while loading: do not come back to life
                bundle.engine.close()
                return
            self._bundle = bundle
            self._policy = DecisionPolicy.from_bundle(bundle.thresholds, self._settings.threshold)
            self.state = ModelState.READY
        log.info(
            "model ready",
            extra={
                "model_version": bundle.contract.model_version,
                "engine": bundle.engine.name,
                "threshold": self._policy.threshold,
                "threshold_source": self._policy.source,
                "load_s": round(time.perf_counter() - started, 3),
            },
        )

    def _warm_up(self, bundle: LoadedBundle) -> None:
        # The first call allocates tensors / traces the graph; pay for it before declaring ready.
        size = bundle.contract.input.image_size
        bundle.engine.infer(np.zeros((1, size, size, 3), dtype=np.float32))

    def _fail(self, reason: str, *, exc_info: bool) -> None:
        # Paths inside MODEL_DIR are named relative to it: /readyz is unauthenticated.
        self.failure = reason.replace(str(self._settings.model_dir), "MODEL_DIR")
        self.state = ModelState.FAILED
        log.error("model bundle could not be loaded; 503 until restarted: %s", reason, exc_info=exc_info)

    def require_ready(self) -> tuple[LoadedBundle, DecisionPolicy]:
        """The bundle and decision policy, or ModelNotReady saying why not."""
        with self._lock:
            if self._bundle is not None and self._policy is not None:
                return self._bundle, self._policy
        if self.state is ModelState.FAILED:
            raise ModelNotReady(f"the model bundle failed to load: {self.failure}")
        if self.state is ModelState.STOPPED:
            raise ModelNotReady("the service is shutting down")
        raise ModelNotReady("the model is still loading")

    def infer(self, images: np.ndarray) -> EngineOutput:
        bundle, _ = self.require_ready()
        return bundle.engine.infer(images)

    def close(self) -> None:
        with self._lock:
            if self._bundle is not None:
                self._bundle.engine.close()
            self._bundle, self._policy = None, None
            self.state = ModelState.STOPPED
