"""bench.report turns whatever results exist into RESULTS.md: a partial or older set must still make a report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bench import report

MACHINE = {"cpu_model": "test CPU", "logical_cpus": 2, "usable_cpus": 2, "memory_gib": 23.5, "os": "Linux",
           "python": "3.11", "tensorflow": "2", "keras": "3", "ai_edge_litert": "2", "numpy": "2", "pillow": "1",
           "fastapi": "0", "uvicorn": "0", "httpx": "0", "load_average_1m_at_start": 0.5,
           "measured_at_utc": "2026-12-07T00:00:00Z"}


def test_machine_section_names_results_that_did_not_record_a_machine():
    text = "\n".join(report.machine_section({"inference": {"machine": MACHINE}, "train_pipeline": {"images": 3},
                                             "soak": None}))
    assert "test CPU" in text
    assert "inference 0.5 (2026-12-07T00:00:00Z)" in text
    assert "Not recorded in: train_pipeline." in text


def test_machine_section_without_any_machine_says_so():
    text = "\n".join(report.machine_section({"train_pipeline": {"images": 3}}))
    assert "No result recorded its machine. Not recorded in: train_pipeline." in text


def test_bundle_section_without_a_bundle_says_so():
    assert "No result recorded the bundle" in "\n".join(report.bundle_section({"train_pipeline": {"images": 3}}))


def test_training_table_leaves_the_machine_to_its_own_section():
    text = "\n".join(report.train_section({"machine": MACHINE, "images": 640}))
    assert "| images | 640 |" in text
    assert "machine" not in text and "test CPU" not in text


@pytest.mark.parametrize(("decode_ms", "expected"), [
    (1.0, "leaves 1.00 ms for everything HTTP adds"),
    (3.0, "is spent 1.00 ms over before HTTP adds anything"),
])
def test_decode_sentence_computes_what_the_budget_leaves(decode_ms, expected):
    inference = {"results": {"preprocess_600x450_jpeg": {"p50_ms": decode_ms}, "litert_raw": {"p50_ms": 4.0}}}
    assert expected in report._decode_sentence(inference)


def test_decode_sentence_is_left_out_without_both_timings():
    assert report._decode_sentence({"results": {"litert_raw": {"p50_ms": 4.0}}}) == ""
    assert report._decode_sentence(None) == ""


def test_fuzz_count_is_read_from_new_and_older_results():
    base = {"schemathesis": "4", "command": ["st", "run"], "server_settings": "-", "failures": 0,
            "unexpected_failures": {}, "known_failures": {}, "server_error_log_lines": 0,
            "server_alive_at_end": True, "summary": "ok"}
    assert "entries: 14;" in "\n".join(report.fuzz_section({**base, "test_cases": 14}))
    assert "entries: 12;" in "\n".join(report.fuzz_section({**base, "operations": 12}))


@pytest.mark.parametrize(("failures", "expected"), [(0, "**met**"), (None, "not measured")])
def test_fuzz_goals_are_not_met_by_a_run_that_wrote_no_report(failures, expected):
    fuzz = {"failures": failures, "unexpected_failures": {}, "known_failures": {}, "server_error_log_lines": 0,
            "server_alive_at_end": True}
    rows = [line for line in report.goals_section({"fuzz": fuzz}) if line.startswith("| fuzz:")]
    assert len(rows) == 2 and all(line.endswith(f"| {expected} |") for line in rows)


def test_report_from_a_single_older_result_without_a_bundle_or_machine(tmp_path, monkeypatch):
    results = tmp_path / "results"
    results.mkdir()
    committed = json.loads((report.RESULTS_DIR / "train_pipeline.json").read_text())
    committed.pop("machine", None)
    (results / "train_pipeline.json").write_text(json.dumps({**committed, "images": 640}))
    out = tmp_path / "RESULTS.md"
    monkeypatch.setattr(sys, "argv", ["bench.report", "--results", str(results), "--out", str(out)])
    report.main()
    text = out.read_text()
    assert "| images | 640 |" in text
    assert "No result recorded its machine. Not recorded in: train_pipeline." in text
    assert "No result recorded the bundle" in text
    assert not any(Path(tmp_path).glob(".*partial*")), "the report is renamed into place, not left half-written"


def test_report_refuses_an_empty_results_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["bench.report", "--results", str(tmp_path), "--out", str(tmp_path / "R.md")])
    with pytest.raises(SystemExit, match="no results"):
        report.main()
