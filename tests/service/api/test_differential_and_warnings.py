"""Every prediction carries the seven-class differential and the input check's warnings; INPUT_CHECK=refuse."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.service import sample_images as images
from tests.service.fakes import FakeOpener, fake_contract
from tests.service.harness import serving, upload

CODES = {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"}
RED = images.encode(Image.new("RGB", (96, 80), (255, 0, 0)), "PNG")  # mean colour far from the fake's grey


def test_differential_covers_all_seven_sorted_and_adds_up_to_the_cancer_probability(served):
    body = served.client.post("/predict", files=upload(images.jpeg())).json()
    differential = body["differential"]
    assert {item["code"] for item in differential} == CODES and len(differential) == 7
    assert [item["probability"] for item in differential] == sorted(
        (item["probability"] for item in differential), reverse=True)
    assert sum(item["probability"] for item in differential) == pytest.approx(1.0, abs=1e-5)
    cancerous = sum(item["probability"] for item in differential if item["code"] in {"mel", "bcc", "akiec"})
    assert body["probability"] == pytest.approx(cancerous, abs=1e-6)
    assert next(item for item in differential if item["code"] == "mel")["name"] == "Melanoma"


def test_a_good_image_has_no_warnings_and_a_small_one_says_so(make_settings):
    with serving(make_settings(), FakeOpener(contract=fake_contract(min_short_side=64))) as running:
        good = running.client.post("/predict", files=upload(images.jpeg(96, 80))).json()
        small = running.client.post("/predict", files=upload(images.jpeg(60, 40))).json()
    assert good["warnings"] == []
    assert [w["code"] for w in small["warnings"]] == ["low_resolution"] and "60x40" in small["warnings"][0]["detail"]


def test_a_foreign_image_is_warned_about_but_answered_by_default(make_settings):
    with serving(make_settings(), FakeOpener(contract=fake_contract(distance_threshold=50.0))) as running:
        response = running.client.post("/predict", files=upload(RED, "red.png"))
    assert response.status_code == 200
    assert [w["code"] for w in response.json()["warnings"]] == ["out_of_distribution"]


def test_input_check_refuse_answers_422_instead_of_a_verdict(make_settings):
    settings = make_settings(input_check="refuse")
    with serving(settings, FakeOpener(contract=fake_contract(distance_threshold=50.0))) as running:
        refused = running.client.post("/predict", files=upload(RED, "red.png"))
        explained = running.client.post("/gradcam", files=upload(RED, "red.png"))
        accepted = running.client.post("/predict", files=upload(images.jpeg()))
        batch = running.client.post("/predict/batch", files=[("files", ("red.png", RED)),
                                                             ("files", ("ok.jpg", images.jpeg()))]).json()
    for response in (refused, explained):
        assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"].endswith("out-of-distribution") and "INPUT_CHECK=refuse" in problem["detail"]
    assert accepted.status_code == 200
    assert batch["items"][0]["problem"]["type"].endswith("out-of-distribution") and batch["items"][1]["result"]
    assert (batch["succeeded"], batch["failed"]) == (1, 1)


def test_batch_items_carry_their_own_warnings(make_settings):
    with serving(make_settings(), FakeOpener(contract=fake_contract(distance_threshold=50.0))) as running:
        body = running.client.post("/predict/batch", files=[("files", ("red.png", RED)),
                                                            ("files", ("ok.jpg", images.jpeg()))]).json()
    assert [w["code"] for w in body["items"][0]["result"]["warnings"]] == ["out_of_distribution"]
    assert body["items"][1]["result"]["warnings"] == []
    assert len(body["items"][1]["result"]["differential"]) == 7


def test_input_check_setting_is_validated(make_settings):
    assert make_settings(input_check="REFUSE").input_check == "refuse"
    with pytest.raises(ValueError, match="input_check"):
        make_settings(input_check="ignore")
