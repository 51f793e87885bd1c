"""The explanation: the prediction plus a map of where the evidence for one class lies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from service.api.api_key import require_api_key
from service.api.deps import (
    FHIR_MEDIA_TYPE,
    DataPlaneDep,
    FhirContextDep,
    FormImageDep,
    ReadyModelDep,
    RequestContextDep,
    RequestPolicyDep,
    ResponseFormatDep,
)
from service.api.encode import gradcam_response
from service.api.fhir import fhir_response
from service.api.problems import problem_responses
from service.api.routes.predict import FHIR_RESPONSE
from service.api.schemas import GradcamResponse
from service.inference.dataplane import ExplanationTarget
from service.inference.heatmap import OverlayFormat

router = APIRouter(tags=["explanation"], dependencies=[Depends(require_api_key)])


@router.post("/gradcam", response_model=GradcamResponse,
             responses={**FHIR_RESPONSE, **problem_responses(400, 401, 406, 413, 415, 422, 502, 503, 504)})
async def explain_image(
    ready: ReadyModelDep,
    policy: RequestPolicyDep,
    answer: ResponseFormatDep,
    fhir: FhirContextDep,
    image: FormImageDep,
    dataplane: DataPlaneDep,
    context: RequestContextDep,
    target: Annotated[ExplanationTarget, Query(
        description="Whose evidence to show: the predicted class (default), or 'cancerous' / 'non-cancerous'.",
    )] = ExplanationTarget.PREDICTED,
    include_raw: Annotated[bool, Query(description="Also return the raw map (`cam`) at its native grid.")] = False,
    heatmap_format: Annotated[OverlayFormat, Query(
        description="How the overlay is encoded: 'jpeg' (default; small and fast) or 'png' (lossless).",
    )] = OverlayFormat.JPEG,
) -> Response:
    """Classify one image and return the LayerCAM overlay (base64 JPEG, or PNG) in the image's own aspect ratio.

    Send multipart/form-data with either the file `file` or the field `url` (a form-encoded `url=` body
    works too); JSON bodies are not accepted here. A `url` goes through the same SSRF guard as /predict-url.
    The map is drawn on one absolute scale for all images; `explanation.empty` says when nothing stood out.
    `Accept: application/fhir+json` answers a FHIR DiagnosticReport with the overlay as its presentedForm.
    """
    explanation = await dataplane.explain(ready, policy, image.data, target, heatmap_format)
    if answer == FHIR_MEDIA_TYPE:
        return fhir_response(explanation.assessment, context, fhir, ready.model_sha256, explanation)
    return gradcam_response(explanation, context, include_raw=include_raw, fetch_ms=image.fetch_ms)
