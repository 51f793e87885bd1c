"""What every runtime engine provides: images in, probabilities and Grad-CAM grids out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from service.errors import EngineFailure


@dataclass(frozen=True)
class EngineOutput:
    probabilities: np.ndarray  # (N,) float32 in [0, 1]
    cams: np.ndarray  # (N, G, G) float32, ReLU'd, unnormalised Grad-CAM of the cancer logit


class Engine(Protocol):
    """A loaded model that can classify and explain a batch; safe to call from several threads."""

    name: str  # "litert" or "keras": reported in responses and metrics

    def infer(self, images: np.ndarray) -> EngineOutput:
        """images: (N, S, S, 3) float32 RGB in 0-255."""
        ...

    def close(self) -> None: ...


def checked_output(probability: np.ndarray, cam: np.ndarray, batch: int, cam_grid: int) -> EngineOutput:
    """Hold a runtime's raw outputs to the contract, so a broken export fails loudly, not silently."""
    probabilities = np.asarray(probability, dtype=np.float32).reshape(-1)
    cams = np.asarray(cam, dtype=np.float32)
    if probabilities.shape != (batch,) or cams.shape != (batch, cam_grid, cam_grid):
        raise EngineFailure(
            f"engine returned probability {np.shape(probability)} and cam {np.shape(cam)}; "
            f"expected ({batch}, 1) and ({batch}, {cam_grid}, {cam_grid})"
        )
    if not (np.all(np.isfinite(probabilities)) and np.all(np.isfinite(cams))):
        raise EngineFailure("engine returned a non-finite probability or CAM value")
    return EngineOutput(np.clip(probabilities, 0.0, 1.0), np.maximum(cams, 0.0))
