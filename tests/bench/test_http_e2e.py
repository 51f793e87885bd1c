"""bench.http_e2e's side-by-side ratio: sides are named callables, failed requests are counted per side, and the
floor beneath /predict is summed from the same rounds."""

import time

import httpx
import pytest

from bench.http_e2e import EndpointPoster, floor_beneath, interleaved_ratio


def test_endpoint_poster_counts_non_200_answers_and_transport_errors():
    answers = iter([200, 503, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers, None)
        if status is None:
            raise httpx.ConnectError("refused", request=request)
        assert request.url.path == "/predict" and b"lesion.jpg" in request.read()
        return httpx.Response(status)

    with httpx.Client(transport=httpx.MockTransport(handler), base_url="http://bench") as client:
        poster = EndpointPoster(client, "/predict", b"\xff\xd8jpeg")
        for _ in range(4):
            poster()
    assert poster.failures == 2  # the 503 and the refused connection


def test_interleaved_ratio_names_rounds_by_side_and_sums_the_sides_failures():
    calls = {"slow": 0, "fast": 0}

    class Failing:
        failures = 0

        def __call__(self) -> None:
            calls["slow"] += 1
            self.failures += 1
            time.sleep(0.001)

    def fast() -> None:
        calls["fast"] += 1
        time.sleep(0.001)  # a p50 of 0.0 ms has no ratio

    measured = interleaved_ratio(("gradcam", Failing()), ("predict", fast), rounds=3, calls=4)
    assert [sorted(row) for row in measured["rounds"]] == [["gradcam_p50_ms", "predict_p50_ms", "ratio"]] * 3
    assert calls == {"slow": 3 * (4 + 5), "fast": 3 * (4 + 5)}  # each round: 5 warm-up calls and 4 timed ones
    assert measured["failed_requests"] == 27 and measured["calls_per_round"] == 4
    assert measured["median_ratio"] > 0


def test_sides_beside_the_ratio_are_timed_every_round_between_its_two_sides():
    order = []

    def side(name: str):
        def call() -> None:
            order.append(name)
            time.sleep(0.001)
        return name, call

    measured = interleaved_ratio(side("predict"), side("litert_raw"), rounds=2, calls=1,
                                 beside=(side("decode"), side("bare_upload")))
    one_round = ["litert_raw"] * 6 + ["decode"] * 6 + ["bare_upload"] * 6 + ["predict"] * 6  # 5 warm-up + 1 timed
    assert order == one_round * 2
    assert sorted(measured["rounds"][0]) == ["bare_upload_p50_ms", "decode_p50_ms", "litert_raw_p50_ms",
                                             "predict_p50_ms", "ratio"]


def test_the_floor_is_the_sum_beneath_predict_and_predict_is_measured_above_it():
    rounds = [{"litert_raw_p50_ms": 5.0, "decode_p50_ms": 2.0, "bare_upload_p50_ms": 1.0, "predict_p50_ms": 12.0},
              {"litert_raw_p50_ms": 4.0, "decode_p50_ms": 1.0, "bare_upload_p50_ms": 1.0, "predict_p50_ms": 7.0},
              {"litert_raw_p50_ms": 6.0, "decode_p50_ms": 2.0, "bare_upload_p50_ms": 1.0, "predict_p50_ms": 11.0}]
    floor = floor_beneath({"rounds": rounds})
    assert [row["floor_ms"] for row in floor["rounds"]] == [8.0, 6.0, 9.0]
    assert [row["above_floor_ms"] for row in floor["rounds"]] == [4.0, 1.0, 2.0]
    assert floor["median_floor_ratio"] == pytest.approx(1.5)  # of 1.6, 1.5 and 1.5
    assert floor["median_above_floor_ms"] == 2.0


def test_failures_beside_the_ratio_are_counted_apart_from_the_ratios_own():
    class Failing:
        failures = 0

        def __call__(self) -> None:
            self.failures += 1
            time.sleep(0.001)

    def fine() -> None:
        time.sleep(0.001)

    measured = interleaved_ratio(("predict", fine), ("litert_raw", fine), rounds=1, calls=2,
                                 beside=(("bare_upload", Failing()),))
    assert measured["failed_requests"] == 0 and measured["beside_failed_requests"] == 7
