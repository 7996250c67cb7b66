"""The ways the dial loop reaches a debtor. Each channel places an attempt and turns
what its transport reports into outcome events the loop applies, so the loop knows no
channel's protocol: the Asterisk call (`asterisk_call`) is the first; an SMS or
WhatsApp channel implements the same port with its provider's API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from store.models import ContactChannel


class Report(Protocol):
    """What a transport reported (an AMI event, a provider's webhook fields)."""

    def get(self, key: str, /) -> str | None: ...


@dataclass(frozen=True)
class Attempt:
    """An attempt row already written and cleared by the final check: what a channel
    needs to place it. `address` is the phone (call, sms, whatsapp), the e-mail or
    the street address; `sender` the caller ID or sender name shown to the debtor."""

    attempt_id: int
    account_id: int
    channel: ContactChannel
    address: str
    sender: str


class OutcomeKind(StrEnum):
    named = "named"  # the transport's own name for it (a PBX channel): `detail`
    ringing = "ringing"  # delivered, not yet taken (a phone ringing, a message sent)
    answered = "answered"  # the debtor took it (off-hook, message read)
    place_failed = "place_failed"  # the transport could not place it: `cause`
    ended = "ended"  # over: `cause` says how
    recording_started = "recording_started"
    recording_stopped = "recording_stopped"


@dataclass(frozen=True)
class Outcome:
    """One thing a channel reported about an attempt."""

    attempt_id: int
    kind: OutcomeKind
    cause: int | None = None
    detail: str | None = None


class PlaceUncertain(Exception):
    """The request left and its answer did not come: the attempt may be under way.
    Never placed again; the channel's reconciliation decides what happened."""


class WithdrawFailed(Exception):
    """The transport did not confirm ending the attempt."""


class Channel(Protocol):
    kind: ContactChannel

    async def place(self, attempt: Attempt) -> None:
        """Hand the attempt to the transport; raises PlaceUncertain when its fate is unknown."""

    async def withdraw(self, attempt_id: int, handle: str | None) -> None:
        """End an attempt under way (hang up a call); `handle` is its `named` detail.
        Raises WithdrawFailed when the transport did not confirm it."""

    def outcomes(self, report: Report) -> Sequence[Outcome]:
        """One transport report (an AMI event, a provider webhook) as outcome events;
        none when it is about none of this channel's attempts or says nothing the loop uses."""
