"""The display scale: one absolute scale from the validation maps, and none magnified out of rounding noise."""

import numpy as np
import pytest

from training import explanation
from training.explanation import DISPLAY_PERCENTILE, EMPTY_FRACTION, SIGNAL_FLOOR, explanation_spec


def spec_for(maps: np.ndarray, monkeypatch):
    monkeypatch.setattr(explanation, "predicted_maps", lambda *args: maps)
    return explanation_spec(None, "block5c_add", np.zeros((len(maps), 8, 8, 3)), np.zeros(len(maps), bool))


def test_the_scale_is_the_validation_percentile_of_map_peaks(monkeypatch):
    peaks = np.linspace(0.2, 2.0, 40)
    maps = np.zeros((40, 3, 3))
    maps[:, 1, 1] = peaks
    spec = spec_for(maps, monkeypatch)
    assert spec.grid == 3
    assert spec.display_scale == pytest.approx(np.percentile(peaks, DISPLAY_PERCENTILE))
    assert spec.empty_below == pytest.approx(EMPTY_FRACTION * spec.display_scale)


@pytest.mark.parametrize("peak", [0.0, 6e-13, SIGNAL_FLOOR / 2])
def test_maps_of_rounding_noise_are_shown_as_empty_not_at_full_colour(monkeypatch, capsys, peak):
    # a barely trained model's maps peak near 1e-13 log-odds: scaled by their own percentile, the service
    # would paint float32 noise full red
    maps = np.full((10, 3, 3), peak)
    spec = spec_for(maps, monkeypatch)
    assert spec.display_scale == 1.0
    assert maps.max() < spec.empty_below
    assert "every map will show as empty" in capsys.readouterr().out


def test_maps_with_signal_give_no_warning(monkeypatch, capsys):
    spec_for(np.full((10, 3, 3), SIGNAL_FLOOR * 10), monkeypatch)
    assert "warning" not in capsys.readouterr().out
