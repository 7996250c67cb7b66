"""The life of one outbound call as a pure state machine.

The dial loop feeds it what AMI and the FastAGI route report; it answers
what state the call is in and, at the end, the attempt's result. No I/O,
no clock: every event carries its own time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class CallState(StrEnum):
    queued = "queued"  # Originate sent, no channel news yet
    ringing = "ringing"
    answered = "answered"  # off-hook, person or machine not known yet
    human = "human"
    machine = "machine"
    bridged = "bridged"  # the debtor is in the agent's bridge
    abandoned = "abandoned"  # a person answered and no agent came within the grace
    ended = "ended"


# Hangup causes (Q.850) of calls that were never answered.
BUSY_CAUSES = frozenset({17})
NO_ANSWER_CAUSES = frozenset({18, 19, 16})  # 16 before answer: ring timeout / cancel
FAILED_CAUSES = frozenset({1, 2, 3, 21, 22, 27, 28, 34, 38, 41, 42, 44, 58, 88, 102, 111, 127})
# OriginateResponse Reason: Asterisk's last control frame (AST_CONTROL_*).
ORIGINATE_REASON_RESULT = {0: "failed", 1: "no_answer", 3: "no_answer", 5: "busy", 8: "failed"}


@dataclass(frozen=True)
class Call:
    attempt_id: int
    account_id: int
    state: CallState = CallState.queued
    dialed_at: float = 0.0
    ringing_at: float | None = None
    answered_at: float | None = None
    human_at: float | None = None
    bridged_at: float | None = None
    ended_at: float | None = None
    agent_id: int | None = None
    hangup_cause: int | None = None
    result: str | None = None
    channel: str | None = None
    cancelled: bool = False  # we hung it up before answer (payment, stop)

    @property
    def live(self) -> bool:
        return self.state not in (CallState.ended,)

    @property
    def is_ringing(self) -> bool:
        return self.state in (CallState.queued, CallState.ringing)


def on_ringing(call: Call, at: float) -> Call:
    if call.state is not CallState.queued:
        return call
    return replace(call, state=CallState.ringing, ringing_at=at)


def on_answer(call: Call, at: float) -> Call:
    if call.state not in (CallState.queued, CallState.ringing):
        return call
    return replace(call, state=CallState.answered, answered_at=at)


def on_amd(call: Call, human: bool, at: float) -> Call:
    if call.state not in (CallState.answered, CallState.queued, CallState.ringing):
        return call
    answered_at = call.answered_at if call.answered_at is not None else at
    if human:
        return replace(call, state=CallState.human, human_at=at, answered_at=answered_at)
    return replace(call, state=CallState.machine, answered_at=answered_at)


def on_bridged(call: Call, agent_id: int, at: float) -> Call:
    if call.state not in (CallState.human, CallState.answered):
        return call
    return replace(call, state=CallState.bridged, bridged_at=at, agent_id=agent_id)


def on_abandoned(call: Call, at: float) -> Call:
    if call.state not in (CallState.human, CallState.answered):
        return call
    return replace(call, state=CallState.abandoned)


def on_cancelled(call: Call) -> Call:
    return replace(call, cancelled=True) if call.is_ringing else call


def on_hangup(call: Call, cause: int | None, at: float) -> Call:
    if call.state is CallState.ended:
        return call
    return replace(call, state=CallState.ended, ended_at=at, hangup_cause=cause,
                   result=result_of(call, cause))  # fmt: skip


def on_originate_failed(call: Call, reason: int | None, at: float) -> Call:
    """OriginateResponse: Failure. The channel never got answered."""
    if call.state is CallState.ended:
        return call
    result = "cancelled" if call.cancelled else ORIGINATE_REASON_RESULT.get(reason or 0, "failed")
    return replace(call, state=CallState.ended, ended_at=at, result=result)


def result_of(call: Call, cause: int | None) -> str:
    """The attempt's result when the call ends in its current state."""
    if call.state is CallState.bridged:
        return "contact"
    if call.state is CallState.machine:
        return "machine"
    if call.state in (CallState.abandoned, CallState.human, CallState.answered):
        # A person answered and no agent was bridged: counted against us, always.
        return "abandoned"
    if call.cancelled:
        return "cancelled"
    if cause in BUSY_CAUSES:
        return "busy"
    if cause in NO_ANSWER_CAUSES or cause is None:
        return "no_answer"
    return "failed"
