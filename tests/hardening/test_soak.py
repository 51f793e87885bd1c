"""The soak's quick mode in CI: 300 mixed valid and hostile requests against a real uvicorn process."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.common import sample_jpeg
from bench.soak import soak_server


def test_quick_soak_meets_every_goal(tiny_bundle: Path, tmp_path: Path):
    pytest.importorskip("keras", reason="building the test bundle needs TensorFlow (the dev extra)")
    report = soak_server(tiny_bundle, requests=300, concurrency=8, time_limit_s=120,
                         log_path=tmp_path / "server.log", jpeg=sample_jpeg())
    summary = {key: report.get(key) for key in ("statuses", "dropped_by_kind", "unexpected_statuses",
                                                "rss_mib_after_warmup", "rss_mib_final", "server_log_tail")}
    assert all(report["goals"].values()), (report["goals"], summary)
