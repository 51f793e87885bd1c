"""A prediction as a FHIR R4 DiagnosticReport (`Accept: application/fhir+json`), for clinical tools.

The report is `preliminary` (an AI's suggestion, never a final result), in the imaging category, and carries:
- contained Observations: the cancer probability (UCUM %), the verdict at the operating point with its
  threshold as a component, and the seven-class differential as components;
- a contained Device naming the model's id, version and sha256;
- the AI-asserted security label (HL7 AI Transparency on FHIR: v3 ObservationValue AIAST) on every resource;
- the disclaimer as the narrative, input-check warnings as Observation notes, and for /gradcam the
  explanation overlay as a presentedForm (image/jpeg, or image/png when asked for).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import uuid

from fastapi import Response

from service.api.deps import FHIR_MEDIA_TYPE, FhirContext, RequestContext
from service.api.schemas import DISCLAIMER
from service.inference.dataplane import Assessment, Explanation
from service.inference.model import ModelIdentity

SYSTEM = "urn:skin-cancer-detector"
UCUM = "http://unitsofmeasure.org"
AI_ASSERTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "AIAST",
               "display": "Artificial Intelligence asserted"}
IMAGING = {"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "IMG", "display": "Diagnostic Imaging"}
MODEL_DEVICE = "#model"


def fhir_response(assessment: Assessment, context: RequestContext, fhir: FhirContext, model_sha256: str | None,
                  explanation: Explanation | None = None) -> Response:
    report = diagnostic_report(assessment, context, fhir, model_sha256, explanation)
    return Response(json.dumps(report), media_type=FHIR_MEDIA_TYPE)


def diagnostic_report(assessment: Assessment, context: RequestContext, fhir: FhirContext,
                      model_sha256: str | None, explanation: Explanation | None = None) -> dict:
    observations = [probability_observation(assessment), verdict_observation(assessment),
                    differential_observation(assessment)]
    report: dict = {
        "resourceType": "DiagnosticReport",
        "id": uuid.uuid4().hex,  # a FHIR id allows fewer characters than a client's X-Request-ID
        "meta": {"security": [AI_ASSERTED]},
        "identifier": [{"system": f"{SYSTEM}:service-request-id", "value": context.request_id}],
        "text": {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>'
                                              f"{html.escape(DISCLAIMER)}</p></div>"},
        "contained": [device(assessment.model, model_sha256), *observations],
        "status": "preliminary",
        "category": [{"coding": [IMAGING]}],
        "code": {"coding": [{"system": f"{SYSTEM}:code", "code": "dermoscopy-ai-assessment",
                             "display": "Dermoscopy AI assessment"}], "text": "Dermoscopy AI assessment"},
        "issued": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "result": [{"reference": f"#{observation['id']}"} for observation in observations],
        "conclusion": conclusion(assessment),
    }
    if fhir.subject:
        report["subject"] = {"reference": fhir.subject}
    if fhir.identifier:  # the client's own identifier first, the service's request id after it
        report["identifier"].insert(0, {"system": f"{SYSTEM}:client-identifier", "value": fhir.identifier})
    if explanation is not None:
        report["presentedForm"] = [{
            "contentType": explanation.overlay_format.media_type,
            "data": base64.b64encode(explanation.overlay).decode("ascii"),
            "title": f"Explanation map: evidence for '{explanation.target.value}' ({explanation.spec.method})",
        }]
    return report


def device(identity: ModelIdentity, model_sha256: str | None) -> dict:
    resource = {
        "resourceType": "Device",
        "id": MODEL_DEVICE.lstrip("#"),
        "meta": {"security": [AI_ASSERTED]},
        "deviceName": [{"name": identity.name, "type": "model-name"}],
        "version": [{"value": identity.version}],
        "type": {"text": f"AI model ({identity.backbone}, {identity.engine} runtime)"},
    }
    if model_sha256:
        resource["identifier"] = [{"system": f"{SYSTEM}:model-sha256", "value": model_sha256}]
    return resource


def _observation(name: str, text: str) -> dict:
    return {"resourceType": "Observation", "id": name, "meta": {"security": [AI_ASSERTED]}, "status": "preliminary",
            "code": {"text": text}, "device": {"reference": MODEL_DEVICE}}


def _percent(probability: float) -> dict:
    return {"value": round(probability * 100, 4), "unit": "%", "system": UCUM, "code": "%"}


def probability_observation(assessment: Assessment) -> dict:
    observation = _observation("probability", "Probability that the lesion is cancerous (mel, bcc, akiec)")
    observation["valueQuantity"] = _percent(assessment.probability)
    if assessment.warnings:
        observation["note"] = [{"text": f"input check: {warning.code.value}: {warning.detail}"}
                               for warning in assessment.warnings]
    return observation


def verdict_observation(assessment: Assessment) -> dict:
    verdict = assessment.verdict
    observation = _observation("verdict", "Verdict at the operating point")
    observation["valueCodeableConcept"] = {"coding": [{"system": f"{SYSTEM}:label", "code": verdict.label,
                                                       "display": verdict.label}], "text": verdict.label}
    observation["component"] = [{"code": {"text": f"threshold ({assessment.threshold_source})"},
                                  "valueQuantity": _percent(verdict.threshold)}]
    return observation


def differential_observation(assessment: Assessment) -> dict:
    observation = _observation("differential", "Seven-class differential (HAM10000 diagnoses)")
    observation["component"] = [
        {"code": {"coding": [{"system": f"{SYSTEM}:diagnosis", "code": d.code, "display": d.name}], "text": d.name},
         "valueQuantity": _percent(d.probability)}
        for d in assessment.differential
    ]
    return observation


def conclusion(assessment: Assessment) -> str:
    verdict, top = assessment.verdict, assessment.differential[0]
    relation = ">=" if verdict.is_cancerous else "<"
    text = (f"AI suggestion: {verdict.label} (probability {assessment.probability:.1%} {relation} threshold "
            f"{verdict.threshold:.1%}); most probable diagnosis {top.name} ({top.probability:.1%}).")
    if assessment.warnings:
        text += " Input check: " + "; ".join(warning.code.value for warning in assessment.warnings) + "."
    return text + " Decision support, not a diagnosis."
