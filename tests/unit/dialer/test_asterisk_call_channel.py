"""The Asterisk call as a channel: an attempt placed as one Originate named by its
attempt, AMI events of our calls as outcome events, others' channels ignored."""

from __future__ import annotations

from typing import Any

import pytest

from dialer.ami import Message
from dialer.ami.errors import AMIError
from dialer.channels import Attempt, Outcome, OutcomeKind, PlaceUncertain, WithdrawFailed
from dialer.channels.asterisk_call import AsteriskCall
from store.models import ContactChannel


class _AMI:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = fail

    async def send_action(self, action: dict[str, Any]) -> Message:
        self.sent.append(action)
        if self.fail:
            raise AMIError("link lost before the reply")
        return Message([("Response", "Success")])


def _channel(ami: _AMI) -> AsteriskCall:
    return AsteriskCall(ami, campaign="norte", ring_timeout_seconds=30,  # type: ignore[arg-type]
                        agi_host="127.0.0.1", agi_port=4573)  # fmt: skip


def _event(**headers: str) -> Message:
    return Message(list(headers.items()))


async def test_given_an_attempt_when_placed_then_one_originate_named_by_the_attempt() -> None:
    ami = _AMI()
    await _channel(ami).place(Attempt(42, 7, ContactChannel.call, "+525512345678", "5550001111"))
    (action,) = ami.sent
    assert action["Action"] == "Originate" and action["ChannelId"] == "cobrador-42"
    assert action["CallerID"] == '"norte" <5550001111>' and action["Timeout"] == 30000


async def test_given_the_reply_lost_when_placing_then_uncertain_and_not_resent() -> None:
    ami = _AMI(fail=True)
    with pytest.raises(PlaceUncertain):
        await _channel(ami).place(Attempt(42, 7, ContactChannel.call, "+5255", "5550001111"))
    assert len(ami.sent) == 1


async def test_given_asterisk_silent_when_withdrawing_then_withdraw_failed() -> None:
    with pytest.raises(WithdrawFailed):
        await _channel(_AMI(fail=True)).withdraw(42, None)


@pytest.mark.parametrize(("event", "expected"), [
    (_event(Event="Newstate", Uniqueid="cobrador-42", Channel="PJSIP/t-1", ChannelState="5"),
     [Outcome(42, OutcomeKind.named, detail="PJSIP/t-1"), Outcome(42, OutcomeKind.ringing)]),
    (_event(Event="Newstate", Uniqueid="cobrador-42", ChannelState="6"),
     [Outcome(42, OutcomeKind.answered)]),
    (_event(Event="Newstate", Uniqueid="cobrador-42", ChannelState="4"), []),
    (_event(Event="OriginateResponse", Uniqueid="cobrador-42", Channel="PJSIP/t-1",
            Response="Failure", Reason="5"), [Outcome(42, OutcomeKind.place_failed, 5)]),
    (_event(Event="OriginateResponse", Uniqueid="cobrador-42", Response="Success"), []),
    (_event(Event="Hangup", Uniqueid="cobrador-42", Cause="17"),
     [Outcome(42, OutcomeKind.ended, 17)]),
    (_event(Event="Hangup", Uniqueid="cobrador-42", Cause="x"),
     [Outcome(42, OutcomeKind.ended, None)]),
    (_event(Event="MixMonitorStart", Uniqueid="cobrador-42"),
     [Outcome(42, OutcomeKind.recording_started)]),
    # Not ours: an agent leg, the ;2 half of a Local channel, a malformed id.
    (_event(Event="Hangup", Uniqueid="1733380000.12", Cause="16"), []),
    (_event(Event="Hangup", Uniqueid="cobrador-42;2", Cause="16"), []),
    (_event(Event="Hangup", Uniqueid="cobrador-x", Cause="16"), []),
])  # fmt: skip
def test_given_an_ami_event_then_its_outcomes(event: Message, expected: list[Outcome]) -> None:
    assert _channel(_AMI()).outcomes(event) == expected
