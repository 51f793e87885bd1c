"""bench.http_e2e's side-by-side ratio: sides are named callables, and failed requests are counted per side."""

import time

import httpx

from bench.http_e2e import EndpointPoster, interleaved_ratio


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
