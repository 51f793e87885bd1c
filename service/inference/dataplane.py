"""The data plane: bytes -> shared preprocessing -> engine -> assessment (+ explanation overlay).

Each request takes one ready snapshot of the model and does its CPU work in worker threads; the event loop only
awaits. Decoding runs behind one semaphore, which bounds both CPU contention and the memory held by decoded
images. A single image that finds a model lane free and nobody waiting is classified in that same worker call;
otherwise it waits for a lane, and the images waiting together share one model call (coalescer.py). Batches,
pixels and explanations make their own calls in the decoding worker.
"""

from __future__ import annotations

import enum
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
import numpy as np

from contract.diagnoses import BY_CODE, cancer_probability
from contract.errors import InvalidImage
from contract.preprocessing import PreparedImage, prepare_image, prepare_pixels
from contract.schema import ExplanationSpec
from service.core.config import Settings
from service.core.metrics import ServiceMetrics
from service.errors import OutOfDistribution
from service.inference.coalescer import Coalescer
from service.inference.decision import DecisionPolicy, ThresholdSource, Verdict
from service.inference.engine import MAX_CALL_BATCH
from service.inference.heatmap import MapSummary, OverlayFormat, draw_overlay, summarise
from service.inference.input_check import InputWarning, WarningCode
from service.inference.model import ModelIdentity, ReadyModel

DISPLAY_SIDE = 256  # the overlay's longer side, in the image's aspect ratio (prepare_image: when it may be more)


class ExplanationTarget(enum.StrEnum):
    PREDICTED = "predicted"
    CANCEROUS = "cancerous"
    NON_CANCEROUS = "non-cancerous"


@dataclass(frozen=True)
class DiagnosisProbability:
    code: str
    name: str
    probability: float


@dataclass(frozen=True)
class Assessment:
    probability: float  # of "cancerous": the sum over the cancerous diagnoses
    verdict: Verdict
    high_sensitivity: Verdict | None
    threshold_source: ThresholdSource
    differential: tuple[DiagnosisProbability, ...]  # every diagnosis, most probable first
    warnings: tuple[InputWarning, ...]
    model: ModelIdentity
    preprocess_ms: float
    inference_ms: float


@dataclass(frozen=True)
class Explanation:
    assessment: Assessment
    target: ExplanationTarget  # the class the map explains (never "predicted": resolved to the verdict's)
    spec: ExplanationSpec  # how the map was made and the scale it is drawn on
    raw_map: np.ndarray  # (g, g)
    summary: MapSummary
    overlay: bytes  # the map over the image, encoded as overlay_format
    overlay_format: OverlayFormat
    overlay_size: tuple[int, int]  # (width, height)
    heatmap_ms: float


@dataclass(frozen=True)
class _Prepared:
    """A decoded image and what its assessment needs, waiting for the model."""

    ready: ReadyModel
    policy: DecisionPolicy
    image: PreparedImage
    preprocess_ms: float


class DataPlane:
    def __init__(self, settings: Settings, metrics: ServiceMetrics):
        self._max_pixels = settings.max_image_pixels
        self._refuse_foreign = settings.input_check == "refuse"
        self._metrics = metrics
        # Decoding is bounded inside the worker, not by how many workers run: a lone request decodes and infers
        # in one worker call, and must not hold the bound through inference while queued requests wait to decode.
        self._decoding = threading.BoundedSemaphore(settings.inference_concurrency)
        # as many lanes as the engine has interpreters (INFERENCE_CONCURRENCY)
        self._model_lanes: Coalescer[_Prepared, Assessment] = Coalescer(settings.inference_concurrency,
                                                                        MAX_CALL_BATCH)

    async def assess(self, ready: ReadyModel, policy: DecisionPolicy, data: bytes) -> Assessment:
        """Classify one image; bad bytes raise contract.errors.InvalidImage (or a subclass)."""
        if self._model_lanes.claim_idle_lane():  # alone: decode and infer in one worker hop
            try:
                return await self._in_worker(self._assess_alone, ready, policy, data)
            finally:
                self._model_lanes.release_lane()
        image, preprocess_ms = await self._in_worker(self._prepare, ready, data)
        prepared = _Prepared(ready, policy, image, preprocess_ms)
        return await self._model_lanes.run(ready.bundle.engine, prepared, self._assess_waiting)

    @property
    def images_waiting(self) -> int:
        """Single images decoded and waiting for a model lane."""
        return self._model_lanes.waiting

    async def explain(self, ready: ReadyModel, policy: DecisionPolicy, data: bytes, target: ExplanationTarget,
                      overlay_format: OverlayFormat) -> Explanation:
        """Classify one image and draw the map of `target` over it, in its own aspect ratio."""
        return await self._in_worker(self._explain_one, ready, policy, data, target, overlay_format)

    async def assess_batch(self, ready: ReadyModel, policy: DecisionPolicy,
                           items: Sequence[bytes]) -> list[Assessment | Exception]:
        """Classify several images in one worker call; a bad or refused image becomes its own error."""
        return await self._in_worker(self._assess_all, ready, policy, list(items))

    async def assess_pixels(self, ready: ReadyModel, policy: DecisionPolicy,
                            images: Sequence[np.ndarray]) -> list[Assessment | Exception]:
        """Classify decoded RGB arrays (H, W, 3) uint8, through the same resize as uploaded bytes."""
        return await self._in_worker(self._assess_arrays, ready, policy, list(images))

    async def offload(self, function, *args):
        """Run CPU-bound transport work (parsing a large JSON body) in a worker thread."""
        return await self._in_worker(function, *args)

    async def _in_worker(self, function, *args):
        return await anyio.to_thread.run_sync(function, *args)

    def _assess_alone(self, ready: ReadyModel, policy: DecisionPolicy, data: bytes) -> Assessment:
        image, preprocess_ms = self._prepare(ready, data)
        [result] = self._assess_waiting([_Prepared(ready, policy, image, preprocess_ms)])
        if isinstance(result, Exception):
            raise result
        return result

    def _assess_waiting(self, waiting: list[_Prepared]) -> list[Assessment | Exception]:
        """One model call for images that waited together (one engine: the coalescer's key)."""
        ready = waiting[0].ready
        started = time.perf_counter()
        forward = ready.bundle.engine.predict(np.stack([entry.image.pixels for entry in waiting]).astype(np.float32))
        inference_ms = self._observe_inference(ready, started)
        return [self._assessment_or_refusal(entry, forward.probabilities[row], forward.features[row], inference_ms)
                for row, entry in enumerate(waiting)]

    def _explain_one(self, ready: ReadyModel, policy: DecisionPolicy, data: bytes, target: ExplanationTarget,
                     overlay_format: OverlayFormat) -> Explanation:
        image, preprocess_ms = self._prepare(ready, data, display_side=DISPLAY_SIDE)
        started = time.perf_counter()
        explained = ready.bundle.engine.explain(image.pixels[None].astype(np.float32))
        inference_ms = self._observe_inference(ready, started)
        assessment = self._assessment(ready, policy, image, explained.probabilities[0], explained.features[0],
                                      preprocess_ms, inference_ms)
        if target is ExplanationTarget.PREDICTED:
            target = ExplanationTarget.CANCEROUS if assessment.verdict.is_cancerous else ExplanationTarget.NON_CANCEROUS
        raw_map = (explained.maps_cancerous if target is ExplanationTarget.CANCEROUS
                   else explained.maps_non_cancerous)[0]
        started = time.perf_counter()
        spec, display = ready.bundle.contract.explanation, _display_of(image)
        drawn = draw_overlay(display, raw_map, spec, overlay_format)
        height, width = display.shape[:2]
        return Explanation(assessment, target, spec, raw_map, summarise(raw_map, spec), drawn, overlay_format,
                           (width, height), _ms_since(started))

    def _assess_all(self, ready: ReadyModel, policy: DecisionPolicy,
                    items: list[bytes]) -> list[Assessment | Exception]:
        prepared: list[tuple[PreparedImage, float] | InvalidImage] = []
        for data in items:
            try:
                prepared.append(self._prepare(ready, data))
            except InvalidImage as error:  # one bad item must not fail the batch
                prepared.append(error)
        return self._assess_prepared(ready, policy, prepared)

    def _assess_arrays(self, ready: ReadyModel, policy: DecisionPolicy,
                       images: list[np.ndarray]) -> list[Assessment | Exception]:
        size = ready.bundle.contract.input.image_size
        prepared: list[tuple[PreparedImage, float] | InvalidImage] = []
        for pixels in images:
            started = time.perf_counter()
            prepared.append((prepare_pixels(pixels, size), _ms_since(started)))
        return self._assess_prepared(ready, policy, prepared)

    def _assess_prepared(self, ready: ReadyModel, policy: DecisionPolicy,
                         prepared: list[tuple[PreparedImage, float] | InvalidImage]) -> list[Assessment | Exception]:
        good = [_Prepared(ready, policy, *entry) for entry in prepared if not isinstance(entry, InvalidImage)]
        assessed = iter(self._assess_waiting(good) if good else [])
        return [entry if isinstance(entry, InvalidImage) else next(assessed) for entry in prepared]

    def _assessment_or_refusal(self, entry: _Prepared, probabilities: np.ndarray, features: np.ndarray,
                               inference_ms: float) -> Assessment | OutOfDistribution:
        try:
            return self._assessment(entry.ready, entry.policy, entry.image, probabilities, features,
                                    entry.preprocess_ms, inference_ms)
        except OutOfDistribution as refused:  # one refused image must not fail the others of its call
            return refused

    def _prepare(self, ready: ReadyModel, data: bytes, display_side: int | None = None) -> tuple[PreparedImage, float]:
        size = ready.bundle.contract.input.image_size
        with self._decoding:  # bounds the CPU and the memory of full-size decodes (INFERENCE_CONCURRENCY)
            started = time.perf_counter()
            try:
                image = prepare_image(data, size, self._max_pixels, display_side)
            except InvalidImage:
                raise
            except _DECODER_FAULTS as error:
                # Pillow's plugins raise a zoo of errors on hostile bytes (e.g. corrupt EXIF): still bad input.
                raise InvalidImage(f"the image could not be decoded ({type(error).__name__})") from error
            return image, _ms_since(started)

    def _observe_inference(self, ready: ReadyModel, started: float) -> float:
        elapsed = _ms_since(started)
        self._metrics.inference_latency.labels(ready.bundle.engine.name).observe(elapsed / 1000)
        return elapsed

    def _assessment(self, ready: ReadyModel, policy: DecisionPolicy, image: PreparedImage,
                    probabilities: np.ndarray, features: np.ndarray, preprocess_ms: float,
                    inference_ms: float) -> Assessment:
        classes = ready.bundle.contract.output.classes
        probability = float(cancer_probability(probabilities, classes))
        warnings = ready.bundle.input_check.warnings(image.pixels, image.original_size, features)
        foreign = [w for w in warnings if w.code is WarningCode.OUT_OF_DISTRIBUTION]
        if foreign and self._refuse_foreign:
            raise OutOfDistribution(f"{foreign[0].detail}; INPUT_CHECK=refuse, so no verdict is given")
        verdict = policy.verdict(probability)
        self._metrics.predictions.labels(verdict.label).inc()
        return Assessment(
            probability=probability,
            verdict=verdict,
            high_sensitivity=policy.high_sensitivity(probability),
            threshold_source=policy.source,
            differential=differential(probabilities, classes),
            warnings=tuple(warnings),
            model=ready.identity,
            preprocess_ms=preprocess_ms,
            inference_ms=inference_ms,
        )


def _display_of(image: PreparedImage) -> np.ndarray:
    if image.display is None:  # prepare_image was asked for one: a bug, not bad input
        raise RuntimeError("an explanation needs the image prepared with a display copy")
    return image.display


def differential(probabilities: np.ndarray, classes: Sequence[str]) -> tuple[DiagnosisProbability, ...]:
    """Every diagnosis with its probability, most probable first."""
    order = np.argsort(-probabilities, kind="stable")
    return tuple(DiagnosisProbability(classes[i], BY_CODE[classes[i]].name, float(probabilities[i])) for i in order)


_DECODER_FAULTS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
