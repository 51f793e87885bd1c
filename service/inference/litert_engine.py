"""The fast path: the bundle's model.tflite run by LiteRT, with no TensorFlow in the process."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from contract.bundle import BundleError
from contract.schema import ModelContract
from service.inference.engine import EngineOutput, checked_output

SIGNATURE = "serving_default"
INPUT_NAME = "images"
OUTPUT_PROBABILITY = "probability"
OUTPUT_CAM = "cam"


class LiteRTEngine:
    """A small pool of interpreters: LiteRT interpreters are not thread-safe, so each call borrows one."""

    name = "litert"

    def __init__(self, model_path: Path, contract: ModelContract, *, num_threads: int, pool_size: int):
        self._image_size = contract.input.image_size
        self._cam_grid = contract.output.cam_grid
        interpreters = [self._open(model_path, num_threads) for _ in range(pool_size)]
        self._dynamic_batch = self._check_signature(interpreters[0])
        self._runners: queue.Queue = queue.Queue()
        for interpreter in interpreters:
            self._runners.put(interpreter.get_signature_runner(SIGNATURE))

    @staticmethod
    def _open(model_path: Path, num_threads: int) -> Interpreter:
        try:
            return Interpreter(model_path=str(model_path), num_threads=num_threads)
        except (ValueError, RuntimeError) as error:
            raise BundleError(f"LiteRT cannot load {model_path.name}: {error}") from error

    def _check_signature(self, interpreter: Interpreter) -> bool:
        """Refuse a model whose tensors disagree with the contract; return whether N is dynamic."""
        signatures = interpreter.get_signature_list()
        if SIGNATURE not in signatures:
            raise BundleError(f"model.tflite has no {SIGNATURE!r} signature (found {sorted(signatures)})")
        runner = interpreter.get_signature_runner(SIGNATURE)
        inputs, outputs = runner.get_input_details(), runner.get_output_details()
        if set(inputs) != {INPUT_NAME} or not {OUTPUT_PROBABILITY, OUTPUT_CAM} <= set(outputs):
            raise BundleError(f"model.tflite has inputs {sorted(inputs)} and outputs {sorted(outputs)}")
        image_spec, cam_spec = inputs[INPUT_NAME], outputs[OUTPUT_CAM]
        size, grid = self._image_size, self._cam_grid
        if list(image_spec["shape_signature"][1:]) != [size, size, 3] or image_spec["dtype"] != np.float32:
            found = image_spec["shape_signature"]
            raise BundleError(f"model.tflite input is {found}, contract says [N,{size},{size},3] float32")
        if list(cam_spec["shape_signature"][1:]) != [grid, grid]:
            found = cam_spec["shape_signature"]
            raise BundleError(f"model.tflite cam is {found}, contract says [N,{grid},{grid}]")
        return int(image_spec["shape_signature"][0]) == -1

    @contextmanager
    def _borrowed(self) -> Iterator:
        runner = self._runners.get()  # blocks while every interpreter is busy
        try:
            yield runner
        finally:
            self._runners.put(runner)

    def infer(self, images: np.ndarray) -> EngineOutput:
        images = np.ascontiguousarray(images, dtype=np.float32)
        # A fixed-batch export ([1, S, S, 3]) is run one image at a time rather than resized.
        chunks = [images] if self._dynamic_batch else [images[i : i + 1] for i in range(len(images))]
        with self._borrowed() as run:
            results = [run(**{INPUT_NAME: chunk}) for chunk in chunks]
        probability = np.concatenate([np.array(r[OUTPUT_PROBABILITY]) for r in results])
        cam = np.concatenate([np.array(r[OUTPUT_CAM]) for r in results])
        return checked_output(probability, cam, len(images), self._cam_grid)

    def close(self) -> None:
        while not self._runners.empty():
            self._runners.get_nowait()
