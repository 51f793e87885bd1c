"""Fuzz the API from its own OpenAPI document (schemathesis 4, in-process against the ASGI app).

A bounded run for CI: a few examples per operation, with the real tiny bundle loaded so the model
endpoints answer 200 where the input allows. The longer run against a live server is `python -m bench.fuzz`.
URL fetches are confined to a host that cannot resolve, so fuzzed URLs never leave the machine.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402 - only once schemathesis is known to be there
from schemathesis import checks  # noqa: E402

API_KEY = "hardening-fuzz-key-0123456789"
MAX_EXAMPLES = 25
MULTIPART_OPERATIONS = {"/predict", "/predict/batch"}


@pytest.fixture(scope="module")
def api_schema(tiny_bundle):
    from service.core.config import Settings
    from service.inference.model import LesionModel
    from service.main import create_app

    served = Settings(model_dir=tiny_bundle, api_key=API_KEY, log_level="ERROR",
                      url_allowed_hosts=["images.example.invalid"], url_fetch_timeout_s=2, url_connect_timeout_s=1)
    model = LesionModel(served)
    model.load()  # the ASGI transport does not run the lifespan; load here so the model endpoints are live
    assert model.ready, model.failure
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(served, model))


schema = schemathesis.pytest.from_fixture("api_schema")


@schemathesis.check
def negative_data_rejected(ctx, response, case):
    """negative_data_rejection, with /predict/batch judged by design: any multipart part is a file whatever
    it spells, so schema-violating parts are still files, refused one by one (per-item 422) inside a 200."""
    if case.operation.path == "/predict/batch" and response.status_code == 200:
        body = response.json()
        assert body["succeeded"] == 0, f"fuzzed bytes were classified as an image: {body['items']}"
        assert all(item["problem"] is not None for item in body["items"]), body["items"]
        return None
    return checks.negative_data_rejection(ctx, response, case)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_within_its_schema(case):
    # positive_data_acceptance is out: schema-valid bytes that are not an image are rightly a 422.
    # negative_data_rejection is replaced by negative_data_rejected above.
    case.call_and_validate(
        headers={"X-API-Key": API_KEY},
        excluded_checks=[checks.positive_data_acceptance, checks.negative_data_rejection],
        additional_checks=[negative_data_rejected],
    )


@pytest.mark.parametrize("path", sorted(MULTIPART_OPERATIONS))
def test_malformed_multipart_400_is_documented(api_schema, path):
    assert "400" in api_schema.raw_schema["paths"][path]["post"]["responses"]
