"""A monitoring session follows the call it was allowed for on Asterisk's events
alone (dialer/monitoring.py `_follow_call`): no Redis is read, so an outage cannot
leave a supervisor hearing the agent's next call."""

from __future__ import annotations

from typing import Any

import pytest

from dialer.ami import Message
from dialer.monitoring import Monitoring, MonitorSession

AGENT = 7
ATTEMPT = 41


class FakeAmi:
    """The AMI protocol as Monitoring uses it: actions recorded, a ConfbridgeList answered."""

    def __init__(self, members: list[dict[str, str]]) -> None:
        self.members = members
        self.actions: list[dict[str, Any]] = []

    async def send_action(self, action: dict[str, Any]) -> Message:
        self.actions.append(action)
        return Message([("Response", "Success")])

    async def send_list_action(self, action: dict[str, Any]) -> tuple[Message, list[Message]]:
        self.actions.append(action)
        return Message([("Response", "Success")]), [Message(list(m.items())) for m in self.members]

    def hangups(self) -> list[str]:
        return [a["Channel"] for a in self.actions if a["Action"] == "Hangup"]


class NoRedis:
    """Every Redis read fails: the outage the session must survive."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Redis read ({name}) while following the call")


def event(name: str, uniqueid: str, **more: str) -> Message:
    return Message([("Event", name), ("Uniqueid", uniqueid), *more.items()])


async def monitoring(members: list[dict[str, str]]) -> tuple[Monitoring, FakeAmi, MonitorSession]:
    ami = FakeAmi(members)

    async def audit(*_: Any) -> None:
        return None

    mon = Monitoring(redis=NoRedis(), ami=ami, states=NoRedis(), user_of=NoRedis(),  # type: ignore[arg-type]
                     phone_for=str, audit=audit, campaigns={"c"}, owner="d1")  # type: ignore[arg-type]  # fmt: skip
    session = MonitorSession("ab" * 8, 1, "sofia", AGENT, "listen", "cobrador-spy-" + "ab" * 8,
                             0.0, ATTEMPT, started_at=1.0)  # fmt: skip
    mon.sessions[session.channel_id] = session
    await mon._learn_call_channels(session)
    return mon, ami, session


LEG = {"Uniqueid": f"cobrador-leg-{AGENT}-x", "MarkedUser": "Yes"}
HOLD = {"Uniqueid": f"phonehold-{AGENT}-ab12", "MarkedUser": "No"}
CALLER = {"Uniqueid": "1733550000.12", "MarkedUser": "No"}


@pytest.mark.parametrize("name", ["Hangup", "ConfbridgeLeave", "BridgeLeave"])
async def test_given_an_outbound_call_heard_when_its_debtor_channel_leaves_then_her_leg_is_hung_up(
    name: str,
) -> None:
    mon, ami, session = await monitoring([LEG])  # the debtor is still on the way in
    await mon.on_ami_event(event(name, f"cobrador-{ATTEMPT}"))
    assert ami.hangups() == [session.channel_id] and session.call_ended


async def test_given_an_inbound_call_heard_when_the_caller_leaves_then_her_leg_is_hung_up() -> None:
    mon, ami, session = await monitoring([LEG, CALLER, HOLD])
    assert session.call_channels == {CALLER["Uniqueid"]}
    for what in (HOLD, LEG):  # the hold music ends, the agent's leg is not the call
        await mon.on_ami_event(event("ConfbridgeLeave", what["Uniqueid"]))
    await mon.on_ami_event(event("ConfbridgeJoin", HOLD["Uniqueid"], Conference=f"agent-{AGENT}"))
    assert ami.hangups() == []
    await mon.on_ami_event(event("Hangup", CALLER["Uniqueid"]))
    assert ami.hangups() == [session.channel_id]


async def test_given_the_debtor_not_yet_in_the_bridge_when_the_caller_joins_then_followed() -> None:
    mon, ami, session = await monitoring([LEG])
    await mon.on_ami_event(event("ConfbridgeJoin", CALLER["Uniqueid"], Conference=f"agent-{AGENT}"))
    await mon.on_ami_event(
        event("ConfbridgeJoin", "1733550000.99", Conference=f"agent-{AGENT + 1}")
    )
    assert session.call_channels == {CALLER["Uniqueid"]} and ami.hangups() == []
    await mon.on_ami_event(event("BridgeLeave", CALLER["Uniqueid"]))
    assert ami.hangups() == [session.channel_id]


async def test_given_a_missed_end_when_another_attempts_debtor_joins_the_agent_then_her_leg_is_hung_up() -> (
    None
):
    mon, ami, session = await monitoring([LEG])
    join = event("ConfbridgeJoin", f"cobrador-{ATTEMPT + 1}", Conference=f"agent-{AGENT}")
    await mon.on_ami_event(join)
    assert ami.hangups() == [session.channel_id]


async def test_given_the_call_channel_gone_when_ami_comes_back_then_her_leg_is_hung_up() -> None:
    mon, ami, session = await monitoring([LEG, CALLER])
    live = [Message([("Uniqueid", u)]) for u in (session.channel_id, LEG["Uniqueid"])]
    await mon.reconcile(live)
    assert ami.hangups() == [session.channel_id]
