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


# Abandonment as regulators define it (FTC TSR 310.4(b)(4), FCC 64.1200(a)(7), Ofcom):
# a person answered and was not connected to an agent within CONNECT_GRACE_SECONDS of
# the end of their greeting. A debtor who hangs up before that (during answering-
# machine detection, or inside the grace) was not abandoned by us: EARLY_HANGUP.
CONNECT_GRACE_SECONDS = 2.0
EARLY_HANGUP = "early_hangup"


# Hangup causes (Q.850) of calls that were never answered, and what each says about
# the number (docs/real-floor.md, "What a carrier answers", has the SIP answers that
# Asterisk 22's PJSIP trunk turns into each, measured by test_carrier_answers.py).
# The debtor's line is busy: SIP 486, 600.
BUSY_CAUSES = frozenset({17})
# Nobody took it: the ring timeout (our CANCEL), SIP 408 (18), 480 (19). 16 before an
# answer: the dialplan's fallback when the far end gave no cause. Not 20 ("subscriber
# absent"): Asterisk gives it when the PJSIP endpoint has no reachable contact (our
# trunk is down or unregistered), no SIP answer maps to it, so it is `failed`.
NO_ANSWER_CAUSES = frozenset({16, 18, 19})
# The number does not exist (any more): unallocated (SIP 404, 604), number changed
# (410), invalid number format (484). Redialling it soon only costs a trunk channel
# and an attempt of the debtor's caps; it is re-checked once, a day later.
INVALID_NUMBER_CAUSES = frozenset({1, 22, 28})
# Refused at the far end: SIP 603 Decline (the debtor rejected the call). Not a "no
# answer": someone said no. (chan_pjsip gives 401, 403 and 407 the same 21; the
# carrier refusing us is not the debtor's no, and cobrador-outbound hands those
# back as 52, "outgoing calls barred": `failed` below.)
DECLINED_CAUSES = frozenset({21})
# Every other cause (34 congestion / SIP 503, 27 / 502, 38 / 500, 3 no route, 52 the
# carrier refused us, ...) is a failure of the network or of our trunk: `failed`,
# retried later.
INVALID_NUMBER = "invalid_number"
DECLINED = "declined"
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
    # When the person's greeting ended (AMD's HUMAN verdict minus the silence it waited
    # for), and when an agent must be on the line by: that end plus the connect grace.
    greeting_ended_at: float | None = None
    connect_by: float | None = None
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


def on_channel(call: Call, name: str) -> Call:
    """Asterisk named the call's channel (any event of it but OriginateResponse)."""
    return call if call.channel == name else replace(call, channel=name)


def on_ringing(call: Call, at: float) -> Call:
    if call.state is not CallState.queued:
        return call
    return replace(call, state=CallState.ringing, ringing_at=at)


def on_answer(call: Call, at: float) -> Call:
    if call.state not in (CallState.queued, CallState.ringing):
        return call
    return replace(call, state=CallState.answered, answered_at=at)


def on_amd(
    call: Call,
    human: bool,
    at: float,
    greeting_ended_at: float | None = None,
    grace: float = CONNECT_GRACE_SECONDS,
) -> Call:
    """AMD's verdict at `at`. For a person the 2 s clock runs from the end of the
    greeting (`greeting_end`), never later than the verdict; unknown: from the verdict."""
    if call.state not in (CallState.answered, CallState.queued, CallState.ringing):
        return call
    answered_at = call.answered_at if call.answered_at is not None else at
    if human:
        ended = at if greeting_ended_at is None else min(at, max(answered_at, greeting_ended_at))
        return replace(call, state=CallState.human, human_at=at, answered_at=answered_at,
                       greeting_ended_at=ended, connect_by=ended + grace)  # fmt: skip
    return replace(call, state=CallState.machine, answered_at=answered_at)


def greeting_end(amd_cause: str | None, at: float) -> float | None:
    """When the greeting ended, from AMDCAUSE at the HUMAN verdict. Asterisk's AMD()
    says `HUMAN-<silence ms>-<after greeting silence ms>`: it heard <silence ms> of
    quiet after the greeting before deciding. None when the cause does not say."""
    parts = (amd_cause or "").split("-")
    if len(parts) != 3 or parts[0] != "HUMAN" or not parts[1].isdigit():
        return None
    return at - min(int(parts[1]), 60_000) / 1000.0


def on_bridged(call: Call, agent_id: int, at: float) -> Call:
    if call.state not in (CallState.human, CallState.answered):
        return call
    return replace(call, state=CallState.bridged, bridged_at=at, agent_id=agent_id)


def on_abandoned(call: Call, at: float) -> Call:
    """No agent by the deadline: the safe-harbor message plays to a person still there."""
    if call.state not in (CallState.human, CallState.answered):
        return call
    return replace(call, state=CallState.abandoned)


def on_cancelled(call: Call) -> Call:
    return replace(call, cancelled=True) if call.is_ringing else call


def on_hangup(call: Call, cause: int | None, at: float) -> Call:
    if call.state is CallState.ended:
        return call
    return replace(call, state=CallState.ended, ended_at=at, hangup_cause=cause,
                   result=result_of(call, cause, at))  # fmt: skip


def on_originate_failed(call: Call, reason: int | None, at: float) -> Call:
    """OriginateResponse: Failure. The channel never got answered."""
    if call.state is CallState.ended:
        return call
    result = "cancelled" if call.cancelled else ORIGINATE_REASON_RESULT.get(reason or 0, "failed")
    return replace(call, state=CallState.ended, ended_at=at, result=result)


def result_of(call: Call, cause: int | None, at: float | None = None) -> str:
    """The attempt's result when the call ends at `at` in its current state."""
    if call.state is CallState.bridged:
        return "contact"
    if call.state is CallState.machine:
        return "machine"  # dropped by AMD: counted as abandonment_role says
    if call.state is CallState.abandoned:
        return "abandoned"  # the grace ran out with the person on the line
    if call.state is CallState.answered:
        # Hung up during detection: AMD never heard the greeting end, so the 2 s
        # had not started. Not an abandon (the far end left first).
        return EARLY_HANGUP
    if call.state is CallState.human:
        # Waiting for an agent: within the grace the debtor left before we were due.
        if call.connect_by is not None and at is not None and at < call.connect_by:
            return EARLY_HANGUP
        return "abandoned"
    if call.cancelled:
        return "cancelled"
    return unanswered_result(cause)


def unanswered_result(cause: int | None) -> str:
    """The result of a call nobody answered, by its hang-up cause (Q.850); no cause
    at all (the call ended without one): nobody answered."""
    if cause is None or cause in NO_ANSWER_CAUSES:
        return "no_answer"
    if cause in BUSY_CAUSES:
        return "busy"
    if cause in INVALID_NUMBER_CAUSES:
        return INVALID_NUMBER
    if cause in DECLINED_CAUSES:
        return DECLINED
    return "failed"


# -- what a result means for the abandonment rate ----------------------------------
# The one predicate for "which attempts count" (live counting in dialer.stats and any
# rebuild of the windows from call_attempts must agree): per result, whether the
# attempt is a person who answered (the rate's denominator), a person abandoned
# (numerator), an AMD machine drop (a possible person: counted per the campaign's
# false-positive estimate, all of them by default), or an early hang-up (neither).
HUMAN = "human"
ABANDONED = "abandoned"
MACHINE_DROP = "machine_drop"
EARLY = "early"


def abandonment_role(result: str | None) -> str | None:
    """HUMAN, ABANDONED, MACHINE_DROP, EARLY or None (not an answered call)."""
    return {
        "contact": HUMAN,
        "abandoned": ABANDONED,
        "machine": MACHINE_DROP,
        EARLY_HANGUP: EARLY,
    }.get(result or "")


def legal_counts(
    humans: float, abandoned: float, machine_drops: float, false_positive_ratio: float = 1.0
) -> tuple[float, float]:
    """(answered by a person, abandoned) as the law counts them: `humans` persons
    answered (bridged or abandoned), `abandoned` of them abandoned, plus the share
    of AMD machine drops estimated to have been persons (each one abandoned)."""
    ratio = min(1.0, max(0.0, false_positive_ratio))
    return humans + ratio * machine_drops, abandoned + ratio * machine_drops


def orphan_result(*, answered: bool, ended: bool, bridged: bool, cause: int | None) -> str:
    """The result of a call whose dialer died before it ended, from what Asterisk
    reported afterwards (answer, hang-up and its cause) and whether an agent was on
    it: `contact` when an agent was; busy / no_answer / failed by the cause when
    nobody answered; `lost` when Asterisk's end was not seen, or when someone
    answered and no agent was on it (a person left without an agent, or a machine:
    which one died with the dialer)."""
    if not ended:
        return "lost"
    if bridged:
        return "contact"
    if answered:
        return "lost"
    return unanswered_result(cause)
