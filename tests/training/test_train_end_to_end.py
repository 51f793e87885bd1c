"""The issue's smoke run: a tiny real training run through the CLI, then evaluate and resume."""

import io
import json
import shutil
import zipfile

import h5py
import keras
import numpy as np
import pandas as pd
import pytest

from contract.bundle import read_contract, read_thresholds
from contract.schema import BundleFiles
from training.cli import main
from training.export import refresh
from training.input_check import PRINCIPAL_DIRECTIONS

pytestmark = pytest.mark.slow

TINY_RUN = ["--weights", "none", "--limit", "200", "--image-size", "96", "--epochs-frozen", "1",
            "--epochs-finetune", "1", "--batch-size", "32"]


@pytest.fixture(scope="module")
def trained(ham10000_dir, tmp_path_factory):
    output = tmp_path_factory.mktemp("run") / "bundle"
    code = main(["train", "--data-dir", str(ham10000_dir), "--output-dir", str(output), *TINY_RUN])
    assert code == 0
    return output


def test_training_writes_a_complete_consistent_bundle(trained, ham10000_dir):
    contract = read_contract(trained)  # verifies every listed file's sha256
    written = {path.name for path in trained.iterdir() if path.is_file()} - {BundleFiles.CONTRACT}
    assert set(contract.files) == written, "the contract hashes every file the run wrote"
    assert {BundleFiles.KERAS_MODEL, BundleFiles.LITERT_MODEL, BundleFiles.THRESHOLD, BundleFiles.METRICS,
            BundleFiles.SPLIT_MANIFEST, BundleFiles.INPUT_CHECK, BundleFiles.MODEL_CARD} <= written
    assert contract.input.image_size == 96 and contract.explanation.grid == 6  # block5c_add: stride 16
    assert contract.output.classes == ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
    assert contract.input_check.distance_threshold > 0 and contract.input_check.min_short_side == 48
    thresholds = read_thresholds(trained, contract)
    assert thresholds.split == "validation"
    assert thresholds.model_sha256 == contract.files[BundleFiles.KERAS_MODEL]
    for plot in ("roc.png", "pr.png", "calibration.png", "confusion_matrix.png", "confusion_matrix_7.png"):
        assert (trained / plot).stat().st_size > 1000
    manifest = pd.read_csv(trained / BundleFiles.SPLIT_MANIFEST)
    assert manifest.groupby("lesion_id")["split"].nunique().max() == 1
    listed = pd.read_csv(ham10000_dir / "HAM10000_metadata.csv")["image_id"]
    position = dict(zip(listed, range(len(listed)), strict=True))
    # the metadata's order, which evaluate and the refreshes score in: their batches match the export's
    assert manifest["image_id"].map(position).is_monotonic_increasing
    assert not list(trained.glob(".*partial*"))
    card = (trained / "MODEL_CARD.md").read_text()
    assert "Decision support, not a diagnosis" in card and "CC BY-NC 4.0" in card
    metrics = json.loads((trained / BundleFiles.METRICS).read_text())
    assert f"| roc_auc | {metrics['test']['roc_auc']:.3f} |" in card
    assert f"**{metrics['differential']['balanced_accuracy']:.3f}**" in card and "## Input check" in card
    assert f"used {len(manifest):,} images" in card, "sizes are counted, not typed"


def test_the_keras_model_is_saved_without_optimizer_state(trained):
    with zipfile.ZipFile(trained / BundleFiles.KERAS_MODEL) as archive:
        weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
        assert "optimizer" not in weights, "Adam's moments would triple the file"
        assert not json.loads(archive.read("config.json")).get("compile_config")


def test_recorded_training_time_is_the_sum_of_epoch_times(trained):
    history = json.loads((trained / "history.json").read_text())
    epochs = history["frozen"] + history["finetune"]
    assert history["train_seconds"] == pytest.approx(sum(epoch["epoch_seconds"] for epoch in epochs), abs=0.2)


def test_evaluate_on_training_data_scores_only_the_test_split(trained, ham10000_dir, tmp_path, capsys):
    manifest = pd.read_csv(trained / BundleFiles.SPLIT_MANIFEST)
    assert main(["evaluate", "--model-dir", str(trained), "--data-dir", str(ham10000_dir),
                 "--metadata", str(trained / BundleFiles.SPLIT_MANIFEST), "--output-dir", str(tmp_path)]) == 0
    report = json.loads((tmp_path / BundleFiles.METRICS).read_text())
    assert report["test"]["n"] == int((manifest["split"] == "test").sum())
    assert "test split" in report["evaluated_on"]
    exported = json.loads((trained / BundleFiles.METRICS).read_text())
    # evaluate reproduces what the export wrote: every headline number, the intervals, the differential
    for section in ("test", "high_sensitivity"):
        assert report[section] == pytest.approx(exported[section], abs=1e-6, nan_ok=True), section
    assert report["confidence_intervals_95"].keys() == exported["confidence_intervals_95"].keys()
    for name, interval in exported["confidence_intervals_95"].items():
        assert report["confidence_intervals_95"][name] == pytest.approx(interval, abs=1e-6, nan_ok=True), name
    assert report["confidence_intervals_resample"] == exported["confidence_intervals_resample"] == "lesions"
    assert report["differential"]["balanced_accuracy"] == pytest.approx(
        exported["differential"]["balanced_accuracy"], abs=1e-6)
    assert "roc_auc" in capsys.readouterr().out


def test_evaluate_with_flips_says_so_and_never_writes_into_the_bundle(trained, ham10000_dir, tmp_path):
    common = ["evaluate", "--model-dir", str(trained), "--data-dir", str(ham10000_dir),
              "--metadata", str(trained / BundleFiles.SPLIT_MANIFEST), "--split", "validation"]
    assert main([*common, "--flips", "horizontal", "--output-dir", str(tmp_path)]) == 0
    report = json.loads((tmp_path / BundleFiles.METRICS).read_text())
    assert report["test_time_flips"] == "horizontal" and "test-time flips (horizontal)" in report["evaluated_on"]
    before = (trained / BundleFiles.METRICS).read_bytes()
    assert main([*common, "--output-dir", str(trained)]) == 2
    assert (trained / BundleFiles.METRICS).read_bytes() == before


def test_a_split_seed_keeps_the_split_while_the_seed_changes(ham10000_dir):
    from training.config import TrainConfig
    from training.train import prepare_table

    def split_of(**seeds) -> pd.Series:
        config = TrainConfig(data_dir=ham10000_dir, output_dir=ham10000_dir, limit=300, **seeds)
        return prepare_table(config).set_index("image_id")["split"].sort_index()

    shipped = split_of(seed=42)
    assert split_of(seed=7, split_seed=42).equals(shipped), "another training seed, the same images in each split"
    assert not split_of(seed=7).equals(shipped), "without --split-seed, --seed draws the split too"
    assert split_of(seed=42, split_seed=7).equals(split_of(seed=7))


def test_rerunning_resumes_from_finished_phases(trained, ham10000_dir, capsys):
    assert main(["train", "--data-dir", str(ham10000_dir), "--output-dir", str(trained), *TINY_RUN]) == 0
    out = capsys.readouterr().out
    assert "phase 'frozen' already finished" in out and "phase 'finetune' already finished" in out


def test_resuming_with_another_recipe_is_refused(trained, ham10000_dir):
    args = ["train", "--data-dir", str(ham10000_dir), "--output-dir", str(trained), *TINY_RUN, "--seed", "9"]
    assert main(args) == 2


def test_offline_imagenet_b0_fails_with_advice(ham10000_dir, tmp_path, capsys, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(keras.applications, "EfficientNetB0", offline)  # the same answer with or without internet
    code = main(["train", "--data-dir", str(ham10000_dir), "--output-dir", str(tmp_path / "b"),
                 "--backbone", "efficientnetb0", "--weights", "imagenet", "--limit", "200"])
    assert code == 2
    assert "efficientnet_lite0" in capsys.readouterr().err


def test_refit_input_check_reproduces_the_exported_check_and_keeps_the_bundle_consistent(trained, ham10000_dir,
                                                                                        tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(trained, bundle)
    before = read_contract(bundle)
    (bundle / BundleFiles.INPUT_CHECK).write_bytes(b"torn")  # an interrupted refit: running it again repairs it
    assert main(["refit-input-check", "--model-dir", str(bundle), "--data-dir", str(ham10000_dir),
                 "--model-version", "0.0.2-test"]) == 0
    after = read_contract(bundle)  # every hash still matches, the card's and the statistics' included
    assert after.model_version == "0.0.2-test"
    assert after.input_check.principal_directions == before.input_check.principal_directions == PRINCIPAL_DIRECTIONS
    assert after.input_check.distance_threshold == pytest.approx(before.input_check.distance_threshold, rel=1e-3)
    assert after.files[BundleFiles.KERAS_MODEL] == before.files[BundleFiles.KERAS_MODEL]
    card = (bundle / BundleFiles.MODEL_CARD).read_text()
    assert f"{PRINCIPAL_DIRECTIONS} leading principal" in card and "0.0.2-test" in card


def test_reconvert_litert_writes_a_verified_model_and_keeps_the_bundle_consistent(trained, ham10000_dir, tmp_path):
    from service.inference.litert_engine import LiteRTEngine

    bundle = tmp_path / "bundle"
    shutil.copytree(trained, bundle)
    before = read_contract(bundle)
    assert main(["reconvert-litert", "--model-dir", str(bundle), "--data-dir", str(ham10000_dir),
                 "--model-version", "0.0.2-test"]) == 0
    after = read_contract(bundle)  # every hash matches again: the model's, the history's and the card's
    assert after.files[BundleFiles.KERAS_MODEL] == before.files[BundleFiles.KERAS_MODEL]
    gaps = json.loads((bundle / BundleFiles.TRAINING_HISTORY).read_text())["litert_gaps"]
    assert gaps["probabilities"] < 1e-3 and gaps["cam_cancerous_relative"] < 1e-2
    engine = LiteRTEngine(bundle / BundleFiles.LITERT_MODEL, after, num_threads=1, pool_size=1)
    images = np.zeros((1, after.input.image_size, after.input.image_size, 3), dtype=np.float32)
    assert engine.explain(images).maps_cancerous.shape == (1, after.explanation.grid, after.explanation.grid)


def test_reconvert_refuses_an_older_contract_before_writing_anything(trained, ham10000_dir, tmp_path, capsys):
    bundle = tmp_path / "bundle"
    shutil.copytree(trained, bundle)
    contract = json.loads((bundle / BundleFiles.CONTRACT).read_text())
    del contract["input_check"]["principal_directions"]  # as bundles were before the check recorded its rank
    (bundle / BundleFiles.CONTRACT).write_text(json.dumps(contract))
    model_before = (bundle / BundleFiles.LITERT_MODEL).read_bytes()
    assert main(["reconvert-litert", "--model-dir", str(bundle), "--data-dir", str(ham10000_dir),
                 "--model-version", "0.0.2-test"]) == 2
    assert "refit-input-check" in capsys.readouterr().err
    assert (bundle / BundleFiles.LITERT_MODEL).read_bytes() == model_before


def test_reevaluate_reproduces_the_exported_metrics_and_keeps_the_bundle_consistent(trained, ham10000_dir, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(trained, bundle)
    before = read_contract(bundle)
    exported = json.loads((bundle / BundleFiles.METRICS).read_text())
    (bundle / "roc.png").write_bytes(b"torn")  # an interrupted refresh: running it again repairs it
    assert main(["reevaluate", "--model-dir", str(bundle), "--data-dir", str(ham10000_dir),
                 "--model-version", "0.0.2-test"]) == 0
    after = read_contract(bundle)  # every hash matches again: the metrics', the plots' and the card's
    assert after.model_version == "0.0.2-test"
    assert after.files[BundleFiles.KERAS_MODEL] == before.files[BundleFiles.KERAS_MODEL]
    rescored = json.loads((bundle / BundleFiles.METRICS).read_text())
    assert rescored["evaluated_on"] == exported["evaluated_on"]
    assert rescored["test"] == pytest.approx(exported["test"], abs=1e-6, nan_ok=True)
    for name, interval in exported["confidence_intervals_95"].items():
        assert rescored["confidence_intervals_95"][name] == pytest.approx(interval, abs=1e-6), name
    assert "0.0.2-test" in (bundle / BundleFiles.MODEL_CARD).read_text()


def test_reevaluate_carries_new_numbers_into_the_contract_that_v1_model_serves(trained, ham10000_dir, tmp_path,
                                                                               monkeypatch):
    bundle = tmp_path / "bundle"
    shutil.copytree(trained, bundle)
    scored = refresh.evaluate_split

    def with_other_numbers(*args, **kwargs):  # as if the evaluation code had changed since the export
        evaluation = scored(*args, **kwargs)
        evaluation.metrics["test"]["ece"] = 0.5
        evaluation.metrics["differential"]["balanced_accuracy"] = 0.25
        return evaluation

    monkeypatch.setattr(refresh, "evaluate_split", with_other_numbers)
    assert main(["reevaluate", "--model-dir", str(bundle), "--data-dir", str(ham10000_dir),
                 "--model-version", "0.0.2-test"]) == 0
    after = read_contract(bundle)
    assert json.loads((bundle / BundleFiles.METRICS).read_text())["test"]["ece"] == 0.5
    assert after.test_metrics["ece"] == 0.5 and after.test_metrics["differential_balanced_accuracy"] == 0.25
