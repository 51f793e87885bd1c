"""What every runtime engine provides: a forward pass, and a forward pass with the explanation map."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from service.errors import EngineFailure

# The most images one LiteRT invocation takes (the Keras fallback runs a request's batch in one call): a batch
# costs less per image than the same images one at a time (LiteRT, 2 cores: ~0.85x at 4), and each
# interpreter's memory grows with it (~6 MiB an image, Lite0 at 192 px).
MAX_CALL_BATCH = 4


@dataclass(frozen=True)
class Forward:
    probabilities: np.ndarray  # (N, K) float32, rows sum to 1: the diagnoses of contract.output.classes
    features: np.ndarray  # (N, F) float32: pooled backbone features, for the input check


@dataclass(frozen=True)
class Explained(Forward):
    maps_cancerous: np.ndarray  # (N, h, w) float32 >= 0: raw LayerCAM of what speaks for "cancerous"
    maps_non_cancerous: np.ndarray  # (N, h, w) float32 >= 0: ... and for "non-cancerous"


class Engine(Protocol):
    """A loaded model; safe to call from several threads."""

    name: str  # "litert" or "keras": reported in responses and metrics

    def predict(self, images: np.ndarray) -> Forward:
        """images: (N, S, S, 3) float32 RGB in 0-255."""
        ...

    def explain(self, images: np.ndarray) -> Explained:
        """The forward outputs and both explanation maps, in one pass."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class OutputShape:
    """What the contract says the outputs look like, to hold a runtime to it."""

    classes: int
    features: int
    grid: int

    def forward(self, probabilities: np.ndarray, features: np.ndarray, batch: int) -> Forward:
        probabilities = np.asarray(probabilities, dtype=np.float32).reshape(batch, -1)
        features = np.asarray(features, dtype=np.float32).reshape(batch, -1)
        if probabilities.shape[1] != self.classes or features.shape[1] != self.features:
            raise EngineFailure(f"engine returned probabilities {probabilities.shape} and features "
                                f"{features.shape}; the contract says ({batch}, {self.classes}) and "
                                f"({batch}, {self.features})")
        if not (np.all(np.isfinite(probabilities)) and np.all(np.isfinite(features))):
            raise EngineFailure("engine returned a non-finite probability or feature")
        return Forward(np.clip(probabilities, 0.0, 1.0), features)

    def explained(self, probabilities: np.ndarray, features: np.ndarray, maps_cancerous: np.ndarray,
                  maps_non_cancerous: np.ndarray, batch: int) -> Explained:
        forward = self.forward(probabilities, features, batch)
        return Explained(forward.probabilities, forward.features, self._maps(maps_cancerous, batch),
                         self._maps(maps_non_cancerous, batch))

    def _maps(self, maps: np.ndarray, batch: int) -> np.ndarray:
        maps = np.asarray(maps, dtype=np.float32)
        if maps.shape != (batch, self.grid, self.grid) or not np.all(np.isfinite(maps)):
            raise EngineFailure(f"engine returned maps {maps.shape}; the contract says ({batch}, {self.grid}, "
                                f"{self.grid}), finite")
        return np.maximum(maps, 0.0)
