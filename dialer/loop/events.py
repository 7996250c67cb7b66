"""AMI events of the loop's calls move each through the state machine in
`dialer.call_state`; calls whose end will never be reported are swept."""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

from dialer import call_state as cs
from dialer import channel_vars as cv
from dialer.ami import Message
from dialer.loop.context import LoopContext
from dialer.loop.finishing import Finisher
from metrics import definitions as m

log = logging.getLogger(__name__)

# The only AMI events the dialer reads (ContactStatus: agent legs, whose phone
# may unregister with its call still up): asking Asterisk for just these
# (a session Filter) tripled sustained originates/s on Asterisk 22 here.
DIALER_EVENTS = (
    "Newstate",
    "Hangup",
    "OriginateResponse",
    "MixMonitorStart",
    "MixMonitorStop",
    "ContactStatus",
)
SEEN_CALLS_KEPT = 10_000  # newest calls of other dialers remembered (a few MB at most)
ORIGINATE_FAILED_WAIT_SECONDS = 5.0  # for the Hangup that carries the real cause


@dataclass
class SeenCall:
    """What Asterisk reported of a call this dialer did not place (another dialer's):
    kept for a while, so that if that dialer dies its attempt is closed with it."""

    answered_at: float | None = None
    ended_at: float | None = None
    cause: int | None = None


def attempt_of(event: Message) -> int | None:
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


def _cause(event: Message) -> int | None:
    cause = event.get("Cause")
    return int(cause) if cause and cause.isdigit() else None


class CallEvents:
    def __init__(self, ctx: LoopContext, finisher: Finisher) -> None:
        self.ctx = ctx
        self.finisher = finisher
        # Calls of other dialers on the same Asterisk, as its events told (oldest first).
        self.seen: OrderedDict[int, SeenCall] = OrderedDict()

    async def handle(self, event: Message) -> None:
        ctx = self.ctx
        attempt_id = attempt_of(event)
        if attempt_id is None:
            return
        live = ctx.calls.get(attempt_id)
        if live is None:
            self._saw(attempt_id, event)
            return
        now = ctx.clock()
        name = event.get("Event")
        channel = event.get("Channel")
        if channel and name != "OriginateResponse":
            live.call = cs.on_channel(live.call, channel)
        if name == "Newstate":
            state = event.get("ChannelState")
            if state == "5":
                live.call = cs.on_ringing(live.call, now)
            elif state == "6":
                live.call = cs.on_answer(live.call, now)
                m.CALLS_ANSWERED.labels(ctx.name, "answered").inc()
        elif name == "OriginateResponse" and event.get("Response") == "Failure":
            # The Hangup event carries the real cause; it may come before or after.
            live.originate_failed = int(event.get("Reason") or 0)
            live.originate_failed_at = now
        elif name in ("MixMonitorStart", "MixMonitorStop") and ctx.recorder is not None:
            ctx.recorder.on_event(attempt_id, str(name))
        elif name == "Hangup":
            await self.finisher.finish(attempt_id, cs.on_hangup(live.call, _cause(event), now))

    def _saw(self, attempt_id: int, event: Message) -> None:
        """Another dialer's call (or one this dialer forgot): its answer and end, kept."""
        name = event.get("Event")
        answered = name == "Newstate" and event.get("ChannelState") == "6"
        if not answered and name != "Hangup":
            return
        seen = self.seen.get(attempt_id)
        if seen is None:
            seen = self.seen[attempt_id] = SeenCall()
            while len(self.seen) > SEEN_CALLS_KEPT:
                self.seen.popitem(last=False)
        now = self.ctx.clock()
        if answered:
            seen.answered_at = seen.answered_at or now
        else:
            seen.ended_at = now
            seen.cause = _cause(event)

    async def sweep(self, now: float) -> None:
        """End calls whose end we will not hear about: an Originate that failed
        without a channel, or a call far past any plausible length."""
        for attempt_id, live in list(self.ctx.calls.items()):
            failed_at = live.originate_failed_at
            if failed_at is not None and now - failed_at > ORIGINATE_FAILED_WAIT_SECONDS:
                await self.finisher.finish(
                    attempt_id, cs.on_originate_failed(live.call, live.originate_failed, now)
                )
            elif now - live.call.dialed_at > self.ctx.options.stuck_call_seconds:
                await self.finisher.finish(attempt_id, cs.on_hangup(live.call, None, now))
