"""What a carrier's answer becomes: the hang-up cause (Q.850) that Asterisk 22 gives
for each SIP answer (tests/support/carrier_answers.py, measured on the real trunk by
tests/integration/asterisk/test_carrier_answers.py) through the call state machine to
the attempt's result, and what that result means downstream: when the number is
dialed again, whether it counts in the abandonment figures, the caps, the pacing."""

from __future__ import annotations

import pytest
from support.carrier_answers import ANSWERS, REFUSALS, CarrierAnswer

from compliance.ledger import NEVER_DIALED, starts_abandon_cooldown
from dialer import call_state as cs
from dialer import pbx_records as pr
from dialer.call_state import Call
from dialer.recycle import DEFAULT_RULES, REST_SECONDS, next_attempt_after, rules_for
from dialer.stats import AttemptTimes, figures_of
from metrics.labels import CALL_RESULTS
from store.models import AttemptResult

CARRIER_RESULTS = ("no_answer", "busy", "invalid_number", "declined", "failed")


def ringing() -> Call:
    return cs.on_ringing(Call(attempt_id=1, account_id=2, dialed_at=0.0), 0.5)


@pytest.mark.parametrize("answer", REFUSALS, ids=lambda a: a.answer)
def test_given_carrier_refusal_when_its_cause_ends_the_call_then_result(
    answer: CarrierAnswer,
) -> None:
    assert cs.on_hangup(ringing(), answer.cause, 4.0).result == answer.result
    # A call Asterisk never answered before the dialer died reads the same from CEL.
    assert cs.orphan_result(answered=False, ended=True, bridged=False, cause=answer.cause) == (
        answer.result
    )


@pytest.mark.parametrize(
    ("cause", "result"),
    [
        (None, "no_answer"),  # ended without a cause
        (16, "no_answer"),  # normal clearing before an answer: the dialplan's fallback
        (18, "no_answer"),  # no user responding (SIP 408)
        (19, "no_answer"),  # no answer (SIP 480, the ring timeout)
        (20, "failed"),  # unregistered: our trunk has no reachable contact, not the debtor
        (17, "busy"),  # SIP 486, 600
        (1, "invalid_number"),  # unallocated (SIP 404, 604)
        (22, "invalid_number"),  # number changed (SIP 410)
        (28, "invalid_number"),  # invalid number format (SIP 484)
        (21, "declined"),  # call rejected (SIP 603; 401/403/407 too)
        (34, "failed"),  # circuit congestion (SIP 503)
        (27, "failed"),  # destination out of order (SIP 502)
        (38, "failed"),  # network out of order (SIP 500)
        (3, "failed"),  # no route to destination: our routing
        (41, "failed"),  # temporary failure
        (42, "failed"),  # switching equipment congestion
        (58, "failed"),  # bearer capability not available (SIP 488)
        (127, "failed"),  # interworking (unknown SIP 4xx/6xx)
        (0, "failed"),  # a Hangup with cause 0 before any answer: nothing says why
    ],
)  # fmt: skip
def test_given_q850_cause_of_an_unanswered_call_then_result(cause: int | None, result: str) -> None:
    assert cs.unanswered_result(cause) == result
    assert cs.on_hangup(ringing(), cause, 4.0).result == result


@pytest.mark.parametrize("cause", range(128))
def test_given_any_q850_cause_then_a_carrier_result_never_an_answer(cause: int) -> None:
    result = cs.unanswered_result(cause)
    assert result in CARRIER_RESULTS
    assert cs.abandonment_role(result) is None


def test_given_early_media_then_200_when_bridged_and_the_debtor_hangs_up_then_contact() -> None:
    # 183 with early media moves nothing: the call is answered at the 200 OK.
    [contact] = [a for a in ANSWERS if a.result == "contact"]
    call = cs.on_answer(Call(attempt_id=1, account_id=2, dialed_at=0.0), 1.0)
    call = cs.on_amd(call, True, 1.1)  # AMD heard no audio: NOTSURE, a person
    call = cs.on_bridged(call, agent_id=9, at=1.3)
    ended = cs.on_hangup(call, contact.cause, 7.0)
    assert (ended.result, ended.agent_id, ended.answered_at) == ("contact", 9, 1.0)


def test_given_answer_then_bye_at_once_while_amd_listens_then_early_hangup_not_abandoned() -> None:
    [quick] = [a for a in ANSWERS if a.result == cs.EARLY_HANGUP]
    call = cs.on_answer(cs.on_ringing(Call(attempt_id=1, account_id=2), 0.5), 2.0)
    ended = cs.on_hangup(call, quick.cause, 2.05)
    assert ended.result == cs.EARLY_HANGUP
    assert cs.abandonment_role(ended.result) == cs.EARLY


@pytest.mark.parametrize(("cause", "result"), [(1, "invalid_number"), (21, "declined"),
                                               (34, "failed"), (0, "no_answer")])  # fmt: skip
def test_given_dead_dialers_unanswered_call_in_cel_then_the_live_mapping(
    cause: int, result: str
) -> None:
    call = pr.PbxCall(attempt_id=5, trunk_started_at=10.0, ended_at=11.0, cause=cause)
    outcome = pr.orphan_outcome(call)
    assert outcome is not None and outcome.result == result


def test_given_number_that_does_not_exist_then_not_redialled_like_a_busy_line() -> None:
    rules = rules_for(None)
    ended = 1000.0
    invalid = next_attempt_after("invalid_number", 1, ended, rules)
    assert invalid == ended + 24 * 3600
    assert invalid > next_attempt_after("busy", 1, ended, rules)
    assert invalid > next_attempt_after("no_answer", 1, ended, rules)
    assert invalid > next_attempt_after("failed", 1, ended, rules)
    # Checked once more; the second "does not exist" in a row rests the account.
    assert next_attempt_after("invalid_number", 2, ended, rules) == ended + REST_SECONDS


def test_given_declined_then_spaced_apart_from_no_answer_and_busy() -> None:
    rules = rules_for(None)
    assert next_attempt_after("declined", 1, 0.0, rules) == 4 * 3600
    assert DEFAULT_RULES["declined"] != DEFAULT_RULES["no_answer"]
    assert DEFAULT_RULES["declined"].delay_seconds > DEFAULT_RULES["busy"].delay_seconds
    assert next_attempt_after("declined", 3, 0.0, rules) == REST_SECONDS


def test_given_campaign_recycle_for_the_new_results_then_used() -> None:
    rules = rules_for({"invalid_number": {"delay_minutes": 2880, "max": 1},
                       "declined": {"delay_minutes": 600}})  # fmt: skip
    assert next_attempt_after("invalid_number", 1, 0.0, rules) == REST_SECONDS
    assert next_attempt_after("declined", 1, 0.0, rules) == 600 * 60


@pytest.mark.parametrize("result", CARRIER_RESULTS)
def test_given_carrier_result_then_neither_an_answer_nor_an_abandon_but_an_attempt(
    result: str,
) -> None:
    figures = figures_of(AttemptTimes(1, result, started_at=0.0, answered_at=None,
                                      bridged_at=None, ended_at=3.0))  # fmt: skip
    assert figures.role is None  # outside the abandonment rate, both sides of it
    assert figures.ring_outcome != "human"  # pacing: not a person answering
    assert figures.talk_seconds is None
    assert not starts_abandon_cooldown(result)
    assert result not in NEVER_DIALED  # the caps count it: a call was placed


def test_given_the_new_results_then_stored_labelled_and_counted() -> None:
    values = {r.value for r in AttemptResult}
    assert {"invalid_number", "declined"} <= values
    assert {"invalid_number", "declined"} <= set(CALL_RESULTS)
    assert set(CARRIER_RESULTS) <= set(DEFAULT_RULES)
