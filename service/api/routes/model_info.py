"""The served bundle's metadata."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from contract.diagnoses import BY_CODE
from service.api.api_key import require_api_key
from service.api.deps import ReadyModelDep
from service.api.problems import problem_responses
from service.api.schemas import DiagnosisInfo, ModelInfo, OperatingPoint, Thresholds

router = APIRouter(tags=["model"], dependencies=[Depends(require_api_key)])


@router.get("/v1/model", response_model=ModelInfo, responses=problem_responses(401, 503))
async def read_model(ready: ReadyModelDep) -> ModelInfo:
    """Backbone, input, diagnoses, explanation and input-check settings, thresholds, hashes and test metrics."""
    contract, report, policy = ready.bundle.contract, ready.bundle.thresholds, ready.policy
    return ModelInfo(
        id=contract.model_name,
        version=contract.model_version,
        created_at=contract.created_at,
        backbone=contract.backbone,
        backbone_weights=contract.backbone_weights,
        engine=ready.bundle.engine.name,
        input=contract.input,
        diagnoses=[DiagnosisInfo(code=code, name=BY_CODE[code].name, cancerous=BY_CODE[code].cancerous)
                   for code in contract.output.classes],
        explanation=contract.explanation,
        input_check=contract.input_check,
        thresholds=Thresholds(
            decision=policy.threshold, source=policy.source, bundle=_operating_point(report),
            high_sensitivity=_operating_point(report.high_sensitivity if report else None),
        ),
        files=contract.files,
        test_metrics=contract.test_metrics,
        licence=contract.licence,
    )


def _operating_point(point: BaseModel | None) -> OperatingPoint | None:
    return None if point is None else OperatingPoint.model_validate(point.model_dump())
