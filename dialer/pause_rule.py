"""When a ready agent's pause takes effect: at once when nothing placed for the floor
is in flight, else after the calls in flight when it was asked (the agent is
`pausing` meanwhile), and at the latest at a deadline that holds even if every
dialer died. Pure: times in, decisions out; `dialer.agent_state` stores them.

Why: a call placed while the agent was ready was placed for them (pacing counted
them); if they go on break at once and the debtor answers, nobody may be free
within the connect grace and the call is abandoned (docs/pacing.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# How long a call placed for the floor may still need an agent, by its parts:
# the ring timeout of the Originate (dialer.loop.context.DialerOptions), the answering
# machine detection Asterisk runs after the answer (asterisk-conf/amd.conf
# total_analysis_time) and the connect grace after the greeting.
DEFAULT_RING_TIMEOUT_SECONDS = 30.0
AMD_ANALYSIS_SECONDS = 5.0
DEFAULT_CONNECT_GRACE_SECONDS = 2.0


def wait_bound(ring_timeout: float, connect_grace: float,
               amd_seconds: float = AMD_ANALYSIS_SECONDS) -> float:  # fmt: skip
    """The most a call in flight when the pause was asked may still need an agent."""
    return ring_timeout + amd_seconds + connect_grace


DEFAULT_WAIT_SECONDS = wait_bound(DEFAULT_RING_TIMEOUT_SECONDS, DEFAULT_CONNECT_GRACE_SECONDS)


@dataclass(frozen=True)
class PauseWait:
    """A pause asked while calls were in flight: it begins once none of them is."""

    reason: str
    asked_at: float
    # The calls waited for are those dialed at or before this instant: every call in
    # flight when the pause was asked (its dialer's clock) and any placed before the ask.
    mark: float
    deadline: float  # asked_at + the wait bound: the pause begins then at the latest


def ask(reason: str, asked_at: float, in_flight: Sequence[float] | None,
        wait_seconds: float = DEFAULT_WAIT_SECONDS) -> PauseWait | None:  # fmt: skip
    """A ready agent asks for a pause. `in_flight`: the dial times of the floor's calls
    ringing or answered and waiting for an agent (every dialer's), or None when that is
    not known (then the calls are assumed to ring). None back: the pause starts now."""
    if in_flight is not None and not in_flight:
        return None
    mark = max([asked_at, *(in_flight or ())])
    return PauseWait(reason, asked_at, mark, asked_at + wait_seconds)


def began_at(wait: PauseWait, in_flight: Sequence[float] | None, now: float) -> float | None:
    """When the pause began, once it has: the deadline when past it, else now when no
    call waited for is in flight any more; None while some may still need the agent
    (or while the floor is unknown)."""
    if now >= wait.deadline:
        return wait.deadline
    if in_flight is not None and not any(at <= wait.mark for at in in_flight):
        return now
    return None
