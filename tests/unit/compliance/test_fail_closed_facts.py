"""Facts the engine cannot place fail closed: a stage nobody defined is treated as the
legal one, and consent whose evidence is blank is no consent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from compliance_builders import make_request

from compliance.engine import EmailFacts, Engine
from compliance.profile import load_profiles

PROFILES = load_profiles()
engine = Engine()
NOW = datetime(2026, 1, 13, 18, 0, tzinfo=UTC)  # Tuesday, midday in MX, CO and PE


@pytest.mark.parametrize("stage", ["legal", "Legal", "judicial", "legal ", ""])
@pytest.mark.parametrize("pid", ["MX", "CO", "PE"])
def test_given_a_stage_that_is_not_a_collection_stage_when_checked_then_legal_stage(
    pid: str, stage: str
) -> None:
    request = make_request(PROFILES[pid], account={"stage": stage}, now=NOW)
    assert "legal_stage" in engine.evaluate(request, NOW).reasons


@pytest.mark.parametrize("stage", ["friendly", "firm", "prelegal"])
def test_given_a_collection_stage_when_checked_then_allowed(stage: str) -> None:
    request = make_request(PROFILES["PE"], account={"stage": stage}, now=NOW)
    assert engine.evaluate(request, NOW).allowed


@pytest.mark.parametrize("evidence", ["", "   ", None])
def test_given_consent_with_blank_evidence_when_checked_then_no_consent(
    evidence: str | None,
) -> None:
    co = PROFILES["CO"]
    call = make_request(co, phone={"consent_ref": evidence}, now=NOW)
    assert engine.evaluate(call, NOW).reasons == ("no_consent",)
    email = replace(call, channel="email", phone=None,
                    email=EmailFacts("deudor@example.co", consent=True, consent_ref=evidence))  # fmt: skip
    assert "no_consent" in engine.evaluate(email, NOW).reasons
