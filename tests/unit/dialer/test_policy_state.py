"""What the pacing policy reads of an agent's live state (dialer/loop/pacing_view.py)."""

from __future__ import annotations

import pytest

from dialer.agent_state import AgentSnapshot, AgentState
from dialer.loop.pacing_view import policy_state
from dialer.pause_rule import PauseWait


def _agent(
    state: AgentState, pause_after: str = "", wait: PauseWait | None = None
) -> AgentSnapshot:
    return AgentSnapshot(1, state, 100.0, "", "mx", None, pause_wait=wait, pause_after=pause_after)


@pytest.mark.parametrize("state", [AgentState.reserved, AgentState.talking, AgentState.wrap_up])
def test_given_a_pause_kept_for_after_the_call_then_the_policy_sees_the_agent_paused(
    state: AgentState,
) -> None:
    assert policy_state(_agent(state, pause_after="lunch")) == "paused"


@pytest.mark.parametrize(
    "state", [AgentState.reserved, AgentState.talking, AgentState.wrap_up, AgentState.ready]
)
def test_given_no_pause_asked_then_the_policy_sees_the_state_itself(state: AgentState) -> None:
    assert policy_state(_agent(state)) == state.value


def test_given_a_pausing_agent_then_the_policy_sees_them_paused() -> None:
    wait = PauseWait("break", 100.0, 100.0, 137.0)
    assert policy_state(_agent(AgentState.pausing, wait=wait)) == "paused"


def test_given_a_stale_pause_after_outside_a_call_then_it_changes_nothing() -> None:
    # Only a call ends into the kept pause; a ready or paused agent reads as such.
    assert policy_state(_agent(AgentState.ready, pause_after="lunch")) == "ready"
    assert policy_state(_agent(AgentState.no_audio, pause_after="lunch")) == "no_audio"
