"""Domain results -> response bodies (the "encode" half of a thin route).

Responses are built once as their schema and serialised straight to JSON bytes: FastAPI's own path
would validate the finished model again and go through a dict on the way.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from fastapi import Response
from pydantic import BaseModel

from service.api.deps import RequestContext
from service.api.problems import describe
from service.api.schemas import (
    BatchItem,
    BatchResponse,
    Diagnosis,
    ExplanationInfo,
    GradcamResponse,
    InputWarning,
    ModelRef,
    Prediction,
    PredictionResponse,
    Timing,
    Verdict,
)
from service.inference.dataplane import Assessment, Explanation
from service.inference.decision import Verdict as DomainVerdict
from service.inference.model import ModelIdentity

EMPTY_MAP_MESSAGE = "No region stood out: the model found no localised evidence for this class."


def json_response(body: BaseModel, *, exclude: set[str] | None = None) -> Response:
    return Response(body.model_dump_json(exclude=exclude), media_type="application/json")


def prediction_fields(assessment: Assessment) -> dict[str, object]:
    """The fields every prediction carries, single or in a batch."""
    verdict = assessment.verdict
    return {
        "probability": assessment.probability,
        "label": verdict.label,
        "is_cancerous": verdict.is_cancerous,
        "threshold": verdict.threshold,
        "threshold_source": assessment.threshold_source,
        "high_sensitivity": _verdict(assessment.high_sensitivity),
        "differential": [Diagnosis(code=d.code, name=d.name, probability=d.probability)
                         for d in assessment.differential],
        "warnings": [InputWarning(code=w.code, detail=w.detail) for w in assessment.warnings],
    }


def _verdict(verdict: DomainVerdict | None) -> Verdict | None:
    if verdict is None:
        return None
    return Verdict(threshold=verdict.threshold, is_cancerous=verdict.is_cancerous, label=verdict.label)


def model_ref(identity: ModelIdentity) -> ModelRef:
    return ModelRef(id=identity.name, version=identity.version, backbone=identity.backbone, engine=identity.engine)


def prediction_response(assessment: Assessment, context: RequestContext, *, fetch_ms: float | None = None) -> Response:
    body = PredictionResponse(
        **prediction_fields(assessment),
        request_id=context.request_id,
        model=model_ref(assessment.model),
        timing=Timing(preprocess_ms=assessment.preprocess_ms, inference_ms=assessment.inference_ms,
                      fetch_ms=fetch_ms, total_ms=context.elapsed_ms()),
    )
    return json_response(body)


def gradcam_response(explanation: Explanation, context: RequestContext, *, include_raw: bool,
                     fetch_ms: float | None = None) -> Response:
    assessment, summary, spec = explanation.assessment, explanation.summary, explanation.spec
    width, height = explanation.overlay_size
    body = GradcamResponse(
        **prediction_fields(assessment),
        request_id=context.request_id,
        model=model_ref(assessment.model),
        timing=Timing(preprocess_ms=assessment.preprocess_ms, inference_ms=assessment.inference_ms,
                      fetch_ms=fetch_ms, heatmap_ms=explanation.heatmap_ms, total_ms=context.elapsed_ms()),
        heatmap_base64=base64.b64encode(explanation.overlay).decode("ascii"),
        heatmap_media_type=explanation.overlay_format.media_type,
        heatmap_width=width,
        heatmap_height=height,
        explanation=ExplanationInfo(
            method=spec.method, layer=spec.layer, target=explanation.target.value, peak=summary.peak,
            strength=summary.strength, display_scale=spec.display_scale, empty=summary.empty,
            message=EMPTY_MAP_MESSAGE if summary.empty else
            f"The coloured regions are where the evidence for '{explanation.target.value}' lies; "
            "colour and opacity grow with its strength on one scale shared by all images.",
        ),
        cam=explanation.raw_map.astype(float).round(6).tolist() if include_raw else None,
    )
    return json_response(body, exclude=None if include_raw else {"cam"})


def batch_response(filenames: Sequence[str | None], outcomes: Sequence[Assessment | Exception],
                   identity: ModelIdentity, context: RequestContext) -> Response:
    items = [_batch_item(index, name, outcome, context)
             for index, (name, outcome) in enumerate(zip(filenames, outcomes, strict=True))]
    assessments = [outcome for outcome in outcomes if isinstance(outcome, Assessment)]
    body = BatchResponse(
        request_id=context.request_id,
        model=model_ref(identity),
        items=items,
        succeeded=len(assessments),
        failed=len(items) - len(assessments),
        timing=Timing(
            preprocess_ms=round(sum(a.preprocess_ms for a in assessments), 3),
            inference_ms=assessments[0].inference_ms if assessments else 0.0,
            total_ms=context.elapsed_ms(),
        ),
    )
    return json_response(body)


def _batch_item(index: int, filename: str | None, outcome: Assessment | Exception,
                context: RequestContext) -> BatchItem:
    if isinstance(outcome, Assessment):
        return BatchItem(index=index, filename=filename, result=Prediction(**prediction_fields(outcome)))
    problem = describe(outcome, instance=f"{context.path}#items/{index}", request_id=context.request_id)
    return BatchItem(index=index, filename=filename, problem=problem)
