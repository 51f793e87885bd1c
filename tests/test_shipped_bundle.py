"""The bundle in models/ is what the README and the model card say: it loads, it is served, its numbers agree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contract.bundle import read_contract, read_thresholds
from contract.schema import BundleFiles
from service.core.config import Settings
from service.inference.bundle_loader import open_bundle
from tests.service.harness import serving, upload

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED = REPO_ROOT / "models"
HEADLINE = ("roc_auc", "pr_auc", "sensitivity", "specificity", "ece")


@pytest.fixture(scope="module")
def test_metrics() -> dict:
    return json.loads((SHIPPED / BundleFiles.METRICS).read_text())["test"]


@pytest.fixture(scope="module")
def served():
    with serving(Settings(model_dir=SHIPPED), open_bundle) as running:
        yield running


def test_every_listed_file_matches_its_hash_and_the_thresholds_name_this_model():
    contract = read_contract(SHIPPED)  # raises on any sha256 mismatch
    assert read_thresholds(SHIPPED).model_sha256 == contract.files[BundleFiles.KERAS_MODEL]
    assert read_thresholds(SHIPPED).split == "validation"
    assert sum(path.stat().st_size for path in SHIPPED.glob("*") if path.is_file()) < 40 * 1024 * 1024


def test_the_service_serves_it_on_litert_and_reports_its_test_metrics(served, test_metrics):
    info = served.client.get("/v1/model").json()
    assert info["engine"] == "litert" and info["version"] == read_contract(SHIPPED).model_version
    for metric in HEADLINE:
        assert info["test_metrics"][metric] == pytest.approx(test_metrics[metric])


def test_readme_and_model_card_quote_the_measured_numbers(test_metrics):
    readme = (REPO_ROOT / "README.md").read_text()
    bundled = readme[readme.index("## The bundled model"):readme.index("## Development")]
    card = (SHIPPED / "MODEL_CARD.md").read_text()
    for metric in ("roc_auc", "pr_auc", "sensitivity", "specificity", "ece"):
        assert f"{test_metrics[metric]:.3f}" in bundled, metric
        assert re.search(rf"\| {metric} \| {test_metrics[metric]:.3f} \|", card), metric
    assert f"v{read_contract(SHIPPED).model_version}" in bundled


def test_it_separates_real_test_split_lesions(served, ham10000_dir):
    # A few dozen held-out images through the HTTP API: a smoke check that the served model is the trained
    # one (a random head scores ~0.5), not a re-measurement of the card's numbers.
    manifest = pd.read_csv(SHIPPED / BundleFiles.SPLIT_MANIFEST)
    test = manifest[manifest["split"] == "test"]
    chosen = pd.concat([test[test["label"] == 1].head(20), test[test["label"] == 0].head(20)])
    files = {path.stem: path for path in ham10000_dir.rglob("*.jpg")}
    scores = [served.client.post("/predict", files=upload(files[image_id].read_bytes())).json()["probability"]
              for image_id in chosen["image_id"]]
    labels = chosen["label"].to_numpy()
    positives, negatives = np.array(scores)[labels == 1], np.array(scores)[labels == 0]
    pairwise_auc = (positives[:, None] > negatives[None, :]).mean()
    assert pairwise_auc > 0.75, pairwise_auc
