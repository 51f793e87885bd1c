"""Domain results → response schemas (the "encode" half of a thin route)."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from service.api.deps import RequestContext
from service.api.problems import describe
from service.api.schemas import (
    BatchItem,
    BatchResponse,
    Classification,
    GradcamResponse,
    ModelRef,
    OperatingPointVerdict,
    PredictionResponse,
    Timing,
)
from service.inference.dataplane import Assessment, Explanation, ModelIdentity


def classification(assessment: Assessment) -> Classification:
    verdict = assessment.verdict
    high = verdict.high_sensitivity
    return Classification(
        probability=verdict.probability,
        label=verdict.decision.label,
        is_cancerous=verdict.decision.is_cancerous,
        threshold=verdict.decision.threshold,
        threshold_source=assessment.threshold_source,
        high_sensitivity=None if high is None else OperatingPointVerdict(
            threshold=high.threshold, is_cancerous=high.is_cancerous, label=high.label
        ),
    )


def model_ref(identity: ModelIdentity) -> ModelRef:
    return ModelRef(
        id=identity.name, version=identity.version, backbone=identity.backbone, engine=identity.engine
    )


def prediction_response(
    assessment: Assessment, context: RequestContext, *, fetch_ms: float | None = None
) -> PredictionResponse:
    return PredictionResponse(
        **classification(assessment).model_dump(),
        request_id=context.request_id,
        model=model_ref(assessment.model),
        timing=Timing(
            preprocess_ms=assessment.preprocess_ms, inference_ms=assessment.inference_ms,
            fetch_ms=fetch_ms, total_ms=context.elapsed_ms(),
        ),
    )


def gradcam_response(
    explanation: Explanation, context: RequestContext, *, include_raw: bool, fetch_ms: float | None = None
) -> GradcamResponse:
    assessment = explanation.assessment
    base = prediction_response(assessment, context, fetch_ms=fetch_ms).model_dump()
    base["timing"]["heatmap_ms"] = explanation.heatmap_ms
    return GradcamResponse(
        **base,
        heatmap_png_base64=base64.b64encode(explanation.heatmap_png).decode("ascii"),
        heatmap_size=int(assessment.image.shape[0]),
        cam=assessment.cam.astype(float).round(6).tolist() if include_raw else None,
    )


def batch_response(
    filenames: Sequence[str | None],
    outcomes: Sequence[Assessment | Exception],
    identity: ModelIdentity,
    context: RequestContext,
) -> BatchResponse:
    items = [
        _batch_item(index, name, outcome, context)
        for index, (name, outcome) in enumerate(zip(filenames, outcomes, strict=True))
    ]
    assessments = [outcome for outcome in outcomes if isinstance(outcome, Assessment)]
    return BatchResponse(
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


def _batch_item(
    index: int, filename: str | None, outcome: Assessment | Exception, context: RequestContext
) -> BatchItem:
    if isinstance(outcome, Assessment):
        return BatchItem(index=index, filename=filename, result=classification(outcome))
    problem = describe(outcome, instance=f"{context.path}#items/{index}", request_id=context.request_id)
    return BatchItem(index=index, filename=filename, problem=problem)

