"""Turning a probability into a verdict at the configured and the high-sensitivity operating points."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contract.schema import FALLBACK_THRESHOLD, NEGATIVE_LABEL, POSITIVE_LABEL, ThresholdReport

ThresholdSource = Literal["configuration", "bundle", "fallback"]


@dataclass(frozen=True)
class OperatingVerdict:
    threshold: float
    is_cancerous: bool

    @property
    def label(self) -> str:
        return POSITIVE_LABEL if self.is_cancerous else NEGATIVE_LABEL


@dataclass(frozen=True)
class Verdict:
    probability: float
    decision: OperatingVerdict
    high_sensitivity: OperatingVerdict | None


@dataclass(frozen=True)
class DecisionPolicy:
    """Positive when probability >= threshold (the convention threshold.json is tuned under)."""

    threshold: float
    source: ThresholdSource
    high_sensitivity_threshold: float | None

    @classmethod
    def from_bundle(cls, report: ThresholdReport | None, override: float | None) -> DecisionPolicy:
        high_sensitivity = report.high_sensitivity.threshold if report else None
        if override is not None:
            return cls(override, "configuration", high_sensitivity)
        if report is not None:
            return cls(report.threshold, "bundle", high_sensitivity)
        return cls(FALLBACK_THRESHOLD, "fallback", None)

    def decide(self, probability: float) -> Verdict:
        high = self.high_sensitivity_threshold
        return Verdict(
            probability=probability,
            decision=OperatingVerdict(self.threshold, probability >= self.threshold),
            high_sensitivity=None if high is None else OperatingVerdict(high, probability >= high),
        )
