"""MODEL_CARD.md is rendered from the bundle's values: counts from the manifest, numbers from the metrics."""

import os

import pandas as pd

from contract.schema import BundleFiles
from tests.service.fakes import fake_contract, fake_thresholds
from training.model_card import render_model_card

METRIC_NAMES = ("roc_auc", "pr_auc", "sensitivity", "specificity", "balanced_accuracy", "accuracy", "precision",
                "brier", "ece")


def _metrics() -> dict:
    test = {name: 0.5 + index / 100 for index, name in enumerate(METRIC_NAMES)} | {"n": 3, "positives": 1}
    per_class = {code: {"n": 1, "recall": 1.0, "precision": 0.5, "roc_auc_one_vs_rest": 0.75}
                 for code in ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")}
    return {"evaluated_on": "a test split", "test": test, "high_sensitivity": test,
            "confidence_intervals_95": {"roc_auc": [0.4, 0.6]}, "confidence_intervals_resample": "lesions",
            "subgroups": {},
            "differential": {"balanced_accuracy": 0.777, "accuracy": 0.8, "per_class": per_class,
                             "balanced_accuracy_prevalence_adjusted": 0.79}}


def test_the_card_states_what_the_bundle_holds(tmp_path):
    pd.DataFrame({"image_id": ["a", "b", "c", "d"], "lesion_id": ["1", "1", "2", "3"], "dx": ["mel", "mel", "nv", "df"],
                  "label": [1, 1, 0, 0], "split": ["train", "train", "validation", "test"]}).to_csv(
        tmp_path / BundleFiles.SPLIT_MANIFEST, index=False)
    history = {"frozen": [{}], "finetune": [{}, {}], "train_seconds": 600.0,
               "calibration": {"temperature": 1.5, "bias": [0.0] * 7}}
    card = render_model_card(tmp_path, fake_contract(), fake_thresholds(), _metrics(), history).read_text()
    assert "# Model card: skin-cancer-detector 9.9.9-fake" in card
    assert "4 images of 3 lesions" in card and "2 train / 1 validation / 1 test" in card
    assert "mel 2" in card and "50.0 % cancerous" in card
    assert "| roc_auc | 0.500 | 0.400 – 0.600 |" in card and "bootstrap resamples of lesions" in card
    assert "**0.777**" in card and "0.790" in card, "the differential's balanced accuracy, both rules"
    assert "1 frozen-backbone, 2 fine-tuning" in card and "10 min of epochs" in card
    assert f"{os.cpu_count()} CPU cores" in card, "the hardware is read, not typed"
    assert "temperature 1.500" in card and "## Input check" in card and "1000.0" in card


def test_the_cards_input_check_states_the_noise_limit_only_where_the_bundle_has_one():
    from training.model_card import input_check_section

    assert "`noisy` when the estimated pixel noise is above 2.50 grey levels" in input_check_section(
        fake_contract(max_noise=2.5))
    assert "noisy" not in input_check_section(fake_contract(max_noise=None))


def test_the_limitations_name_the_colour_constancy_only_where_the_model_has_it():
    from training.model_card import limitations_section

    assert "divides out each image's illuminant (shades_of_grey)" in limitations_section(192, "shades_of_grey")
    assert "warns" in limitations_section(192, "shades_of_grey", noise_checked=True)
    assert "warns" not in limitations_section(192, "shades_of_grey", noise_checked=False)
    assert "illuminant" not in limitations_section(192, "none")
