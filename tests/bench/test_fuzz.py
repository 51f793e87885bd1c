"""bench.fuzz reads schemathesis's JUnit report; a run that wrote none must still give a whole result."""

from __future__ import annotations

from bench.fuzz import failures_from_junit

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="schemathesis">
<testcase name="POST /predict"/>
<testcase name="GET /v1/model"><failure message="boom">- ST101 Server error</failure></testcase>
</testsuite></testsuites>
"""


def test_failures_are_counted_by_operation_and_check_code(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    result = failures_from_junit(junit)
    assert result["test_cases"] == 2
    assert result["failures"] == 1
    assert result["unexpected_failures"] == {"GET /v1/model ST101": 1}
    assert result["known_failures"] == {}


def test_a_missing_report_has_the_same_fields_and_counts_as_not_measured(tmp_path):
    written = tmp_path / "junit.xml"
    written.write_text(JUNIT)
    missing = failures_from_junit(tmp_path / "absent.xml")
    assert missing.keys() == failures_from_junit(written).keys()
    assert missing["failures"] is None
