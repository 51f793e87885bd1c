"""The data plane: bytes → shared preprocessing → engine → verdict (+ Grad-CAM overlay).

CPU-bound steps run in worker threads behind one capacity limiter, which bounds both CPU
contention and the memory held by decoded images; the event loop only awaits.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
import numpy as np

from contract.errors import InvalidImage
from contract.preprocessing import preprocess_image
from service.core.config import Settings
from service.core.metrics import ServiceMetrics
from service.inference.bundle_loader import LoadedBundle
from service.inference.decision import ThresholdSource, Verdict
from service.inference.heatmap import overlay_png
from service.inference.model import LesionModel


@dataclass(frozen=True)
class ModelIdentity:
    name: str
    version: str
    backbone: str
    engine: str


@dataclass(frozen=True)
class Assessment:
    verdict: Verdict
    threshold_source: ThresholdSource
    model: ModelIdentity
    image: np.ndarray  # (S, S, 3) uint8: exactly what the model saw
    cam: np.ndarray  # (G, G) float32, raw
    preprocess_ms: float
    inference_ms: float


@dataclass(frozen=True)
class Explanation:
    assessment: Assessment
    heatmap_png: bytes
    heatmap_ms: float


class DataPlane:
    def __init__(self, model: LesionModel, settings: Settings, metrics: ServiceMetrics):
        self._model = model
        self._max_pixels = settings.max_image_pixels
        self._metrics = metrics
        self._limiter = anyio.CapacityLimiter(settings.inference_concurrency)

    async def assess(self, data: bytes) -> Assessment:
        """Classify one image; bad bytes raise contract.errors.InvalidImage (or a subclass)."""
        (result,) = await self._in_worker(self._assess_all, [data])
        if isinstance(result, InvalidImage):
            raise result
        return result

    async def explain(self, data: bytes) -> Explanation:
        """Classify one image and draw its Grad-CAM overlay on the resized input."""
        assessment = await self.assess(data)
        started = time.perf_counter()
        png = await self._in_worker(overlay_png, assessment.image, assessment.cam)
        return Explanation(assessment, png, _ms_since(started))

    async def assess_batch(self, items: Sequence[bytes]) -> list[Assessment | InvalidImage]:
        """Classify several images in one engine call; a bad image becomes its own InvalidImage."""
        return await self._in_worker(self._assess_all, list(items))

    def identity(self) -> ModelIdentity:
        bundle, _ = self._model.require_ready()
        return identity_of(bundle)

    async def _in_worker(self, function, *args):
        return await anyio.to_thread.run_sync(function, *args, limiter=self._limiter)

    def _assess_all(self, items: list[bytes]) -> list[Assessment | InvalidImage]:
        bundle, policy = self._model.require_ready()
        size = bundle.contract.input.image_size
        prepared = [self._prepare(data, size) for data in items]
        images = [entry[0] for entry in prepared if not isinstance(entry, InvalidImage)]
        if not images:
            return [entry for entry in prepared if isinstance(entry, InvalidImage)]
        started = time.perf_counter()
        output = bundle.engine.infer(np.stack(images).astype(np.float32))  # (N, S, S, 3)
        inference_ms = _ms_since(started)
        self._metrics.inference_latency.labels(bundle.engine.name).observe(inference_ms / 1000)
        identity = identity_of(bundle)
        results: list[Assessment | InvalidImage] = []
        position = 0
        for entry in prepared:
            if isinstance(entry, InvalidImage):
                results.append(entry)
                continue
            image, preprocess_ms = entry
            verdict = policy.decide(float(output.probabilities[position]))
            self._metrics.predictions.labels(verdict.decision.label).inc()
            cam = output.cams[position]
            assessment = Assessment(verdict, policy.source, identity, image, cam, preprocess_ms, inference_ms)
            results.append(assessment)
            position += 1
        return results

    def _prepare(self, data: bytes, size: int) -> tuple[np.ndarray, float] | InvalidImage:
        started = time.perf_counter()
        try:
            return preprocess_image(data, size, self._max_pixels), _ms_since(started)
        except InvalidImage as error:
            return error
        except _DECODER_FAULTS as error:
            # Pillow's plugins raise a zoo of errors on hostile bytes (e.g. corrupt EXIF): still bad input.
            invalid = InvalidImage(f"the image could not be decoded ({type(error).__name__})")
            invalid.__cause__ = error
            return invalid


_DECODER_FAULTS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error)


def identity_of(bundle: LoadedBundle) -> ModelIdentity:
    contract = bundle.contract
    return ModelIdentity(contract.model_name, contract.model_version, contract.backbone, bundle.engine.name)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
