"""Accept: application/fhir+json answers a FHIR R4 DiagnosticReport that a maintained FHIR library validates."""

from __future__ import annotations

import base64

import pytest
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation

from tests.service import sample_images as images
from tests.service.harness import upload

FHIR = {"Accept": "application/fhir+json"}


def _contained(report: dict, resource_type: str) -> list[dict]:
    return [resource for resource in report["contained"] if resource["resourceType"] == resource_type]


def test_predict_answers_a_valid_preliminary_diagnostic_report(served):
    plain = served.client.post("/predict", files=upload(images.jpeg())).json()
    response = served.client.post("/predict?subject=Patient/123&identifier=order-42", files=upload(images.jpeg()),
                                  headers=FHIR)
    assert response.status_code == 200 and response.headers["content-type"] == "application/fhir+json"
    body = response.json()
    report = DiagnosticReport.model_validate(body)  # raises on anything FHIR R4 does not allow
    assert report.status == "preliminary" and report.category[0].coding[0].code == "IMG"
    assert body["subject"] == {"reference": "Patient/123"} and body["identifier"][0]["value"] == "order-42"
    assert body["identifier"][1]["value"] == response.headers["x-request-id"]
    assert body["meta"]["security"][0]["code"] == "AIAST", "AI-generated content is labelled"
    assert "not a diagnosis" in body["text"]["div"].lower() and "not a diagnosis" in body["conclusion"].lower()
    assert plain["label"] in body["conclusion"]
    observations = {obs["id"]: obs for obs in _contained(body, "Observation")}
    for observation in observations.values():
        Observation.model_validate(observation)
    assert [ref["reference"] for ref in body["result"]] == ["#probability", "#verdict", "#differential"]
    probability = observations["probability"]["valueQuantity"]
    assert (probability["unit"], probability["system"], probability["code"]) == ("%", "http://unitsofmeasure.org", "%")
    assert probability["value"] == pytest.approx(plain["probability"] * 100, abs=1e-3)
    verdict = observations["verdict"]
    assert verdict["valueCodeableConcept"]["coding"][0]["code"] == plain["label"]
    assert verdict["component"][0]["valueQuantity"]["value"] == pytest.approx(plain["threshold"] * 100)
    assert [c["code"]["coding"][0]["code"] for c in observations["differential"]["component"]] == [
        d["code"] for d in plain["differential"]]
    [device] = _contained(body, "Device")
    assert device["version"][0]["value"] == "9.9.9-fake" and device["deviceName"][0]["name"] == "skin-cancer-detector"


def test_a_client_request_id_fhir_would_refuse_as_an_id_still_gives_a_valid_report(served):
    headers = {**FHIR, "X-Request-ID": "client_request:" + "x" * 100}
    body = served.client.post("/predict", files=upload(images.jpeg()), headers=headers).json()
    DiagnosticReport.model_validate(body)
    assert body["identifier"][0]["value"] == headers["X-Request-ID"]


def test_gradcam_report_presents_the_overlay(served):
    body = served.client.post("/gradcam", files=upload(images.jpeg()), headers=FHIR).json()
    DiagnosticReport.model_validate(body)
    [form] = body["presentedForm"]
    assert form["contentType"] == "image/jpeg" and base64.b64decode(form["data"]).startswith(b"\xff\xd8\xff")
    as_png = served.client.post("/gradcam?heatmap_format=png", files=upload(images.jpeg()), headers=FHIR).json()
    [form] = as_png["presentedForm"]
    assert form["contentType"] == "image/png" and base64.b64decode(form["data"]).startswith(b"\x89PNG")


def test_warnings_travel_as_notes_and_in_the_conclusion(make_settings):
    from tests.service.fakes import FakeOpener, fake_contract
    from tests.service.harness import serving

    with serving(make_settings(), FakeOpener(contract=fake_contract(min_short_side=64))) as running:
        body = running.client.post("/predict", files=upload(images.jpeg(60, 40)), headers=FHIR).json()
    DiagnosticReport.model_validate(body)
    probability = next(obs for obs in body["contained"] if obs["id"] == "probability")
    assert "low_resolution" in probability["note"][0]["text"] and "low_resolution" in body["conclusion"]


@pytest.mark.parametrize("accept", ["application/json", "*/*", "application/json, application/fhir+json;q=0.5",
                                    "application/fhir+json;q=0.5, application/json", "text/html, */*;q=0.8"])
def test_plain_json_unless_fhir_is_asked_for_first(served, accept):
    response = served.client.post("/predict", files=upload(images.jpeg()), headers={"Accept": accept})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"


def test_fhir_is_chosen_by_preference(served):
    accept = {"Accept": "application/json;q=0.4, application/fhir+json"}
    response = served.client.post("/predict", files=upload(images.jpeg()), headers=accept)
    assert response.headers["content-type"] == "application/fhir+json"


def test_a_batch_asked_for_fhir_only_is_a_406_and_json_when_json_is_acceptable(served):
    files = [("files", ("a.jpg", images.jpeg()))]
    response = served.client.post("/predict/batch", files=files, headers=FHIR)
    assert response.status_code == 406 and "one by one" in response.json()["detail"]
    either = {"Accept": "application/fhir+json, application/json;q=0.9"}
    assert served.client.post("/predict/batch", files=files, headers=either).status_code == 200


def test_an_unsupported_accept_is_a_406_problem(served):
    response = served.client.post("/predict", files=upload(images.jpeg()), headers={"Accept": "application/xml"})
    assert response.status_code == 406 and response.headers["content-type"] == "application/problem+json"
    assert "application/fhir+json" in response.json()["detail"]


@pytest.mark.parametrize("query", ["subject=Patient", "subject=Patient/1 2", "identifier=" + "x" * 200])
def test_bad_pass_through_values_are_a_422(served, query):
    response = served.client.post(f"/predict?{query}", files=upload(images.jpeg()), headers=FHIR)
    assert response.status_code == 422
