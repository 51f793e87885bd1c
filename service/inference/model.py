"""The served model's lifecycle, KServe style: created → load() → warmed up → ready (or failed)."""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from contract.bundle import BundleError
from contract.schema import BundleFiles
from service.core.config import Settings
from service.errors import ModelNotReady
from service.inference.bundle_loader import LoadedBundle, open_bundle
from service.inference.decision import DecisionPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelIdentity:
    name: str
    version: str
    backbone: str
    engine: str


@dataclass(frozen=True)
class ReadyModel:
    """A consistent snapshot of a loaded model: one per request, taken once."""

    bundle: LoadedBundle
    policy: DecisionPolicy

    @property
    def model_sha256(self) -> str | None:
        """The hash of the served weights: the LiteRT file's on the fast path, else the Keras file's."""
        files = self.bundle.contract.files
        return files.get(BundleFiles.LITERT_MODEL if self.bundle.engine.name == "litert" else BundleFiles.KERAS_MODEL)

    @property
    def identity(self) -> ModelIdentity:
        contract = self.bundle.contract
        return ModelIdentity(contract.model_name, contract.model_version, contract.backbone, self.bundle.engine.name)


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
        self._ready: ReadyModel | None = None
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
            policy = DecisionPolicy.from_bundle(bundle.thresholds, self._settings.threshold)
            self._ready = ReadyModel(bundle, policy)
            self.state = ModelState.READY
        log.info(
            "model ready",
            extra={
                "model_version": bundle.contract.model_version,
                "engine": bundle.engine.name,
                "threshold": policy.threshold,
                "threshold_source": policy.source,
                "load_s": round(time.perf_counter() - started, 3),
            },
        )

    def _warm_up(self, bundle: LoadedBundle) -> None:
        # The first call allocates tensors / traces the graph; pay for it before declaring ready.
        size = bundle.contract.input.image_size
        blank = np.zeros((1, size, size, 3), dtype=np.float32)
        bundle.engine.predict(blank)
        bundle.engine.explain(blank)

    def _fail(self, reason: str, *, exc_info: bool) -> None:
        # Paths inside MODEL_DIR are named relative to it: /readyz is unauthenticated.
        self.failure = reason.replace(str(self._settings.model_dir), "MODEL_DIR")
        self.state = ModelState.FAILED
        log.error("model bundle could not be loaded; 503 until restarted: %s", reason, exc_info=exc_info)

    def require_ready(self) -> ReadyModel:
        """The loaded model's snapshot, or ModelNotReady saying why not."""
        ready = self._ready  # one read of one reference: consistent without the lock
        if ready is not None:
            return ready
        if self.state is ModelState.FAILED:
            raise ModelNotReady(f"the model bundle failed to load: {self.failure}")
        if self.state is ModelState.STOPPED:
            raise ModelNotReady("the service is shutting down")
        raise ModelNotReady("the model is still loading")

    def close(self) -> None:
        with self._lock:
            if self._ready is not None:
                self._ready.bundle.engine.close()
            self._ready = None
            self.state = ModelState.STOPPED
