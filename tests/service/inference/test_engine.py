"""A runtime's raw outputs are held to the contract, so a broken export fails loudly."""

from __future__ import annotations

import numpy as np
import pytest

from service.errors import EngineFailure
from service.inference.engine import OutputShape

SHAPE = OutputShape(classes=7, features=5, grid=3)


def test_good_outputs_pass_and_are_clipped():
    probabilities = np.full((2, 7), 1 / 7, dtype=np.float32)
    probabilities[0, 0] = 1.0000001
    forward = SHAPE.forward(probabilities, np.ones((2, 5)), batch=2)
    assert forward.probabilities.shape == (2, 7) and forward.probabilities.max() <= 1.0
    explained = SHAPE.explained(probabilities, np.ones((2, 5)), -np.ones((2, 3, 3)), np.ones((2, 3, 3)), batch=2)
    assert explained.maps_cancerous.min() == 0.0, "maps are non-negative"


@pytest.mark.parametrize(("probabilities", "features"), [
    (np.ones((1, 6)), np.ones((1, 5))),
    (np.ones((1, 7)), np.ones((1, 4))),
])
def test_wrong_widths_are_an_engine_failure(probabilities, features):
    with pytest.raises(EngineFailure, match="contract says"):
        SHAPE.forward(probabilities, features, batch=1)


def test_non_finite_values_are_an_engine_failure():
    with pytest.raises(EngineFailure, match="non-finite"):
        SHAPE.forward(np.full((1, 7), np.nan), np.ones((1, 5)), batch=1)
    with pytest.raises(EngineFailure, match="maps"):
        SHAPE.explained(np.ones((1, 7)), np.ones((1, 5)), np.full((1, 3, 3), np.inf), np.ones((1, 3, 3)), batch=1)
