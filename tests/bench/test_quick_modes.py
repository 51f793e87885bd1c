"""Each benchmark script's --quick mode runs end to end in CI on the test bundle and writes its report.

The numbers of a quick run mean nothing (few iterations, a tiny model, a busy CI box); what is checked is
that the scripts still work and measure what they claim, so the full runs behind bench/RESULTS.md do too.
The soak and the fuzz have their quick modes in tests/hardening/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_quick(module: str, bundle: Path, out: Path, *extra: str, timeout_s: int = 300) -> dict:
    command = [sys.executable, "-m", module, "--quick", "--json", str(out), *extra]
    if bundle is not None:
        command += ["--model-dir", str(bundle)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    finished = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout_s)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def inference_json(tiny_bundle, tmp_path_factory) -> Path:
    """One quick inference run, read by its own test and, as the seed's rate, by the HTTP benchmark's."""
    pytest.importorskip("keras", reason="the Keras variants need TensorFlow (the dev extra)")
    path = tmp_path_factory.mktemp("bench") / "inference.json"
    run_quick("bench.inference", tiny_bundle, path)
    return path


def test_inference_benchmark_times_every_engine_side_by_side(inference_json):
    report = json.loads(inference_json.read_text())
    results = report["results"]
    for variant in ("litert_raw", "service_litert_engine", "seed_model_predict"):
        assert results[variant]["p50_ms"] > 0, variant
    assert report["bundle"]["files"], "the report names the bundle it measured"


def test_http_benchmark_reports_latency_rates_cpu_and_goals(tiny_bundle, tmp_path):
    report = run_quick("bench.http_e2e", tiny_bundle, tmp_path / "http.json")
    one_client = report["levels"]["/predict"]["1"]
    assert one_client["errors"] == 0 and one_client["p50_ms"] > 0
    assert one_client["server_cpu_ms_per_request"] > 0
    throughput = report["server"]["predict_vs_seed_throughput_interleaved"]
    assert len(throughput["rounds"]) == 2 and throughput["failed_requests"] == 0
    assert all(row["seed_model_predict_per_s"] > 0 and row["predict_requests_per_s"] > 0
               for row in throughput["rounds"])
    assert report["goals"]["predict_rps_over_seed_interleaved"] == throughput["median_ratio"] > 0
    assert set(report["goals"]["met"]) >= {"predict_p50_le_1.5x_litert", "predict_rps_ge_10x_seed",
                                           "gradcam_p50_le_1.5x_predict", "zero_errors"}
    for rounds in ("predict_vs_litert_interleaved", "gradcam_vs_predict_interleaved"):
        measured = report["server"][rounds]
        assert len(measured["rounds"]) == 2 and measured["median_ratio"] > 0 and measured["failed_requests"] == 0
    beneath = report["server"]["predict_vs_litert_interleaved"]
    assert beneath["beside_failed_requests"] == 0, "the bare upload endpoint answered every request"
    assert all(row["bare_upload_p50_ms"] > 0 and row["decode_p50_ms"] > 0 for row in beneath["rounds"])
    floor = report["server"]["predict_floor"]
    assert [row["floor_ms"] for row in floor["rounds"]] == [
        round(row["litert_raw_p50_ms"] + row["decode_p50_ms"] + row["bare_upload_p50_ms"], 3)
        for row in beneath["rounds"]]


def test_footprint_benchmark_compares_the_lean_and_tensorflow_engines(tiny_bundle, tmp_path):
    pytest.importorskip("keras", reason="ENGINE=keras needs TensorFlow (the dev extra)")
    report = run_quick("bench.footprint", tiny_bundle, tmp_path / "footprint.json")
    engines = report["engines"]
    assert engines["litert"]["tensorflow_libraries_mapped"] == 0 < engines["keras"]["tensorflow_libraries_mapped"]
    assert engines["litert"]["cold_start_ready_s_median"] > 0


def test_training_pipeline_benchmark_measures_its_overhead(ham10000_dir, tmp_path):
    pytest.importorskip("tensorflow", reason="training needs TensorFlow (the dev extra)")
    report = run_quick("bench.train_pipeline", None, tmp_path / "train.json", "--data-dir", str(ham10000_dir))
    assert report["model_step_alone_ms_per_batch"] > 0 and report["fit_through_pipeline_ms_per_batch"] > 0
    assert report["pipeline_overhead"] == pytest.approx(
        report["fit_through_pipeline_ms_per_batch"] / report["model_step_alone_ms_per_batch"] - 1, abs=2e-3)


def test_explanation_benchmark_scores_every_method_against_the_masks(tmp_path, ham10000_dir):
    pytest.importorskip("keras", reason="the candidate maps are computed in TensorFlow (the dev extra)")
    report = run_quick("bench.explain", REPO / "models", tmp_path / "explain.json")
    for split in ("validation", "test"):
        methods = report["splits"][split]["methods"]
        assert {"layercam@block5c_add", "gradcam@top_activation", "centre_gaussian_baseline"} <= set(methods)
        for values in methods.values():
            assert 0.0 <= values["all"]["energy_share"] <= 1.0 and 0.0 <= values["all"]["pointing"] <= 1.0
        from contract.bundle import read_contract

        served = read_contract(REPO / "models").explanation.layer
        assert report["splits"][split]["served_method"] == f"layercam@{served}"


def test_input_check_benchmark_reports_every_proxy_set(tmp_path, ham10000_dir):
    report = run_quick("bench.input_check", REPO / "models", tmp_path / "input_check.json")
    assert {"everyday", "ham_validation", "ham_test_other_camera", "ham_test_blurred"} <= set(report["rates"])
    cost = report["check_cost"]
    assert cost["check_alone_p50_ms"] > 0 and cost["inference_p50_ms"] > 0
    assert cost["blocks"] == 6 and len(cost["added_per_request_iqr_ms"]) == 2
    # not a speed goal: a check that cost as much as the model it guards would be a broken measurement or a bug
    assert cost["check_alone_p50_ms"] < cost["inference_p50_ms"]
    assert cost["added_per_request_ms"] < cost["inference_p50_ms"]


def test_acquisition_shift_benchmark_scores_every_shift_against_the_unshifted_images(tmp_path, ham10000_dir):
    from bench.shifts import ACQUISITION_SHIFTS

    report = run_quick("bench.acquisition_shift", REPO / "models", tmp_path / "shift.json")
    rows = report["shifts"]
    assert list(rows) == [shift.name for shift in ACQUISITION_SHIFTS]
    assert 0 < report["positives"] < report["images"]  # both classes, so the AUCs exist
    assert rows["none"]["probability_change_p95"] == rows["none"]["verdicts_changed"] == 0
    assert all(rows[name]["probability_change_p95"] > 0 for name in rows if name != "none")
    assert all(0.5 < row["roc_auc"] <= 1 for row in rows.values())
    assert rows["half_resolution"]["flagged_any"] > rows["none"]["flagged_any"]  # the low_resolution warning
