"""The served bundle's metadata."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from service.api.deps import ModelDep, require_api_key
from service.api.problems import problem_responses
from service.api.schemas import ModelInfo, OperatingPointInfo, ThresholdInfo

router = APIRouter(tags=["model"], dependencies=[Depends(require_api_key)])


@router.get("/v1/model", response_model=ModelInfo, responses=problem_responses(401, 503))
async def read_model(model: ModelDep) -> ModelInfo:
    """Backbone, input size, thresholds, file sha256s and test metrics of the served bundle."""
    bundle, policy = model.require_ready()
    contract, report = bundle.contract, bundle.thresholds
    thresholds = ThresholdInfo(
        decision=policy.threshold,
        source=policy.source,
        bundle=_operating_point(report),
        high_sensitivity=_operating_point(report.high_sensitivity if report else None),
    )
    return ModelInfo(
        id=contract.model_name,
        version=contract.model_version,
        created_at=contract.created_at,
        backbone=contract.backbone,
        backbone_weights=contract.backbone_weights,
        engine=bundle.engine.name,
        input=contract.input,
        cam_grid=contract.output.cam_grid,
        gradcam_layer=contract.gradcam_layer,
        thresholds=thresholds,
        files=contract.files,
        test_metrics=contract.test_metrics,
        licence=contract.licence,
    )


def _operating_point(point: BaseModel | None) -> OperatingPointInfo | None:
    return None if point is None else OperatingPointInfo.model_validate(point.model_dump())
