"""Pacing: how many calls to place now. Pure policy objects, their estimators, and a simulator."""

from dialer.pacing.policies import POLICY_NAMES, Policy, UnknownPolicyError, make_policy
from dialer.pacing.samples import DurationLog, RingLog
from dialer.pacing.snapshot import (
    AbandonWindow,
    AgentView,
    DurationSample,
    RingingCall,
    RingSample,
    Snapshot,
)

__all__ = [
    "POLICY_NAMES",
    "AbandonWindow",
    "AgentView",
    "DurationLog",
    "DurationSample",
    "Policy",
    "RingLog",
    "RingSample",
    "RingingCall",
    "Snapshot",
    "UnknownPolicyError",
    "make_policy",
]
