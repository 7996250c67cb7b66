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


def test_given_human_who_hangs_up_within_the_grace_then_early_hangup_not_abandoned() -> None:
    c = cs.on_amd(cs.on_answer(new(), 5), True, 5.5)
    assert cs.on_hangup(c, 16, 6).result == cs.EARLY_HANGUP


def test_given_human_still_waiting_after_the_grace_when_hangup_then_abandoned() -> None:
    # No agent and the safe harbor not started yet: past the 2 s it is an abandon.
    c = cs.on_amd(cs.on_answer(new(), 5), True, 5.5)
    assert cs.on_hangup(c, 16, 7.5).result == "abandoned"


def test_given_debtor_hangs_up_during_detection_then_early_hangup_not_abandoned() -> None:
    # The real floor: hung up 1.0 s after answering, AMD still listening (AMDSTATUS=HANGUP).
    c = cs.on_answer(cs.on_ringing(new(), 1), 5)
    ended = cs.on_hangup(c, 16, 6.0)
    assert ended.result == cs.EARLY_HANGUP
    assert cs.abandonment_role(ended.result) == cs.EARLY


def test_given_amd_cause_then_the_grace_runs_from_the_end_of_the_greeting() -> None:
    # AMD waited 800 ms of silence after the greeting before saying HUMAN at t=10.
    end = cs.greeting_end("HUMAN-800-800", 10.0)
    assert end == pytest.approx(9.2)
    c = cs.on_amd(cs.on_answer(new(), 8), True, 10.0, end)
    assert c.connect_by == pytest.approx(11.2)
    assert cs.on_hangup(c, 16, 11.1).result == cs.EARLY_HANGUP
    assert cs.on_hangup(c, 16, 11.3).result == "abandoned"


@pytest.mark.parametrize("cause", [None, "", "MACHINE-INITIALSILENCE-2500-2500", "HUMAN-x-800",
                                   "TOOLONG-5000", "HUMAN-800"])  # fmt: skip
def test_given_amd_cause_without_the_silence_then_the_grace_runs_from_the_verdict(
    cause: str | None,
) -> None:
    assert cs.greeting_end(cause, 10.0) is None
    assert cs.on_amd(cs.on_answer(new(), 8), True, 10.0, None).connect_by == 12.0


def test_given_greeting_end_before_the_answer_then_clamped_to_the_answer() -> None:
    c = cs.on_amd(cs.on_answer(new(), 8), True, 10.0, cs.greeting_end("HUMAN-60000-800", 10.0))
    assert c.greeting_ended_at == 8 and c.connect_by == 10.0


@pytest.mark.parametrize(
    ("result", "role"),
    [("contact", cs.HUMAN), ("abandoned", cs.ABANDONED), ("machine", cs.MACHINE_DROP),
     (cs.EARLY_HANGUP, cs.EARLY), ("no_answer", None), ("busy", None), ("lost", None),
     (None, None)],
)  # fmt: skip
def test_abandonment_role_of_each_result(result: str | None, role: str | None) -> None:
    assert cs.abandonment_role(result) == role


def test_given_machine_drops_then_counted_as_abandoned_persons_by_the_estimate() -> None:
    # 100 persons answered, 2 abandoned, 5 machine drops: conservatively 7 / 105.
    assert cs.legal_counts(100, 2, 5) == (105, 7)
    assert cs.legal_counts(100, 2, 5, 0.2) == (101, 3)
    assert cs.legal_counts(100, 2, 5, 7.0) == (105, 7)  # never above 1


def test_given_machine_then_machine() -> None:
    assert cs.on_hangup(cs.on_amd(cs.on_answer(new(), 5), False, 8), 16, 9).result == "machine"


@pytest.mark.parametrize(("cause", "result"), [(17, "busy"), (19, "no_answer"), (18, "no_answer"),
                                               (34, "failed"), (1, "invalid_number"), (21, "declined"),
                                               (None, "no_answer")])  # fmt: skip
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


KINDS = ["ring", "answer", "human", "human_late_greeting", "machine", "bridge", "abandon",
         "hangup", "fail"]  # fmt: skip
EVENTS = st.lists(st.sampled_from(KINDS), max_size=12)


def step(c: Call, event: str, t: float) -> Call:
    return {
        "ring": lambda: cs.on_ringing(c, t),
        "answer": lambda: cs.on_answer(c, t),
        "human": lambda: cs.on_amd(c, True, t),
        "human_late_greeting": lambda: cs.on_amd(c, True, t, t - 0.8),
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
                cs.EARLY_HANGUP,
                "busy",
                "no_answer",
                "failed",
                "cancelled",
            }
        if c.state is CallState.bridged:
            assert c.answered_at is not None


TIMES = st.floats(min_value=0, max_value=100, allow_nan=False)


@given(answer=TIMES, detect=st.floats(0, 5), silence=st.integers(0, 5000),
       hangup_after=st.floats(0, 10), agent=st.sampled_from([None, "bridge", "abandon"]))  # fmt: skip
def test_property_abandoned_only_when_a_person_was_left_past_the_grace(
    answer: float, detect: float, silence: int, hangup_after: float, agent: str | None
) -> None:
    """A person who hangs up is an abandon exactly when no agent joined and their
    hang-up came 2 s or more after the end of their greeting (or the safe harbor
    had already started); a bridged call is never one."""
    verdict = answer + detect
    c = cs.on_amd(cs.on_answer(new(), answer), True, verdict,
                  cs.greeting_end(f"HUMAN-{silence}-800", verdict))  # fmt: skip
    greeting_ended = max(answer, verdict - silence / 1000)
    assert c.connect_by == pytest.approx(greeting_ended + cs.CONNECT_GRACE_SECONDS)
    assert c.connect_by is not None
    if agent == "bridge":
        c = cs.on_bridged(c, 7, verdict)
    elif agent == "abandon":
        c = cs.on_abandoned(c, c.connect_by)
    hung_up = verdict + hangup_after
    result = cs.on_hangup(c, 16, hung_up).result
    if agent == "bridge":
        assert result == "contact"
    elif agent == "abandon" or hung_up >= c.connect_by:
        assert result == "abandoned"
    else:
        assert result == cs.EARLY_HANGUP


def test_given_dead_dialers_call_when_asterisk_reported_its_end_then_result_from_it() -> None:
    from dialer.call_state import orphan_result

    # An agent was on it: a conversation.
    assert orphan_result(answered=True, ended=True, bridged=True, cause=16) == "contact"
    # Nobody answered: the cause says why.
    assert orphan_result(answered=False, ended=True, bridged=False, cause=17) == "busy"
    assert orphan_result(answered=False, ended=True, bridged=False, cause=19) == "no_answer"
    assert orphan_result(answered=False, ended=True, bridged=False, cause=34) == "failed"
    # Answered with no agent (a person unbridged, or a machine): not known which.
    assert orphan_result(answered=True, ended=True, bridged=False, cause=16) == "lost"
    # Its end never seen: lost, whatever else was.
    assert orphan_result(answered=True, ended=False, bridged=True, cause=None) == "lost"


def test_given_a_channel_named_by_asterisk_when_the_call_ends_then_the_call_keeps_it() -> None:
    c = cs.on_channel(cs.on_ringing(new(), 1), "PJSIP/trunk-00000001")
    c = cs.on_hangup(cs.on_channel(c, "PJSIP/trunk-00000001"), 19, 30)
    assert c.channel == "PJSIP/trunk-00000001"
