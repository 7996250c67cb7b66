"""The agent of a call is on its row from the bridge on, not only from its end: a
dialer that dies mid-call leaves the row naming the agent, who can still record what
the debtor said; a transfer moves it to the new agent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from compliance.callback_window import default_callback_checker
from console.agent_service import save_disposition
from console.users import load_user
from dialer import attempt_store as store
from dialer.command_replies import Reply
from pbxsim.scenario import Dist
from store.models import CallAttempt, Disposition


def long_human_calls(floor: Any) -> None:
    floor.pbx.scenario = floor.pbx.scenario.__class__(**{
        **floor.pbx.scenario.__dict__, "p_human": 1.0, "p_machine": 0.0, "p_busy": 0.0,
        "p_congestion": 0.0, "talk_seconds": Dist("constant", 2000.0)})  # fmt: skip


def row_agent(floor: Any, attempt_id: int) -> int | None:
    with Session(floor.engine) as s:
        return s.get_one(CallAttempt, attempt_id).agent_id


async def bridged_call(floor: Any) -> tuple[int, int]:
    dialer = floor.dialer
    await floor.run_until(lambda: any(c.state.value == "bridged" for c in dialer.calls.values()))
    ((attempt_id, call),) = dialer.calls.items()
    return attempt_id, call.agent_id


async def test_given_a_bridged_call_when_its_dialer_dies_then_the_agent_still_records_the_result(
    make_floor: Any,
) -> None:
    floor = await make_floor(accounts=1, agents=1)
    long_human_calls(floor)
    attempt_id, agent_id = await bridged_call(floor)
    # Before, the row named no agent until the call ended.
    await floor.run_until(lambda: row_agent(floor, attempt_id) == agent_id)
    # The dialer dies mid-call: another dialer's reconciliation closes its open rows.
    now = datetime.fromtimestamp(floor.clock(), UTC)
    closed = store.close_lost_attempts(floor.engine, floor.dialer.campaign.id, live=set(),
                                       mine=set(), before=now + timedelta(minutes=1),
                                       actor="test")  # fmt: skip
    assert [a.id for a in closed] == [attempt_id]
    assert row_agent(floor, attempt_id) == agent_id
    # The agent's console no longer has the call in its (reset) state: the row decides.
    agent = load_user(floor.engine, agent_id)
    assert agent is not None
    form = {"party": "titular", "outcome": "rehusa", "notes": "No puede pagar este mes."}
    save_disposition(floor.engine, agent, attempt_id, form, now, default_callback_checker,
                     live_attempt=None, verified_party="titular")  # fmt: skip
    with Session(floor.engine) as s:
        saved = s.query(Disposition).filter_by(attempt_id=attempt_id).one()
        assert saved.outcome == "rehusa"


async def test_given_a_bridged_call_when_transferred_then_the_row_names_the_new_agent(
    make_floor: Any,
) -> None:
    floor = await make_floor(accounts=1, agents=2)
    long_human_calls(floor)
    second = floor.agent_ids[1]
    await floor.agents.pause(second, "break")
    attempt_id, first = await bridged_call(floor)
    await floor.run_until(lambda: row_agent(floor, attempt_id) == first)
    with Session(floor.engine) as s:
        bridged_at = s.get_one(CallAttempt, attempt_id).bridged_at
    assert bridged_at is not None
    await floor.agents.set_ready(second)
    assert await floor.dialer.transfer(attempt_id, first, None) == Reply(True)
    await floor.run_until(lambda: row_agent(floor, attempt_id) == second)
    with Session(floor.engine) as s:
        assert s.get_one(CallAttempt, attempt_id).bridged_at == bridged_at  # the first bridge's
