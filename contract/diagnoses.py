"""The seven HAM10000 diagnoses, which of them count as cancerous, and how the model's classes add up.

The model predicts a probability for each diagnosis (its output columns follow `DIAGNOSES`, recorded in
the bundle as `output.classes`); the cancer probability is the sum over the cancerous ones. Training,
evaluation and serving all compute it here, so the differential and the verdict can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Diagnosis:
    code: str
    name: str
    cancerous: bool


# Alphabetical by code, as the ISIC 2018 challenge (Task 3) lists them; this is the model's column order.
DIAGNOSES: tuple[Diagnosis, ...] = (
    Diagnosis("akiec", "Actinic keratosis / intraepithelial carcinoma", cancerous=True),
    Diagnosis("bcc", "Basal cell carcinoma", cancerous=True),
    Diagnosis("bkl", "Benign keratosis-like lesion", cancerous=False),
    Diagnosis("df", "Dermatofibroma", cancerous=False),
    Diagnosis("mel", "Melanoma", cancerous=True),
    Diagnosis("nv", "Melanocytic nevus", cancerous=False),
    Diagnosis("vasc", "Vascular lesion", cancerous=False),
)
CLASS_CODES: tuple[str, ...] = tuple(diagnosis.code for diagnosis in DIAGNOSES)
BY_CODE: dict[str, Diagnosis] = {diagnosis.code: diagnosis for diagnosis in DIAGNOSES}
CANCEROUS_CODES = frozenset(d.code for d in DIAGNOSES if d.cancerous)
NON_CANCEROUS_CODES = frozenset(d.code for d in DIAGNOSES if not d.cancerous)


def class_index(code: str) -> int:
    """Column of a diagnosis code in the model's output; ValueError for an unknown code."""
    try:
        return CLASS_CODES.index(code)
    except ValueError:
        raise ValueError(f"unknown diagnosis {code!r}; expected one of {list(CLASS_CODES)}") from None


def cancerous_mask(classes: Sequence[str] = CLASS_CODES) -> np.ndarray:
    """(K,) bool: which output columns are cancerous diagnoses."""
    return np.array([BY_CODE[code].cancerous for code in classes], dtype=bool)


def cancer_probability(class_probabilities: np.ndarray, classes: Sequence[str] = CLASS_CODES) -> np.ndarray:
    """(..., K) class probabilities -> (...,) probability that the lesion is cancerous."""
    probabilities = np.asarray(class_probabilities, dtype=np.float64)
    return np.clip(probabilities[..., cancerous_mask(classes)].sum(axis=-1), 0.0, 1.0)
