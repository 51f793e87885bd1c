"""How far an image's pooled backbone features lie from the training images': a Mahalanobis distance.

Training fits the mean and a whitening matrix W (W^T W = the inverse of the shrunk covariance) on the
training split, and sets the threshold at a high percentile of the validation split's distances; the
bundle stores them (`input_check.npz`, hashed in the contract). The service computes the same distance
from the LiteRT model's `features` output, with numpy alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class FeatureStatistics:
    mean: np.ndarray  # (F,)
    whitening: np.ndarray  # (F, F): distance = || W (x - mean) ||

    def distance(self, features: np.ndarray) -> np.ndarray:
        """(N, F) -> (N,) Mahalanobis distances."""
        centred = np.asarray(features, dtype=np.float32) - self.mean
        return np.linalg.norm(centred @ self.whitening.T, axis=-1)

    def save(self, path: Path) -> None:
        with path.open("wb") as handle:
            np.savez(handle, mean=self.mean.astype(np.float32), whitening=self.whitening.astype(np.float32))

    @classmethod
    def load(cls, path: Path) -> FeatureStatistics:
        with np.load(path, allow_pickle=False) as stored:
            mean, whitening = stored["mean"].astype(np.float32), stored["whitening"].astype(np.float32)
        if mean.ndim != 1 or whitening.shape != (mean.size, mean.size):
            raise ValueError(f"input-check statistics have shapes {mean.shape} and {whitening.shape}")
        return cls(mean, whitening)
