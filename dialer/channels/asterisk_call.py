"""The Asterisk call: an attempt placed as an AMI Originate into the answer context,
named by its attempt id (ChannelId) so every AMI event of the channel finds its
attempt; hung up by AMI Hangup. AMI events become the loop's outcome events here."""

from __future__ import annotations

from dialer import channel_vars as cv
from dialer.ami import AMIClient
from dialer.ami.errors import AMIError
from dialer.channels import (
    Attempt,
    Outcome,
    OutcomeKind,
    PlaceUncertain,
    Report,
    WithdrawFailed,
)
from store.models import ContactChannel

# Newstate ChannelState values (Asterisk's ast_channel_state).
RINGING_STATE = "5"
UP_STATE = "6"
RECORDING_EVENTS = {
    "MixMonitorStart": OutcomeKind.recording_started,
    "MixMonitorStop": OutcomeKind.recording_stopped,
}


def attempt_of(event: Report) -> int | None:
    """The attempt a channel belongs to, from its Uniqueid (our Originate's ChannelId);
    None for any other channel (agent legs, inbound callers, the ;2 of a Local)."""
    uid = event.get("Uniqueid") or ""
    prefix = cv.originate_channel_id("")
    if not uid.startswith(prefix) or ";" in uid:
        return None
    try:
        return int(uid[len(prefix) :])
    except ValueError:
        return None


def _cause(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


class AsteriskCall:
    kind = ContactChannel.call

    def __init__(self, ami: AMIClient, *, campaign: str, ring_timeout_seconds: float,
                 agi_host: str, agi_port: int) -> None:  # fmt: skip
        self.ami = ami
        self.campaign = campaign
        self.ring_timeout_seconds = ring_timeout_seconds
        self.agi_host = agi_host
        self.agi_port = agi_port

    async def place(self, attempt: Attempt) -> None:
        """Raises PlaceUncertain when the reply did not come: the debtor may be
        ringing all the same, so the caller never re-sends it."""
        attempt_id = attempt.attempt_id
        try:
            await self.ami.send_action({
                "Action": "Originate",
                "Channel": cv.debtor_channel(attempt.address),
                "Context": cv.CONTEXT_ANSWER,
                "Exten": "s",
                "Priority": 1,
                "Async": "true",
                "Timeout": int(self.ring_timeout_seconds * 1000),
                "ChannelId": cv.originate_channel_id(attempt_id),
                "CallerID": f'"{self.campaign}" <{attempt.sender}>',
                "Variable": (
                    f"{cv.ATTEMPT_ID}={attempt_id},{cv.CAMPAIGN}={self.campaign},"
                    f"{cv.AGI_HOST}={self.agi_host},{cv.AGI_PORT}={self.agi_port}"
                ),
            })  # fmt: skip
        except AMIError as exc:
            raise PlaceUncertain(str(exc)) from exc

    async def withdraw(self, attempt_id: int, handle: str | None) -> None:
        """Asterisk accepts the Uniqueid (our ChannelId) as Hangup's Channel."""
        channel = handle or cv.originate_channel_id(attempt_id)
        try:
            await self.ami.send_action({"Action": "Hangup", "Channel": channel, "Cause": 16})
        except AMIError as exc:
            raise WithdrawFailed(str(exc)) from exc

    def outcomes(self, report: Report) -> list[Outcome]:
        """The event's outcome, after its channel's name when it carries one
        (every event of the channel but OriginateResponse names it)."""
        attempt_id = attempt_of(report)
        if attempt_id is None:
            return []
        out = []
        named = report.get("Channel")
        if named and report.get("Event") != "OriginateResponse":
            out.append(Outcome(attempt_id, OutcomeKind.named, detail=named))
        outcome = _outcome(attempt_id, report)
        if outcome is not None:
            out.append(outcome)
        return out


def _outcome(attempt_id: int, report: Report) -> Outcome | None:
    """Newstate, OriginateResponse, Hangup and MixMonitor events of our calls."""
    name = report.get("Event")
    if name == "Newstate":
        state = report.get("ChannelState")
        if state == RINGING_STATE:
            return Outcome(attempt_id, OutcomeKind.ringing)
        if state == UP_STATE:
            return Outcome(attempt_id, OutcomeKind.answered)
        return None
    if name == "OriginateResponse":
        if report.get("Response") != "Failure":
            return None
        # Asterisk's last control frame; the Hangup carries the real cause.
        return Outcome(attempt_id, OutcomeKind.place_failed, int(report.get("Reason") or 0))
    if name == "Hangup":
        return Outcome(attempt_id, OutcomeKind.ended, _cause(report.get("Cause")))
    if name in RECORDING_EVENTS:
        return Outcome(attempt_id, RECORDING_EVENTS[name])
    return None
