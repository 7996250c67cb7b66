"""Inbound calls on pbxsim, real Redis and SQL: matching, routing, queue, after hours."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from support.inbound_support import DID, Pops, inbound_attempts, wire_inbound
from support.polling import until

from compliance.transparency.verify import verify
from dialer import channel_vars as cv
from dialer.agent_state import AgentState
from dialer.call_state import CallState
from dialer.campaign_dialer import DialerOptions
from dialer.inbound.queue import InboundQueue
from pbxsim import scenario as sc
from pbxsim.pbx import SAFE_HARBOR
from pbxsim.scenario import NumberOverride
from store.models import Account, AuditEntry, CallAttempt, Callback, Campaign, Phone


def second_account_with(floor: Any, number: str) -> int:
    """Another account (another campaign's debtor, say) with the same phone number."""
    with Session(floor.engine) as s, s.begin():
        campaign = s.scalars(select(Campaign)).first()
        assert campaign is not None
        account = Account(external_ref="SHARED-2", debtor_name="Otra Persona", country="MX",
                          region="MX-CMX", currency="MXN", campaign_id=campaign.id)  # fmt: skip
        account.phones.append(Phone(position=1, number_e164=number, consent=True))
        s.add(account)
        s.flush()
        return int(account.id)


async def busy_all_agents(floor: Any) -> None:
    for agent_id in floor.agent_ids:
        assert await floor.agents.reserve(agent_id, 1)
        await floor.agents.talking(agent_id, 1)


async def test_given_known_numbers_when_debtors_call_then_each_reaches_an_agent_with_its_pop(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=3, agents=3)
    wire_inbound(floor)
    pops = Pops(floor.redis)
    await pops.start()
    first, second = list(floor.numbers)[:2]
    shared = floor.numbers[second]
    other = second_account_with(floor, shared)
    # National format with the old mobile "1": normalised to the stored +5255...
    one = floor.pbx.inbound_call(DID, "521" + floor.numbers[first][3:])
    pop = await pops.next()
    assert pop["type"] == "inbound" and pop["account_id"] == first
    assert pop["account_ids"] == [first] and pop["ani_status"] == "ok"
    assert pop["agent_id"] in floor.agent_ids
    assert pop["verification"] == ["account_last4"]
    floor.pbx.inbound_call(DID, shared)
    pop2 = await pops.next()
    assert pop2["account_id"] is None and sorted(pop2["account_ids"]) == sorted([second, other])
    floor.pbx.inbound_call(DID, "")
    pop3 = await pops.next()
    assert pop3["account_ids"] == [] and pop3["ani_status"] == "withheld"
    assert len({pop["agent_id"], pop2["agent_id"], pop3["agent_id"]}) == 3
    # The first caller hangs up: the attempt is a contact, its agent wraps up.
    floor.pbx.request_hangup(one, 16)
    await until(lambda: any(a.result == "contact" for a in inbound_attempts(floor.engine)))
    rows = {a.id: a for a in inbound_attempts(floor.engine)}
    done = rows[pop["attempt_id"]]
    assert done.account_id == first and done.agent_id == pop["agent_id"]
    assert done.direction == "inbound" and done.bridged_at is not None
    assert rows[pop2["attempt_id"]].account_id is None
    assert rows[pop3["attempt_id"]].phone_e164 == ""
    await pops.close()
    assert verify(floor.engine).ok


async def test_given_outbound_debtor_in_connect_grace_and_inbound_caller_queued_when_agent_frees_then_inbound_gets_the_agent(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    # A grace long enough that the agent frees while the debtor still waits in it
    # (a longer grace only gives the outbound call more chances to take the agent).
    floor = await make_floor(accounts=1, agents=1, options=DialerOptions(
        owner="d1", refill_every_seconds=0.5, connect_grace_seconds=5.0))  # fmt: skip
    floor.agi.route_timeouts[cv.SCRIPT_ANSWER] = 30.0
    wire_inbound(floor)
    pops = Pops(floor.redis)
    await pops.start()
    agent = floor.agent_ids[0]
    debtor = next(iter(floor.numbers))
    floor.pbx.scenario.numbers[floor.numbers[debtor].lstrip("+")] = NumberOverride(
        sc.HUMAN, ring_seconds=0.5, talk_seconds=600.0
    )
    floor.pbx.event_log = []
    # The debtor picks up once the agent is on another call: the answer route (the
    # dial loop's own agi_answer) runs only then.
    agent_busy = asyncio.Event()

    async def answer_once_agent_busy(agi: Any) -> None:
        await agent_busy.wait()
        await floor.dialer.agi_answer(agi)

    floor.agi.routes[cv.SCRIPT_ANSWER] = answer_once_agent_busy
    # The dial loop places the outbound call for the ready agent...
    await floor.run_until(lambda: len(floor.dialer.calls) == 1)
    [outbound_id] = list(floor.dialer.calls)
    # ...and a debtor calls in meanwhile: inbound first, the agent takes that call.
    first_caller = floor.pbx.inbound_call(DID, "+525599990001")
    first = await pops.next()
    assert first["type"] == "inbound" and first["agent_id"] == agent
    agent_busy.set()

    def outbound_in_grace() -> bool:
        call = floor.dialer.calls.get(outbound_id)
        return call is not None and call.state is CallState.human and call.agent_id is None

    await until(outbound_in_grace)  # a person answered; the dial loop looks for an agent
    queue = InboundQueue(floor.redis)
    floor.pbx.inbound_call(DID, "+525599990002")
    await until(lambda: queue.count("mx-test"))
    assert outbound_in_grace()
    # The first caller hangs up: the agent wraps up and is ready again (the bots).
    floor.pbx.request_hangup(first_caller, 16)
    second = await pops.next()
    assert second["type"] == "inbound" and second["agent_id"] == agent
    snap = await floor.agents.get(agent)
    assert snap.state is AgentState.talking and snap.attempt_id == second["attempt_id"]
    # The outbound call never gets the agent: its grace runs out, the safe-harbor
    # message plays and the attempt ends abandoned.
    await until(lambda: _attempt(floor, outbound_id).result is not None)
    row = _attempt(floor, outbound_id)
    assert row.result == "abandoned" and row.direction == "outbound"
    assert row.account_id == debtor and row.agent_id is None and row.bridged_at is None
    assert row.answered_at is not None and row.ended_at is not None
    assert not [p for p in pops.seen if p.get("direction") == "outbound"]
    assert _safe_harbor_played(floor, outbound_id)
    # The statistics (Redis) follow the result written to SQL first.
    await until(lambda: not floor.dialer.finisher.pending)
    snapshot = await floor.dialer.snapshot(floor.clock())
    [hour] = [w for w in snapshot.abandonment if w.seconds == 3600]
    assert (hour.human_answered, hour.abandoned) == (1, 1)
    rows = {a.id: a for a in inbound_attempts(floor.engine)}
    assert rows[first["attempt_id"]].result == "contact"
    assert rows[first["attempt_id"]].agent_id == agent
    assert rows[second["attempt_id"]].agent_id == agent
    assert rows[second["attempt_id"]].bridged_at is not None
    with Session(floor.engine) as s:
        ends = [json.loads(e.payload) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.kind == "attempt"))]  # fmt: skip
    assert [(e["attempt_id"], e["result"], e["agent_id"]) for e in ends] == [
        (outbound_id, "abandoned", None)
    ]
    await pops.close()
    assert verify(floor.engine).ok


def _attempt(floor: Any, attempt_id: int) -> CallAttempt:
    with Session(floor.engine) as s:
        row = s.get(CallAttempt, attempt_id)
        assert row is not None
        return row


def _safe_harbor_played(floor: Any, attempt_id: int) -> bool:
    """pbxsim ran the safe-harbor context for the attempt (its NoOp names the attempt)."""
    for event in floor.pbx.event_log or []:
        fields = dict(event)
        if fields.get("Context") == SAFE_HARBOR and \
                f"attempt={attempt_id}" in str(fields.get("AppData", "")):  # fmt: skip
            return True
    return False


async def _empty(queue: InboundQueue) -> bool:
    return await queue.count("mx-test") == 0


async def _no_trace(queue: InboundQueue) -> bool:
    return await _empty(queue) and not await queue.tracked("mx-test")


async def test_given_caller_waiting_when_caller_hangs_up_then_abandoned_in_queue_with_attempt(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    wire_inbound(floor)
    await busy_all_agents(floor)
    queue = InboundQueue(floor.redis)
    on_hold: list[str] = []

    def music_on_hold(event: list[tuple[str, str]]) -> None:
        fields = dict(event)
        if fields["Event"] == "AGIExecEnd" and "StartMusicOnHold" in fields.get("Command", ""):
            on_hold.append(fields.get("Uniqueid", ""))

    floor.pbx.subscribe(music_on_hold)
    account = next(iter(floor.numbers))
    caller = floor.pbx.inbound_call(DID, floor.numbers[account])
    await until(lambda: queue.count("mx-test"))
    # Told their position, the caller hears music on hold; five seconds of it pass.
    await until(lambda: on_hold, "the caller on hold")
    floor.clock.jump(5.0)
    # The pacing snapshot sees the caller waiting and this hour's arrivals.
    snapshot = await floor.dialer.snapshot(floor.clock())
    assert len(snapshot.inbound_waiting) == 1 and snapshot.inbound_waiting[0] >= 5.0
    assert snapshot.inbound_rate_per_s == 1 / (7 * 3600) and snapshot.has_inbound
    assert snapshot.inbound_wait_target_s == 20.0
    floor.pbx.request_hangup(caller, 16)
    # The attempt is closed first (SQL), then the caller leaves the queue (Redis).
    await until(lambda: any(a.result for a in inbound_attempts(floor.engine)))
    [row] = inbound_attempts(floor.engine)
    assert row.result == "queue_abandoned" and row.account_id == account
    assert row.agent_id is None and row.ended_at is not None
    await until(lambda: _empty(queue))
    outcomes = await queue.outcomes("mx-test", floor.clock(), 3600, 20)
    assert (outcomes.answered, outcomes.abandoned) == (0, 1)
    await floor.dialer.tick()
    board = json.loads(await floor.redis.get("cobrador:wallboard:{mx-test}"))
    assert board["inbound"]["waiting"] == 0 and board["inbound"]["1h"]["abandoned"] == 1


async def test_given_a_minute_long_greeting_when_caller_queues_then_the_wait_counts_from_queue_entry(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    from metrics.definitions import REGISTRY

    floor = await make_floor(accounts=1, agents=1)
    wire_inbound(floor)
    pops = Pops(floor.redis)
    await pops.start()
    await busy_all_agents(floor)
    greeting_over = asyncio.Event()

    def greeting_takes_a_minute(event: list[tuple[str, str]]) -> None:
        # The center's clock moves a minute on while the greeting plays.
        fields = dict(event)
        command = fields.get("Command", "")
        if command.startswith("EXEC Playback") and "hello" in command:
            if fields["Event"] == "AGIExecStart":
                floor.clock.jump(60.0)
            elif fields["Event"] == "AGIExecEnd":
                greeting_over.set()

    floor.pbx.subscribe(greeting_takes_a_minute)
    labels = {"campaign": "mx-test", "result": "answered"}
    wait_sum = REGISTRY.get_sample_value("cobrador_inbound_wait_seconds_sum", labels) or 0.0
    queue = InboundQueue(floor.redis)
    floor.pbx.inbound_call(DID, floor.numbers[next(iter(floor.numbers))])
    await greeting_over.wait()
    await until(lambda: queue.count("mx-test"))
    # Waiting now: the minute of greeting is not queue wait (pacing, wallboard).
    snapshot = await floor.dialer.snapshot(floor.clock())
    [waited] = snapshot.inbound_waiting
    assert waited < 20.0
    await floor.agents.wrap_up(floor.agent_ids[0])  # the bots make the agent ready
    pop = await pops.next()
    assert pop["waited_seconds"] < 20.0
    [row] = inbound_attempts(floor.engine)
    assert row.queued_at is not None and row.bridged_at is not None
    assert (row.queued_at - row.started_at).total_seconds() >= 60.0
    assert (row.bridged_at - row.queued_at).total_seconds() < 20.0
    # Answered within the campaign's 20 s: inside the service level.
    outcomes = await queue.outcomes("mx-test", floor.clock(), 3600, 20)
    assert (outcomes.answered, outcomes.answered_within) == (1, 1)
    await floor.dialer.tick()
    board = json.loads(await floor.redis.get("cobrador:wallboard:{mx-test}"))
    assert board["inbound"]["1h"]["service_level"] == 1.0
    assert REGISTRY.get_sample_value("cobrador_inbound_wait_seconds_sum", labels) - wait_sum < 20.0
    await pops.close()


async def test_given_caller_when_hanging_up_during_greeting_then_abandoned_and_agent_untouched(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    wire_inbound(floor)
    await busy_all_agents(floor)
    floor.pbx.event_log = []
    caller = floor.pbx.inbound_call(DID, floor.numbers[next(iter(floor.numbers))])

    def greeting_playing() -> bool:
        commands = [str(dict(e).get("Command", "")) for e in floor.pbx.event_log or []]
        return any(c.startswith("EXEC Playback") and "hello" in c for c in commands)

    await until(greeting_playing)
    floor.pbx.request_hangup(caller, 16)
    await until(lambda: any(a.result for a in inbound_attempts(floor.engine)))
    assert [a.result for a in inbound_attempts(floor.engine)] == ["queue_abandoned"]
    snap = await floor.agents.get(floor.agent_ids[0])
    assert snap.state is AgentState.talking and snap.attempt_id == 1  # still on its own call


async def test_given_agent_logs_out_while_reserved_then_the_caller_gets_another_agent(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=2)
    inbound = wire_inbound(floor)
    pops = Pops(floor.redis)
    await pops.start()
    real_reserve = inbound.agents.reserve
    left: list[int] = []

    async def reserve_then_logout(agent_id: int, attempt_id: int) -> bool:
        done = await real_reserve(agent_id, attempt_id)
        if done and not left:
            left.append(agent_id)
            await floor.agents.logout(agent_id)  # the agent closes the console right then
        return done

    inbound.agents.reserve = reserve_then_logout  # type: ignore[method-assign]
    floor.pbx.inbound_call(DID, floor.numbers[next(iter(floor.numbers))])
    pop = await pops.next()
    assert left and pop["agent_id"] != left[0] and pop["agent_id"] in floor.agent_ids
    assert (await floor.agents.get(left[0])).state is AgentState.logged_out
    await pops.close()


async def test_given_bad_numbers_when_they_call_then_answered_with_a_search_pop_and_recorded(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    wire_inbound(floor)
    pops = Pops(floor.redis)
    await pops.start()
    statuses = []
    for caller in ("abc#123", "+14155550100", "anonymous"):
        floor.pbx.inbound_call(DID, caller)
        pop = await pops.next()
        assert pop["account_ids"] == [] and pop["account_id"] is None
        statuses.append(pop["ani_status"])
        await floor.agents.wrap_up(pop["agent_id"])  # the bot makes the agent ready again
    assert statuses == ["invalid", "foreign", "withheld"]
    rows = inbound_attempts(floor.engine)
    assert [r.phone_e164 for r in rows] == ["", "+14155550100", ""]
    assert all(r.account_id is None and r.campaign_id is not None for r in rows)
    await pops.close()


async def test_given_did_no_campaign_owns_when_called_then_message_and_unrouted_attempt(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    wire_inbound(floor)
    floor.pbx.inbound_call("5215559999999", floor.numbers[next(iter(floor.numbers))])
    await until(lambda: any(a.result for a in inbound_attempts(floor.engine)))
    [row] = inbound_attempts(floor.engine)
    assert row.result == "unrouted" and row.campaign_id is None
    assert await InboundQueue(floor.redis).count("mx-test") == 0
    with Session(floor.engine) as s:
        kinds = list(s.scalars(select(AuditEntry.kind)))
    assert kinds.count("inbound_call") == 1 and kinds.count("inbound_end") == 1


async def test_given_after_hours_call_then_callback_enters_hopper_at_opening_inside_debtor_window(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    wire_inbound(floor)
    account = next(iter(floor.numbers))
    with Session(floor.engine) as s, s.begin():
        row = s.get(Account, account)
        assert row is not None
        row.timezone = "America/Tijuana"  # two hours behind the center in November
    # Wednesday 23:00 in Mexico City: the center (08:00-20:00) is closed.
    floor.clock.jump(
        (
            datetime(2026, 11, 26, 5, 0, tzinfo=UTC) - datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
        ).total_seconds()
    )
    floor.pbx.inbound_call(DID, floor.numbers[account])
    await until(lambda: any(a.result for a in inbound_attempts(floor.engine)))
    [attempt] = inbound_attempts(floor.engine)
    assert attempt.result == "after_hours" and attempt.account_id == account
    with Session(floor.engine) as s:
        [callback] = s.scalars(select(Callback)).all()
        # The center opens at 08:00 Mexico City (14:00 UTC) = 06:00 in Tijuana, before
        # the MX profile's 07:00: the callback is due at 07:00 Tijuana (15:00 UTC).
        assert callback.account_id == account and callback.status == "pending"
        assert callback.due_at == datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    # At the opening (before the debtor's window) the refill leaves it pending...
    floor.clock.jump(9 * 3600)  # 14:00 UTC
    for _ in range(3):
        await floor.dialer.tick()
    with Session(floor.engine) as s:
        assert s.scalars(select(Callback.status)).one() == "pending"
    # ...and at 15:00 UTC it enters the hopper and is dialed.
    floor.clock.jump(3600)
    await floor.run_until(lambda: _callback_status(floor) in ("queued", "done"))
    with Session(floor.engine) as s:
        outbound = s.scalars(select(CallAttempt).where(CallAttempt.direction == "outbound")).all()
    assert [a.account_id for a in outbound] == [account]


def _callback_status(floor: Any) -> str:
    with Session(floor.engine) as s:
        return str(s.scalars(select(Callback.status)).one())


async def test_given_caller_in_queue_when_handler_fails_then_attempt_closed_and_caller_leaves_queue(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    inbound = wire_inbound(floor)
    await busy_all_agents(floor)
    queue = InboundQueue(floor.redis)
    failed = asyncio.Event()

    async def broken_reserve(*_args: object) -> int | None:
        failed.set()
        raise RuntimeError("a bug while the caller waits")

    inbound._reserve = broken_reserve  # type: ignore[method-assign]
    floor.pbx.inbound_call(DID, floor.numbers[next(iter(floor.numbers))])
    await until(failed.is_set)
    # Closed, and no longer counted as waiting: outbound is not held back by a ghost.
    await until(lambda: any(a.result for a in inbound_attempts(floor.engine)))
    [row] = inbound_attempts(floor.engine)
    assert row.result == "failed" and row.ended_at is not None
    await until(lambda: _no_trace(queue))  # left the queue, then untracked
    assert (await floor.dialer.snapshot(floor.clock())).inbound_waiting == ()


async def test_given_caller_hangs_up_between_the_reservation_and_the_bridge_then_the_agent_is_not_left_talking(
    make_floor,
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=1)
    inbound = wire_inbound(floor)
    real_talking = inbound.agents.talking
    callers: list[Any] = []

    async def talking_then_caller_gone(agent_id: int, attempt_id: int | None = None) -> Any:
        snap = await real_talking(agent_id, attempt_id)
        floor.pbx.request_hangup(callers[0], 16)  # the caller hangs up right then
        await until(lambda: callers[0].hungup)
        return snap

    inbound.agents.talking = talking_then_caller_gone  # type: ignore[method-assign]
    callers.append(floor.pbx.inbound_call(DID, floor.numbers[next(iter(floor.numbers))]))
    await until(lambda: any(a.result for a in inbound_attempts(floor.engine)))
    agent = floor.agent_ids[0]

    # Released through wrap-up, as after any call; before, a refused move to ready
    # left the agent "talking" on a call that was gone until a reconciliation.
    async def off_the_call() -> bool:
        return (await floor.agents.get(agent)).state is not AgentState.talking

    await until(off_the_call, "the agent still talking on a call that is gone", within=20.0)
    # Wrap-up, or already ready again if the floor's agent closed it.
    assert (await floor.agents.get(agent)).state in (AgentState.wrap_up, AgentState.ready)
