"""The call state machine: each path of a call ends with the right result."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer import call_state as cs
from dialer.call_state import Call, CallState


def new() -> Call:
    return Call(attempt_id=1, account_id=2, dialed_at=0.0)


def test_given_answered_human_bridged_when_hangup_then_contact() -> None:
    c = cs.on_bridged(cs.on_amd(cs.on_answer(cs.on_ringing(new(), 1), 5), True, 6), 9, 6.1)
    c = cs.on_hangup(c, 16, 60)
    assert (c.state, c.result, c.agent_id, c.bridged_at) == (CallState.ended, "contact", 9, 6.1)


def test_given_human_without_agent_when_safe_harbor_then_abandoned() -> None:
    c = cs.on_abandoned(cs.on_amd(cs.on_answer(new(), 5), True, 6), 8)
    assert cs.on_hangup(c, 16, 20).result == "abandoned"


def test_given_human_who_hangs_up_before_bridge_then_counted_abandoned() -> None:
    c = cs.on_amd(cs.on_answer(new(), 5), True, 5.5)
    assert cs.on_hangup(c, 16, 6).result == "abandoned"


def test_given_machine_then_machine() -> None:
    assert cs.on_hangup(cs.on_amd(cs.on_answer(new(), 5), False, 8), 16, 9).result == "machine"


@pytest.mark.parametrize(("cause", "result"), [(17, "busy"), (19, "no_answer"), (18, "no_answer"),
                                               (34, "failed"), (1, "failed"), (21, "failed"), (None, "no_answer")])  # fmt: skip
def test_given_unanswered_when_hangup_cause_then_result(cause: int | None, result: str) -> None:
    assert cs.on_hangup(cs.on_ringing(new(), 1), cause, 30).result == result


@pytest.mark.parametrize(
    ("reason", "result"), [(3, "no_answer"), (5, "busy"), (8, "failed"), (0, "failed")]
)
def test_given_originate_failure_reason_then_result(reason: int, result: str) -> None:
    assert cs.on_originate_failed(new(), reason, 30).result == result


def test_given_cancelled_ringing_call_then_cancelled_not_no_answer() -> None:
    c = cs.on_cancelled(cs.on_ringing(new(), 1))
    assert cs.on_hangup(c, 16, 3).result == "cancelled"
    answered = cs.on_cancelled(cs.on_answer(new(), 2))
    assert not answered.cancelled  # too late to cancel: a person may be on the line


EVENTS = st.lists(
    st.sampled_from(["ring", "answer", "human", "machine", "bridge", "abandon", "hangup", "fail"]),
    max_size=12,
)


def step(c: Call, event: str, t: float) -> Call:
    return {
        "ring": lambda: cs.on_ringing(c, t),
        "answer": lambda: cs.on_answer(c, t),
        "human": lambda: cs.on_amd(c, True, t),
        "machine": lambda: cs.on_amd(c, False, t),
        "bridge": lambda: cs.on_bridged(c, 1, t),
        "abandon": lambda: cs.on_abandoned(c, t),
        "hangup": lambda: cs.on_hangup(c, 16, t),
        "fail": lambda: cs.on_originate_failed(c, 3, t),
    }[event]()


@given(EVENTS)
def test_property_ended_is_final_and_every_end_has_a_result(events: list[str]) -> None:
    c = new()
    for t, e in enumerate(events):
        before = c
        c = step(c, e, float(t))
        if before.state is CallState.ended:
            assert c == before
        if c.state is CallState.ended:
            assert c.result in {
                "contact",
                "abandoned",
                "machine",
                "busy",
                "no_answer",
                "failed",
                "cancelled",
            }
        if c.state is CallState.bridged:
            assert c.answered_at is not None
