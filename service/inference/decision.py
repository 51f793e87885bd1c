"""Turning the cancer probability into verdicts: at the decision threshold and the high-sensitivity one."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from contract.decision import decision_threshold, is_cancerous
from contract.schema import NEGATIVE_LABEL, POSITIVE_LABEL, ThresholdReport
from service.errors import InvalidOperatingPoint

# configuration: THRESHOLD; bundle: threshold.json; fallback: neither; request: ?threshold=;
# high_sensitivity: ?operating_point=high_sensitivity (the bundle's second threshold)
ThresholdSource = Literal["configuration", "bundle", "fallback", "request", "high_sensitivity"]
OperatingPointName = Literal["decision", "high_sensitivity"]


@dataclass(frozen=True)
class Verdict:
    """The call at one threshold."""

    threshold: float
    is_cancerous: bool

    @property
    def label(self) -> str:
        return POSITIVE_LABEL if self.is_cancerous else NEGATIVE_LABEL


@dataclass(frozen=True)
class DecisionPolicy:
    threshold: float
    source: ThresholdSource
    high_sensitivity_threshold: float | None

    @classmethod
    def from_bundle(cls, report: ThresholdReport | None, override: float | None) -> DecisionPolicy:
        high_sensitivity = report.high_sensitivity.threshold if report else None
        if override is not None:
            return cls(override, "configuration", high_sensitivity)
        return cls(decision_threshold(report), "bundle" if report else "fallback", high_sensitivity)

    def verdict(self, probability: float) -> Verdict:
        return Verdict(self.threshold, bool(is_cancerous(probability, self.threshold)))

    def high_sensitivity(self, probability: float) -> Verdict | None:
        threshold = self.high_sensitivity_threshold
        return None if threshold is None else Verdict(threshold, bool(is_cancerous(probability, threshold)))

    def for_request(self, operating_point: OperatingPointName | None, threshold: float | None) -> DecisionPolicy:
        """The policy one request asked for: its own threshold, the high-sensitivity point, or this one."""
        if threshold is not None and operating_point is not None:
            raise InvalidOperatingPoint("send either `threshold` or `operating_point`, not both")
        if threshold is not None:
            return replace(self, threshold=threshold, source="request")
        if operating_point == "high_sensitivity":
            if self.high_sensitivity_threshold is None:
                raise InvalidOperatingPoint("this bundle has no high-sensitivity threshold (no threshold.json)")
            return replace(self, threshold=self.high_sensitivity_threshold, source="high_sensitivity")
        return self
