"""Commands from the console: preview, transfer (promise holds: test_disposition_holds.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.agent_state import AgentState
from dialer.ami.errors import AMIError
from dialer.command_replies import ASTERISK, NO_AGENT, Reply
from dialer.messages import POPS_CHANNEL, from_dict
from store.models import CallAttempt, Campaign


def preview_mode(floor) -> None:  # type: ignore[no-untyped-def]
    with Session(floor.engine) as s, s.begin():
        s.scalars(select(Campaign)).one().dial_mode = "preview"
    floor.dialer.campaign.dial_mode = "preview"


def attempts(floor) -> list[CallAttempt]:  # type: ignore[no-untyped-def]
    with Session(floor.engine) as s:
        return list(s.scalars(select(CallAttempt).order_by(CallAttempt.id)))


async def test_given_preview_campaign_then_only_the_agents_choice_places_a_call(make_floor) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=3, agents=1)
    dialer = floor.dialer
    preview_mode(floor)
    pubsub = floor.redis.pubsub()
    await pubsub.subscribe(POPS_CHANNEL)
    for _ in range(5):
        await dialer.tick()
    assert attempts(floor) == []  # nothing dialed on its own
    agent = floor.agent_ids[0]
    await dialer.handle_command(
        from_dict({"type": "preview_request", "agent_id": agent, "campaign": "mx-test"})
    )
    message = None
    while message is None or message["type"] != "message":
        message = await pubsub.get_message(timeout=5)
    preview = json.loads(message["data"])
    assert preview["type"] == "preview" and preview["agent_id"] == agent
    account = preview["account_id"]
    # Another agent's choice is refused; the right one dials that account.
    await dialer.handle_command(from_dict({"type": "preview_dial", "agent_id": agent + 99, "account_id": account,
                                 "campaign": "mx-test"}))  # fmt: skip
    assert attempts(floor) == []
    await dialer.handle_command(from_dict({"type": "preview_dial", "agent_id": agent, "account_id": account,
                                 "campaign": "mx-test"}))  # fmt: skip
    assert [a.account_id for a in attempts(floor)] == [account]
    await pubsub.aclose()


async def test_given_skipped_preview_then_account_back_an_hour_later(make_floor) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    dialer = floor.dialer
    preview_mode(floor)
    await dialer.tick()
    agent = floor.agent_ids[0]
    await dialer.handle_command(
        from_dict({"type": "preview_request", "agent_id": agent, "campaign": "mx-test"})
    )
    (account,) = dialer.previews
    await dialer.handle_command(from_dict({"type": "preview_skip", "agent_id": agent, "account_id": account,
                                 "campaign": "mx-test"}))  # fmt: skip
    assert not dialer.previews
    sizes = await dialer.hopper.sizes()
    assert sizes == {"ready": 0, "delayed": 1, "leased": 0}


async def test_given_bridged_call_when_transferred_then_other_agent_talks(make_floor) -> None:  # type: ignore[no-untyped-def]
    from pbxsim.scenario import Dist

    floor = await make_floor(accounts=1, agents=2)
    floor.pbx.scenario = floor.pbx.scenario.__class__(**{
        **floor.pbx.scenario.__dict__, "p_human": 1.0, "p_machine": 0.0, "p_busy": 0.0,
        "p_congestion": 0.0, "talk_seconds": Dist("constant", 2000.0)})  # fmt: skip
    second = floor.agent_ids[1]
    await floor.agents.pause(second, "break")
    dialer = floor.dialer
    await floor.run_until(lambda: any(c.state.value == "bridged" for c in dialer.calls.values()))
    ((attempt_id, call),) = dialer.calls.items()
    first = call.agent_id
    assert first == floor.agent_ids[0]
    assert await dialer.transfer(attempt_id, first, None) == Reply(False, NO_AGENT)  # nobody ready
    await floor.agents.set_ready(second)
    assert await dialer.transfer(attempt_id, first, None) == Reply(True)
    assert dialer.calls[attempt_id].agent_id == second
    assert (await floor.agents.get(second)).state is AgentState.talking
    assert (await floor.agents.get(first)).state in (AgentState.wrap_up, AgentState.ready)


@pytest.mark.parametrize("kept", ["", "comida"])
async def test_given_a_transfer_asterisk_refuses_then_the_target_is_back_where_they_were(
    make_floor,
    monkeypatch: pytest.MonkeyPatch,
    kept: str,  # type: ignore[no-untyped-def]
) -> None:
    """The target, reserved for the transfer, is given back: ready, or paused with the
    pause asked meanwhile (kept for after the call). Before, set_ready refused a
    reserved agent and the target stayed reserved for a call they never had."""
    from pbxsim.scenario import Dist

    floor = await make_floor(accounts=1, agents=2)
    floor.pbx.scenario = floor.pbx.scenario.__class__(**{
        **floor.pbx.scenario.__dict__, "p_human": 1.0, "p_machine": 0.0, "p_busy": 0.0,
        "p_congestion": 0.0, "talk_seconds": Dist("constant", 2000.0)})  # fmt: skip
    second = floor.agent_ids[1]
    await floor.agents.pause(second, "break")
    dialer = floor.dialer
    await floor.run_until(lambda: any(c.state.value == "bridged" for c in dialer.calls.values()))
    ((attempt_id, call),) = dialer.calls.items()
    await floor.agents.set_ready(second)
    sent = dialer.ctx.ami.send_action

    async def refused(action: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if action.get("Action") != "Setvar":
            return await sent(action, *args, **kwargs)
        if kept:  # the target asks a pause (or a break comes due) while reserved
            await floor.agents.pause(second, kept)
        raise AMIError("Setvar: no such channel")

    monkeypatch.setattr(dialer.ctx.ami, "send_action", refused)
    assert await dialer.transfer(attempt_id, call.agent_id, second) == Reply(False, ASTERISK)
    snap = await floor.agents.get(second)
    expected = (AgentState.paused, kept) if kept else (AgentState.ready, "")
    assert (snap.state, snap.reason, snap.attempt_id) == (*expected, None)
    assert dialer.calls[attempt_id].agent_id == call.agent_id


@pytest.mark.parametrize("kept", ["", "comida"])
async def test_given_the_debtor_hangs_up_once_an_agent_is_reserved_then_the_wrap_up_ends_where_they_asked(
    make_floor,
    kept: str,  # type: ignore[no-untyped-def]
) -> None:
    """The debtor hangs up right after the answer route reserved the agent, before the
    bridge: the agent ends paused with a pause kept for after the call (asked while
    reserved), else ready."""
    from support.polling import until

    from dialer import channel_vars as cv

    floor = await make_floor(accounts=1, agents=1)
    dialer = floor.dialer
    agent = floor.agent_ids[0]
    seen: list[int] = []

    async def debtor_hangs_up(agent_id: int) -> bool:
        ((attempt_id, _call),) = dialer.calls.items()
        seen.append(attempt_id)
        if kept:
            await floor.agents.pause(agent_id, kept)  # kept for after the call
        channel = floor.pbx.find_channel(cv.originate_channel_id(attempt_id))
        assert channel is not None
        floor.pbx.hangup(channel)
        await until(lambda: attempt_id not in dialer.calls, "the debtor's hangup handled")
        return True

    async def given_back() -> bool:
        await dialer.tick()
        return (await floor.agents.get(agent)).state is not AgentState.reserved

    dialer.agent_check = debtor_hangs_up
    await floor.run_until(lambda: bool(seen))
    await until(given_back, "the agent no longer reserved")
    # The call's end (wrap-up, the pause kept) or the answer route's (given back at
    # once), whichever came first: either way the pause asked is taken.
    snap = await floor.agents.get(agent)
    if snap.state is AgentState.wrap_up:
        assert snap.pause_after == kept
        snap = await floor.agents.set_ready(agent)
    expected = (AgentState.paused, kept) if kept else (AgentState.ready, "")
    assert (snap.state, snap.reason) == expected
