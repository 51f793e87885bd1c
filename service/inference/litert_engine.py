"""The fast path: the bundle's model.tflite run by LiteRT, with no TensorFlow in the process.

`predict` runs the forward-only signature, so /predict never pays for the explanation's backward pass.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from contract.bundle import BundleError
from contract.schema import LiteRTSignature as Sig
from contract.schema import ModelContract
from service.inference.engine import MAX_CALL_BATCH, Explained, Forward, OutputShape

_EXPECTED = {
    Sig.PREDICT: ({Sig.IMAGES}, {Sig.PROBABILITIES, Sig.FEATURES}),
    Sig.EXPLAIN: ({Sig.IMAGES}, {Sig.PROBABILITIES, Sig.FEATURES, Sig.CAM_CANCEROUS, Sig.CAM_NON_CANCEROUS}),
}


@dataclass(frozen=True)
class _Runners:
    predict: Callable[..., dict[str, np.ndarray]]
    explain: Callable[..., dict[str, np.ndarray]]


class LiteRTEngine:
    """A small pool of interpreters: LiteRT interpreters are not thread-safe, so each call borrows one.

    The pool hands out the interpreter returned last. When calls come one at a time, they all run on the same
    interpreter, whose weights, arena and thread pool are still warm; a first-in-first-out pool would alternate
    between interpreters and make every call start cold (bench/RESULTS.md measures /predict with this pool).
    """

    name = "litert"

    def __init__(self, model_path: Path, contract: ModelContract, *, num_threads: int, pool_size: int):
        self._shape = OutputShape(len(contract.output.classes), contract.output.feature_dim,
                                  contract.explanation.grid)
        interpreters = [_open(model_path, num_threads) for _ in range(pool_size)]
        _check_signatures(interpreters[0], contract.input.image_size)
        self._pool: queue.LifoQueue[_Runners] = queue.LifoQueue()
        for interpreter in interpreters:
            self._pool.put(_Runners(interpreter.get_signature_runner(Sig.PREDICT),
                                    interpreter.get_signature_runner(Sig.EXPLAIN)))

    @contextmanager
    def _borrowed(self) -> Iterator[_Runners]:
        runners = self._pool.get()  # blocks while every interpreter is busy
        try:
            yield runners
        finally:
            self._pool.put(runners)

    # At most MAX_CALL_BATCH images per invocation, so each interpreter's memory stays sized for that many
    # whatever the request's batch (/predict/batch takes 16). The signature runner resizes its input to each
    # call's batch (~0.25 ms a change, measured).
    def predict(self, images: np.ndarray) -> Forward:
        images = np.ascontiguousarray(images, dtype=np.float32)
        with self._borrowed() as runners:
            outs = [runners.predict(**{Sig.IMAGES: images[i : i + MAX_CALL_BATCH]})
                    for i in range(0, len(images), MAX_CALL_BATCH)]
        return self._shape.forward(_stack(outs, Sig.PROBABILITIES), _stack(outs, Sig.FEATURES), len(images))

    # One image at a time: /gradcam explains one, and the backward pass holds far more activations per image.
    def explain(self, images: np.ndarray) -> Explained:
        images = np.ascontiguousarray(images, dtype=np.float32)
        with self._borrowed() as runners:
            outs = [runners.explain(**{Sig.IMAGES: images[i : i + 1]}) for i in range(len(images))]
        return self._shape.explained(_stack(outs, Sig.PROBABILITIES), _stack(outs, Sig.FEATURES),
                                     _stack(outs, Sig.CAM_CANCEROUS), _stack(outs, Sig.CAM_NON_CANCEROUS),
                                     len(images))

    def close(self) -> None:
        # Nothing to release early: the interpreters go with the engine, so a request that took its snapshot
        # before shutdown finishes normally (LesionModel refuses new ones), as with the Keras engine.
        pass


def _stack(outputs: list[dict[str, np.ndarray]], name: str) -> np.ndarray:
    return np.concatenate([np.asarray(out[name]) for out in outputs])


def _open(model_path: Path, num_threads: int) -> Interpreter:
    try:
        return Interpreter(model_path=str(model_path), num_threads=num_threads)
    except (ValueError, RuntimeError) as error:
        raise BundleError(f"LiteRT cannot load {model_path.name}: {error}") from error


def _check_signatures(interpreter: Interpreter, image_size: int) -> None:
    """Refuse a model whose signatures disagree with the contract, at load rather than per request."""
    signatures = interpreter.get_signature_list()
    for name, (inputs, outputs) in _EXPECTED.items():
        if name not in signatures:
            raise BundleError(f"model.tflite has no {name!r} signature (found {sorted(signatures)})")
        found_in, found_out = set(signatures[name]["inputs"]), set(signatures[name]["outputs"])
        if found_in != inputs or found_out != outputs:
            raise BundleError(f"model.tflite signature {name!r} has inputs {sorted(found_in)} and outputs "
                              f"{sorted(found_out)}; expected {sorted(inputs)} and {sorted(outputs)}")
        image = interpreter.get_signature_runner(name).get_input_details()[Sig.IMAGES]
        if list(image["shape_signature"][1:]) != [image_size, image_size, 3] or image["dtype"] != np.float32:
            raise BundleError(f"model.tflite input is {image['shape_signature']}, "
                              f"the contract says [N,{image_size},{image_size},3] float32")
