"""The verdict: probability >= threshold, from configuration, the bundle, or the fallback."""

from __future__ import annotations

from contract.schema import FALLBACK_THRESHOLD
from service.inference.decision import DecisionPolicy
from tests.service.fakes import fake_thresholds


def test_threshold_comes_from_configuration_then_bundle_then_fallback():
    report = fake_thresholds(threshold=0.4, high_sensitivity=0.1)
    assert DecisionPolicy.from_bundle(report, 0.7) == DecisionPolicy(0.7, "configuration", 0.1)
    assert DecisionPolicy.from_bundle(report, None) == DecisionPolicy(0.4, "bundle", 0.1)
    assert DecisionPolicy.from_bundle(None, None) == DecisionPolicy(FALLBACK_THRESHOLD, "fallback", None)


def test_decision_is_positive_at_the_threshold_itself():
    policy = DecisionPolicy(0.5, "bundle", 0.2)
    assert policy.verdict(0.5).is_cancerous and policy.verdict(0.5).label == "cancerous"
    assert not policy.verdict(0.4999).is_cancerous and policy.verdict(0.4999).label == "non-cancerous"
    assert policy.high_sensitivity(0.3).is_cancerous and not policy.verdict(0.3).is_cancerous
    assert DecisionPolicy(0.61, "fallback", None).high_sensitivity(0.9) is None
