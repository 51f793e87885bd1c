"""The maths-free parts of the runtime: decisions, output checks, and drawing the heatmap."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from contract.schema import FALLBACK_THRESHOLD
from service.errors import EngineFailure
from service.inference.decision import DecisionPolicy
from service.inference.engine import checked_output
from service.inference.heatmap import OVERLAY_ALPHA, jet, normalise_cam, overlay, overlay_png, upsample
from tests.service.fakes import fake_thresholds


def test_threshold_comes_from_configuration_then_bundle_then_fallback():
    report = fake_thresholds(threshold=0.4, high_sensitivity=0.1)
    assert DecisionPolicy.from_bundle(report, 0.7) == DecisionPolicy(0.7, "configuration", 0.1)
    assert DecisionPolicy.from_bundle(report, None) == DecisionPolicy(0.4, "bundle", 0.1)
    assert DecisionPolicy.from_bundle(None, None) == DecisionPolicy(FALLBACK_THRESHOLD, "fallback", None)
    assert FALLBACK_THRESHOLD == 0.61


def test_decision_is_positive_at_the_threshold_itself():
    policy = DecisionPolicy(0.5, "bundle", 0.2)
    at, below, between = policy.decide(0.5), policy.decide(0.4999), policy.decide(0.3)
    assert at.decision.is_cancerous and at.decision.label == "cancerous"
    assert not below.decision.is_cancerous and below.decision.label == "non-cancerous"
    assert between.high_sensitivity.is_cancerous and not between.decision.is_cancerous
    assert DecisionPolicy(0.61, "fallback", None).decide(0.9).high_sensitivity is None


def test_engine_output_is_held_to_the_contract():
    good = checked_output(np.array([[0.2], [1.0000001]]), np.ones((2, 3, 3)), batch=2, cam_grid=3)
    assert good.probabilities.shape == (2,) and good.probabilities.max() <= 1.0
    with pytest.raises(EngineFailure, match="expected"):
        checked_output(np.array([[0.2]]), np.ones((1, 4, 4)), batch=1, cam_grid=3)
    with pytest.raises(EngineFailure, match="non-finite"):
        checked_output(np.array([[np.nan]]), np.ones((1, 3, 3)), batch=1, cam_grid=3)


def test_cam_normalisation_keeps_zero_as_zero():
    assert normalise_cam(np.zeros((3, 3))).max() == 0.0
    cam = normalise_cam(np.array([[0.0, 2.0], [1.0, 4.0]]))
    assert cam.max() == 1.0 and cam.min() == 0.0 and cam[1, 0] == 0.25


def test_upsampling_is_smooth_and_bounded():
    grid = np.array([[0.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    big = upsample(grid, 64)
    assert big.shape == (64, 64)
    assert big.min() >= 0.0 and big.max() <= 1.0
    assert big[:, 0].mean() < big[:, 32].mean() < big[:, 63].mean()


def test_jet_runs_from_blue_to_red():
    cold, hot = jet(np.array([0.0])), jet(np.array([1.0]))
    assert cold[0, 2] > 100 and cold[0, 0] == 0  # blue
    assert hot[0, 0] > 100 and hot[0, 2] == 0  # red


def test_overlay_marks_the_hot_region_red():
    image = np.full((32, 32, 3), 128, dtype=np.uint8)
    cam = np.array([[0.0, 0.0], [0.0, 5.0]])  # hot bottom-right
    drawn = overlay(image, cam)
    assert drawn.shape == (32, 32, 3) and drawn.dtype == np.uint8
    blended = drawn.astype(int)
    bottom_right, top_left = blended[28, 28], blended[2, 2]
    assert bottom_right[0] > bottom_right[2]  # more red than blue
    assert top_left[2] > top_left[0]  # more blue than red


def test_table_coloured_overlay_matches_the_exact_blend_within_quantisation():
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    cam = rng.uniform(0, 3, (6, 6))
    exact_heat = jet(upsample(normalise_cam(cam), 64)).astype(np.float64)
    exact = (1 - OVERLAY_ALPHA) * image.astype(np.float64) + OVERLAY_ALPHA * exact_heat
    # 256 colour levels on a ramp of slope 4 x 255, blended at alpha 0.4: at most ~2 levels apart
    assert np.abs(overlay(image, cam).astype(np.float64) - exact).max() <= 3.0


def test_overlay_png_decodes_to_the_image_size():
    png = overlay_png(np.zeros((48, 48, 3), dtype=np.uint8), np.ones((6, 6)))
    decoded = Image.open(io.BytesIO(png))
    assert decoded.format == "PNG" and decoded.size == (48, 48) and decoded.mode == "RGB"
