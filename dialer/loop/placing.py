"""Placing one claimed account: the attempt row first, then the final compliance
check (atomic with the caps counter), then the channel. An attempt whose Originate
fate is unknown is never re-sent: reconciliation with Asterisk decides."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from datetime import datetime

from cobrador.ground.masking import mask_phone
from compliance.service import Item, account_facts, phone_facts
from dialer import attempt_store as store
from dialer.call_state import Call
from dialer.channels import Attempt, Channel, PlaceUncertain
from dialer.hopper import Claim
from dialer.loop.context import LoopContext
from dialer.loop.finishing import Finisher, Unplaced
from dialer.loop.live_call import LiveCall
from dialer.pacing.policies import Policy
from dialer.pacing.snapshot import Snapshot
from dialer.refill import backoff_for, health_key
from metrics import definitions as m
from metrics.labels import country_label, error_reason, hour_label, region_label
from store.models import Account

log = logging.getLogger(__name__)

# Time between the final check and the Originate reaching the PBX (SQL writes, the
# AMI round trip), added to the ring timeout when the check asks whether the hours
# allow the whole call.
PLACING_SLACK_SECONDS = 30.0


def dial_level(snapshot: Snapshot, wanted: int) -> float:
    """Calls ringing once this decision's are placed, per ready agent (1 in progressive
    mode, above it when predictive dials ahead); 0 with no agent ready."""
    ready = snapshot.count("ready")
    return (len(snapshot.ringing) + wanted) / ready if ready else 0.0


def local_hour_labels(account: Account, local_time: str | None) -> dict[str, str] | None:
    """The debtor's country, region and local hour at the final check (its decision's
    local time, ISO with the zone's offset); None when the check knew no zone."""
    if not local_time:
        return None
    try:
        local = datetime.fromisoformat(local_time)
    except ValueError:
        return None
    if local.tzinfo is None:
        return None
    country = country_label(account.country)
    return {"country": country, "region": region_label(country, account.region),
            "hour": hour_label(local)}  # fmt: skip


class Placer:
    def __init__(self, ctx: LoopContext, channel: Channel, finisher: Finisher) -> None:
        self.ctx = ctx
        self.channel = channel
        self.finisher = finisher
        self._last_empty_log = 0.0

    async def pace(self, policy: Policy, snapshot: Snapshot) -> int:
        """The policy's decision for the whole floor, placed by this dialer."""
        ctx = self.ctx
        wanted = max(0, int(policy.calls_to_place(snapshot)))
        m.PACING_TARGET_CALLS.labels(ctx.name, ctx.campaign.dial_mode).set(wanted)
        m.DIAL_LEVEL.labels(ctx.name, ctx.campaign.dial_mode).set(dial_level(snapshot, wanted))
        if not wanted:
            return 0
        claims, expired = await ctx.hopper.claim(
            wanted, ctx.options.owner, snapshot.now, ctx.options.lease_seconds
        )
        if expired:
            m.HOPPER_LEASES_EXPIRED.labels(ctx.name).inc(expired)
        if not claims and snapshot.count("ready"):
            await self.hopper_empty()
        placed = 0
        for claim in claims:
            placed += await self.place(claim)
        return placed

    async def place(self, claim: Claim) -> int:
        """1 when the call was handed to Asterisk, else 0."""
        ctx = self.ctx
        now = ctx.clock()
        owner = ctx.options.owner
        account = await asyncio.to_thread(store.load_account, ctx.sql, claim.account_id)
        phone = str(claim.payload.get("phone", ""))
        caller_id = self._caller_id()
        if account is None or not phone or caller_id is None:
            # No registered caller ID (a preview dial, or one just unregistered): not placed.
            await ctx.hopper.release(owner, claim.account_id, None)
            return 0
        at = store.utc(now)
        assert at is not None
        held = await asyncio.to_thread(store.promise_hold, ctx.sql, account.id, at)
        if held is not None:
            # A promise saved after the account entered the hopper (the console takes
            # it out, but Redis is a cache): the open promise in SQL has the last word.
            await ctx.hopper.release(owner, account.id, None)
            m.HOPPER_CLAIMS_REFUSED.labels(ctx.name, "promise_open").inc()
            log.info("account %s not dialed: promise open until %s", account.id, held.date())
            return 0
        resting = store.resting_until(account, at)
        if resting is not None:
            # A stale claim (the refill holds every account it admits): the account's
            # own rest stands, and its date in SQL is left as it is.
            await ctx.hopper.release(owner, account.id, None)
            m.HOPPER_CLAIMS_REFUSED.labels(ctx.name, "resting").inc()
            log.warning("account %s not dialed: a stale hopper entry, the account rests until %s",
                        account.id, resting.isoformat())  # fmt: skip
            return 0
        profile = ctx.compliance.profile_for(ctx.campaign, account.country)
        # The call may ring until the ring timeout, after the writes before the
        # Originate: the hours must allow all of it (a call checked at 21:59:50
        # would ring the debtor after 22:00).
        reach = ctx.options.ring_timeout_seconds + PLACING_SLACK_SECONDS
        item = Item(account_facts(account), phone_facts(account, phone), profile, ctx.campaign.id,
                    reach_seconds=reach)  # fmt: skip
        # From the attempt row's insert to the Originate a store may fail (SQL cut,
        # Redis away): the row must not stay open. Until the call is in `calls` a
        # failure leaves a row never dialed; the Finisher closes it as not placed,
        # retried until SQL has it, and gives the account back.
        written: list[int] = []
        try:
            return await self._place(claim, account, phone, caller_id, item, now, at, written)
        except BaseException:
            attempt_id = written[0] if written else None
            if attempt_id is None or attempt_id not in ctx.calls:
                self.finisher.not_placed(Unplaced(account.id, self.channel.kind, at, attempt_id))
            raise

    async def _place(self, claim: Claim, account: Account, phone: str, caller_id: str,
                     item: Item, now: float, at: datetime, written: list[int]) -> int:  # fmt: skip
        ctx = self.ctx
        owner = ctx.options.owner
        profile = item.profile
        phone_row = next((p for p in account.phones if p.number_e164 == phone), None)
        # Our claim is fresh: an attempt another dialer opened for this account and never
        # took past the final check was never dialed; closed as not placed (create_attempt).
        attempt_id, unplaced = await asyncio.to_thread(
            store.create_attempt, ctx.sql, channel=self.channel.kind, mine=set(ctx.calls),
            actor=ctx.actor,
            account_id=account.id, phone_id=phone_row.id if phone_row else None,
            phone_e164=phone, campaign_id=ctx.campaign.id, caller_id=caller_id,
            started_at=store.utc(now), source="dialer", direction="outbound",
            placed_by=owner, placed_via=ctx.pbx,
        )  # fmt: skip
        written.append(attempt_id)
        if unplaced:
            log.warning("attempt(s) %s to account %s left before the final check by another "
                        "dialer closed as not placed", unplaced, account.id)  # fmt: skip
        compliance = ctx.compliance
        decision = (await compliance.evaluate_batch([item], at))[0]
        if decision.allowed and compliance.caps is not None:
            # The final check: every cap checked and this attempt counted, atomically.
            caps = await compliance.caps.check_and_count(account.id, profile, at, f"a:{attempt_id}")
            if not caps.allowed:
                decision = replace(decision, allowed=False, reasons=tuple(caps.reasons))
        elif compliance.caps is None:
            decision = replace(decision, allowed=False, reasons=("registry_unavailable",))
        decision_id = await asyncio.to_thread(store.record_decision, ctx.sql, compliance, item,
                                              decision)  # fmt: skip
        country = ctx.campaign.country
        m.DECISIONS.labels(ctx.name, country, "originate", str(decision.allowed).lower()).inc()
        if not decision.allowed:
            for reason in decision.reasons:
                m.DECISION_BLOCKS.labels(ctx.name, country, "originate", reason).inc()
            if not await asyncio.to_thread(store.start_placing, ctx.sql, attempt_id,
                                           result="blocked", ended_at=at,
                                           decision_id=decision_id):  # fmt: skip
                return _closed_by_another(attempt_id)
            until = datetime.fromtimestamp(ctx.clock()).astimezone() + backoff_for(decision.reasons)
            await asyncio.to_thread(store.sleep_account, ctx.sql, account.id, until)
            await ctx.hopper.release(owner, account.id, None)
            log.info("attempt %s to %s blocked at originate: %s", attempt_id, mask_phone(phone),
                     ",".join(decision.reasons))  # fmt: skip
            return 0
        if not await asyncio.to_thread(store.start_placing, ctx.sql, attempt_id,
                                       decision_id=decision_id,
                                       debtor_local_time=decision.local_time):  # fmt: skip
            # Never dialed: the final check counted it, the caps forget it.
            if compliance.caps is not None:
                await compliance.caps.uncount(account.id, attempt_id)
            return _closed_by_another(attempt_id)
        live = LiveCall(Call(attempt_id=attempt_id, account_id=account.id, dialed_at=now),
                        claim=claim, phone=phone, profile_name=profile.name,
                        callback_id=claim.payload.get("callback_id"),
                        local_hour=local_hour_labels(account, decision.local_time))  # fmt: skip
        ctx.calls[attempt_id] = live
        try:
            await self.channel.place(Attempt(attempt_id, account.id, self.channel.kind, phone,
                                             caller_id))  # fmt: skip
        except PlaceUncertain as exc:
            # Never re-sent: the debtor may already be ringing. Reconciliation
            # with Asterisk's live channels decides what happened.
            live.unknown_since = now
            m.ORIGINATE_ERRORS.labels(ctx.name, error_reason(exc.__cause__ or exc)).inc()
            log.warning("originate of attempt %s uncertain (%s); not re-sent", attempt_id, exc)
            return 0
        m.CALLS_PLACED.labels(ctx.name, ctx.campaign.dial_mode).inc()
        if live.local_hour is not None:
            m.LOCAL_HOUR_ATTEMPTS.labels(**live.local_hour).inc()
        log.info("attempt %s: dialing %s", attempt_id, mask_phone(phone))
        return 1

    def _caller_id(self) -> str | None:
        """One of the campaign's registered caller IDs, in turn; None: do not dial."""
        ids = self.ctx.caller_ids.usable
        if not ids:
            return None
        return str(ids[len(self.ctx.calls) % len(ids)])

    async def hopper_empty(self) -> None:
        """Agents wait and nothing is due: counted by reason, logged once a minute."""
        ctx = self.ctx
        raw = await ctx.redis.get(health_key(ctx.name))
        health = json.loads(raw) if raw else {}
        reasons = health.get("blocked", {})
        if not reasons:
            # No account is due: each waits for its next attempt time (recycling,
            # backoff after a block) or the campaign has none left.
            reasons = {"none_due": 1}
            m.HOPPER_EMPTY.labels(ctx.name, "none_due").inc()
        for reason in health.get("blocked", {}):
            m.HOPPER_EMPTY.labels(ctx.name, reason).inc()
        now = ctx.clock()
        if now - self._last_empty_log < 60:
            return
        self._last_empty_log = now
        log.info("dialer %s: agents ready but the hopper is empty; blocked: %s", ctx.name,
                 reasons or "none")  # fmt: skip


def _closed_by_another(attempt_id: int) -> int:
    """Our claim expired between writing the attempt and the final check, and the
    dialer that claimed the account next closed the attempt (not placed), or has
    its call in flight (store.start_placing): the account is theirs now. Nothing
    dialed, nothing released."""
    log.warning("attempt %s closed by another dialer before originate; not dialed", attempt_id)
    return 0
