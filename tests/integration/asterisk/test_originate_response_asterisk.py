"""What Asterisk 22 says of an Originate to a phone whose channel never comes up: the
contract the agents' legs (dialer/agent_legs.py leg_named) and the supervisors'
listens (dialer/monitoring.py) match their events by."""

from __future__ import annotations

from asterisk_harness import CallWatcher, wait_until

from dialer import channel_vars as cv
from dialer.agent_legs import leg_channel_id, leg_named
from dialer.ami import AMIClient, Message


async def test_given_a_phone_that_never_comes_up_when_originated_then_the_failure_names_the_leg(
    ami: AMIClient, watcher: CallWatcher
) -> None:
    """No such endpoint, so no channel is ever created: the OriginateResponse Failure
    still carries the ChannelId it was given as its Uniqueid, and echoes the ActionID."""
    leg = leg_channel_id(9998, "contract")
    await ami.send_action({"Action": "Originate", "Channel": "PJSIP/agent-9998",
                           "Context": cv.CONTEXT_AGENT, "Exten": "s", "Priority": 1,
                           "Async": "true", "Timeout": 5000, "ActionID": leg,
                           "ChannelId": leg})  # fmt: skip

    def response() -> list[Message]:
        return [e for e in watcher.all_events
                if e.name == "OriginateResponse" and e.get("ActionID") == leg]  # fmt: skip

    await wait_until(lambda: bool(response()), what="the Originate's response")
    [event] = response()
    assert (event.get("Response"), event.get("Uniqueid")) == ("Failure", leg)
    assert leg_named(event) == leg
