"""The agent's call buttons on an inbound call (pbxsim, real Redis and SQL): "Colgar"
reaches the dial loop as the console sends it and ends the caller's channel; the call
then closes as when the caller hangs up (attempt `contact`, agent in wrap-up, the
disposition saved). A transfer is refused (the console says so, see docs/inbound.md)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session
from support.inbound_support import DID, Pops, inbound_attempts
from support.polling import until

from compliance.callback_window import default_callback_checker
from console.agent_service import save_disposition
from console.users import CurrentUser
from dialer.agent_state import AgentState
from dialer.command_replies import REFUSED, Reply, new_request_id, wait_reply
from dialer.inbound.calls import InboundCalls
from dialer.messages import from_dict, reply_key
from dialer.recording import Recorder, SqlLedger
from store.models import Disposition, Role, User
from store.recordings.storage import DirectoryStorage


def hangups(floor, channel: str) -> list[object]:  # type: ignore[no-untyped-def]
    return [a for a in floor.ami_server.actions
            if a.name == "Hangup" and a.get("Channel") == channel]  # fmt: skip


async def test_given_an_inbound_call_when_its_agent_hangs_up_then_the_caller_goes_and_the_call_closes(
    make_floor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    # As dialer/service.py: every campaign loop has a recorder (here recording nothing),
    # which remembers the inbound caller's channel for the agent who took the call.
    storage = DirectoryStorage(tmp_path / "recordings")
    recorder = Recorder(
        campaign="mx-test", owner="d1", ledger=SqlLedger(floor.engine, "mx-test"), ami=floor.ami,
        storage=storage,
        pbx_root=PurePosixPath(str(storage.root)), finalize=lambda **_: None,
        mode=lambda: "none", clock=floor.clock,
    )  # fmt: skip
    floor.dialer.recorder = recorder
    inbound = InboundCalls(sql=floor.engine, redis=floor.redis, clock=floor.clock,
                           poll_seconds=0.05, recorders=lambda _name: _fixed(recorder))  # fmt: skip
    floor.agi.routes["inbound"] = inbound.handle
    floor.agi.routes["inbound_end"] = inbound.handle_end
    floor.agi.route_timeouts["inbound"] = 60.0
    pops = Pops(floor.redis)
    await pops.start()
    ((account, number),) = floor.numbers.items()
    caller = floor.pbx.inbound_call(DID, number)
    pop = await pops.next()
    await pops.close()
    attempt_id, agent = int(pop["attempt_id"]), int(pop["agent_id"])
    assert pop["account_id"] == account
    await until(lambda: attempt_id in recorder.inbound)
    # Agents who stay in wrap-up (the floor's bots would make them ready at once).
    floor.stop.set()
    await asyncio.wait(floor.tasks)

    # The console's commands reach every campaign loop (the dialer is not dialing this call).
    # Each answers the console (dialer/command_replies.py): refused, done, or (not
    # this dialer's call) nothing at all.
    refused, done, elsewhere = new_request_id(), new_request_id(), new_request_id()
    await floor.dialer.handle_command(from_dict({"type": "hangup", "attempt_id": attempt_id,
                                       "agent_id": agent + 1000, "request_id": refused}))  # fmt: skip
    assert await wait_reply(floor.redis, refused, 1.0) == Reply(False, REFUSED)
    assert await floor.dialer.transfer(attempt_id, agent, None) == Reply(False, REFUSED)
    assert hangups(floor, caller.uniqueid) == [] and not caller.hungup
    assert not [a for a in floor.ami_server.actions if a.name == "Redirect"]
    await floor.dialer.handle_command(from_dict({"type": "hangup", "attempt_id": attempt_id + 1,
                                       "agent_id": agent, "request_id": elsewhere}))  # fmt: skip
    assert await floor.redis.llen(reply_key(elsewhere)) == 0

    await floor.dialer.handle_command(from_dict({"type": "hangup", "attempt_id": attempt_id,
                                       "agent_id": agent, "request_id": done}))  # fmt: skip
    assert await wait_reply(floor.redis, done, 1.0) == Reply(True)
    assert len(hangups(floor, caller.uniqueid)) == 1  # the caller's channel
    await caller.gone.wait()
    await until(lambda: any(a.id == attempt_id and a.result == "contact"
                            for a in inbound_attempts(floor.engine)))  # fmt: skip
    row = next(a for a in inbound_attempts(floor.engine) if a.id == attempt_id)
    assert row.agent_id == agent and row.account_id == account and row.ended_at is not None
    await until(lambda: _state(floor, agent, AgentState.wrap_up))
    assert attempt_id not in recorder.inbound  # forgotten with the call

    with Session(floor.engine) as s:
        user = s.get(User, agent)
        assert user is not None
        me = CurrentUser(user.id, user.username, user.display_name, Role.agent, user.campaign_id)
    # The caller passed the identity check (console/inbound_views.py verify).
    result = save_disposition(floor.engine, me, attempt_id,
                              {"party": "titular", "outcome": "rehusa"},
                              datetime.now(UTC), default_callback_checker,
                              verified_party="titular")  # fmt: skip
    assert result.account_id == account
    with Session(floor.engine) as s:
        saved = s.scalar(select(Disposition).where(Disposition.attempt_id == attempt_id))
        assert saved is not None and saved.agent_id == agent and saved.outcome == "rehusa"


async def _state(floor, agent: int, state: AgentState) -> bool:  # type: ignore[no-untyped-def]
    return (await floor.agents.get(agent)).state is state


async def _fixed(recorder: Recorder | None) -> Recorder | None:
    """InboundCalls' recorders lookup answering one recorder for every campaign."""
    return recorder
