"""What the channel reports of the loop's calls (outcome events, from AMI for the
Asterisk call) moves each through the state machine in `dialer.call_state`; calls
whose end will never be reported are swept."""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

from dialer import call_state as cs
from dialer.channels import Channel, Outcome, OutcomeKind, Report
from dialer.loop.context import LoopContext
from dialer.loop.finishing import Finisher

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
PLACE_FAILED_WAIT_SECONDS = 5.0  # for the Hangup that carries the real cause


@dataclass
class SeenCall:
    """What Asterisk reported of a call this dialer did not place (another dialer's):
    kept for a while, so that if that dialer dies its attempt is closed with it."""

    answered_at: float | None = None
    ended_at: float | None = None
    cause: int | None = None


class CallEvents:
    def __init__(self, ctx: LoopContext, finisher: Finisher, channel: Channel) -> None:
        self.ctx = ctx
        self.finisher = finisher
        self.channel = channel
        # Calls of other dialers on the same Asterisk, as its events told (oldest first).
        self.seen: OrderedDict[int, SeenCall] = OrderedDict()

    async def handle(self, report: Report) -> None:
        for outcome in self.channel.outcomes(report):
            await self.apply(outcome)

    async def apply(self, outcome: Outcome) -> None:
        ctx = self.ctx
        attempt_id, kind = outcome.attempt_id, outcome.kind
        live = ctx.calls.get(attempt_id)
        if live is None:
            self._saw(outcome)
            return
        now = ctx.clock()
        if kind is OutcomeKind.named and outcome.detail:
            live.call = cs.on_channel(live.call, outcome.detail)
        elif kind is OutcomeKind.ringing:
            live.call = cs.on_ringing(live.call, now)
        elif kind is OutcomeKind.answered:
            # Counted by what answered when the call ends (finishing.answered_as).
            live.call = cs.on_answer(live.call, now)
        elif kind is OutcomeKind.place_failed:
            # The end (with the real cause) may come before or after.
            live.originate_failed = outcome.cause or 0
            live.originate_failed_at = now
        elif kind in (OutcomeKind.recording_started, OutcomeKind.recording_stopped):
            if ctx.recorder is not None:
                started = kind is OutcomeKind.recording_started
                ctx.recorder.on_event(
                    attempt_id, "MixMonitorStart" if started else "MixMonitorStop"
                )
        elif kind is OutcomeKind.ended:
            await self.finisher.finish(attempt_id, cs.on_hangup(live.call, outcome.cause, now))

    def _saw(self, outcome: Outcome) -> None:
        """Another dialer's call (or one this dialer forgot): its answer and end, kept."""
        if outcome.kind not in (OutcomeKind.answered, OutcomeKind.ended):
            return
        seen = self.seen.get(outcome.attempt_id)
        if seen is None:
            seen = self.seen[outcome.attempt_id] = SeenCall()
            while len(self.seen) > SEEN_CALLS_KEPT:
                self.seen.popitem(last=False)
        now = self.ctx.clock()
        if outcome.kind is OutcomeKind.answered:
            seen.answered_at = seen.answered_at or now
        else:
            seen.ended_at = now
            seen.cause = outcome.cause

    async def sweep(self, now: float) -> None:
        """End calls whose end we will not hear about: a placing that failed without
        a channel, or a call far past any plausible length."""
        for attempt_id, live in list(self.ctx.calls.items()):
            failed_at = live.originate_failed_at
            if failed_at is not None and now - failed_at > PLACE_FAILED_WAIT_SECONDS:
                await self.finisher.finish(
                    attempt_id, cs.on_originate_failed(live.call, live.originate_failed, now)
                )
            elif now - live.call.dialed_at > self.ctx.options.stuck_call_seconds:
                await self.finisher.finish(attempt_id, cs.on_hangup(live.call, None, now))
