"""How far an image's pooled backbone features lie from the training images': a reduced-rank Mahalanobis distance.

The covariance of the training split's features is kept as its K leading principal directions with their
variances, and one variance shared by the F - K directions left out (the probabilistic-PCA form): the
distance is the Mahalanobis distance under that covariance. With K = F it is the full Mahalanobis distance.
The reduced form costs one (K, F) matrix-vector product per image instead of (F, F): 0.66 MB of statistics
instead of 6.5 MB (bench/RESULTS.md compares the ranks' cost and flag rates).

Training fits the statistics on the training split and sets the threshold at a high percentile of the
validation split's distances; the bundle stores them (`input_check.npz`, hashed in the contract). The
service computes the same distance from the LiteRT model's `features` output, with numpy alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class FeatureStatistics:
    mean: np.ndarray  # (F,)
    directions: np.ndarray  # (K, F): orthonormal rows, the K directions of largest variance
    variances: np.ndarray  # (K,): the variance along each of them
    residual_variance: float  # the mean variance of the F - K directions left out (unused when K = F)

    def __post_init__(self) -> None:
        features = self.mean.shape[0] if self.mean.ndim == 1 else -1
        if (self.directions.ndim != 2 or self.directions.shape[1] != features
                or not 1 <= self.directions.shape[0] <= features
                or self.variances.shape != (self.directions.shape[0],)):
            raise ValueError(f"input-check statistics have shapes {self.mean.shape}, {self.directions.shape} and "
                             f"{self.variances.shape}")
        if not (np.all(self.variances > 0) and self.residual_variance > 0):
            raise ValueError("input-check variances must be positive")

    def distance(self, features: np.ndarray) -> np.ndarray:
        """(N, F) -> (N,) distances."""
        centred = np.asarray(features, dtype=np.float32) - self.mean
        projected = centred @ self.directions.T  # (N, K)
        explained = np.einsum("nk,nk->n", projected, projected)
        squared = np.einsum("nk,k->n", projected * projected, 1.0 / self.variances)
        if self.directions.shape[0] < self.mean.shape[0]:
            # ||c||^2 - ||Vc||^2 in float32: near the threshold the relative error of the distance stays around
            # 1e-3 even for features along the widest direction (the residual variance is ~4000x smaller), far
            # below the threshold's own sampling noise; the explicit c - V^T V c would double the cost
            residual = np.maximum(np.einsum("nf,nf->n", centred, centred) - explained, 0.0)
            squared = squared + residual / self.residual_variance
        return np.sqrt(squared)

    def save(self, path: Path) -> None:
        with path.open("wb") as handle:
            np.savez(handle, mean=self.mean.astype(np.float32), directions=self.directions.astype(np.float32),
                     variances=self.variances.astype(np.float32),
                     residual_variance=np.float32(self.residual_variance))

    @classmethod
    def load(cls, path: Path) -> FeatureStatistics:
        with np.load(path, allow_pickle=False) as stored:
            missing = {"mean", "directions", "variances", "residual_variance"} - set(stored.files)
            if missing:
                raise ValueError(f"input-check statistics lack {sorted(missing)}")
            return cls(stored["mean"].astype(np.float32), stored["directions"].astype(np.float32),
                       stored["variances"].astype(np.float32), float(stored["residual_variance"]))
