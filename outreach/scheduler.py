"""The outreach scheduler: for each running campaign with a strategy, finds the accounts
whose next step is due, plans them (outreach/strategy.py), runs every message through
the final check, and sends what passed inside each channel's legal window in the
debtor's time. A call step hands the account to its campaign's hopper.

Once per batch, before anything leaves, one transaction records every decision (sent
or not), the stage moves, a step row per step (unique per account and key) and an
attempt row per message; the sends follow and their answers are written after. So a
crash can lose a send's answer but never send a step twice: a step found `sending`
at start is `uncertain` and stays unsent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from compliance.engine import Decision
from dialer.channels import Attempt, PlaceUncertain
from metrics import definitions as m
from outreach import step_store
from outreach.checks import (
    Addresses,
    CheckRequest,
    FinalCheck,
    Verdict,
    nowhere_reason,
    retry_at,
)
from outreach.links import LinkSigner
from outreach.outgoing import MESSAGE_REACH, MessageSender, OutgoingMessage, SendRefused
from outreach.rendering import (
    MessageFacts,
    MessageOptions,
    TemplateError,
    Templates,
    options_from,
    sender_for,
)
from outreach.step_store import BatchWrite, Loaded, SendResult, StepRecord
from outreach.strategy import MESSAGE_CHANNELS, DueStep, Strategy, StrategyError, plan, strategy_for
from store.models import Campaign, ContactChannel
from store.models import OutreachStepStatus as S

log = logging.getLogger(__name__)

# An account with nothing planned is looked at again after this (a person may move
# its stage; a payment may change its status).
RECHECK = timedelta(days=1)
# A send that has not answered in this long is not coming back: its step is uncertain.
SEND_TIMEOUT = timedelta(seconds=30)
NO_CHANNEL_RETRY = timedelta(minutes=15)
# The delivery figures (gauges from SQL) are read this often, over this window.
FIGURES_EVERY = timedelta(seconds=30)
FIGURES_WINDOW = timedelta(hours=1)
REPORTED_RESULTS = ("sent", "delivered", "read", "replied", "failed")
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class CampaignPlan:
    campaign: Campaign
    strategy: Strategy
    options: MessageOptions
    signer: LinkSigner | None


@dataclass
class Report:
    accounts: int = 0
    decided: int = 0  # messages through the final check
    submitted: int = 0  # messages handed to their channel
    outcomes: dict[str, int] = field(default_factory=dict)  # step status -> count
    stage_changes: int = 0
    handed_to_dialer: int = 0
    errors: list[str] = field(default_factory=list)

    def count(self, status: S) -> None:
        self.outcomes[status.value] = self.outcomes.get(status.value, 0) + 1


class Scheduler:
    def __init__(
        self,
        sql: Engine,
        check: FinalCheck,
        senders: Mapping[str, MessageSender],
        addresses: Addresses,
        templates: Templates | None = None,
        link_secret: bytes = b"",
        clock: Clock = utcnow,
        batch_size: int = 500,
        max_in_flight: int = 64,
    ) -> None:
        self.sql = sql
        self.check = check
        self.senders = dict(senders)
        self.addresses = addresses
        self.templates = templates or Templates()
        self.link_secret = link_secret
        self.clock = clock
        self.batch_size = batch_size
        self.sending = asyncio.Semaphore(max_in_flight)
        self._figures_at: datetime | None = None

    # ------------------------------------------------------------------ campaigns

    def campaigns(self) -> tuple[list[CampaignPlan], list[str]]:
        """Running campaigns with a strategy; a campaign whose rules are wrong is left
        out and named (it sends nothing until fixed)."""
        with Session(self.sql, expire_on_commit=False) as s:
            rows = list(s.scalars(select(Campaign).where(Campaign.status == "running")))
        plans, errors = [], []
        for c in rows:
            try:
                strategy = strategy_for(c.config)
                if strategy.empty:
                    continue
                options = options_from(c.config)
                problems = self.templates.check(strategy)
                if problems:
                    raise TemplateError("; ".join(problems))
                signer = None
                if options.portal_url and self.link_secret:
                    signer = LinkSigner(options.portal_url, self.link_secret,
                                        timedelta(hours=options.link_hours))  # fmt: skip
            except (StrategyError, TemplateError, ValueError) as exc:
                errors.append(f"campaign {c.name}: {exc}")
                continue
            plans.append(CampaignPlan(c, strategy, options, signer))
        return plans, errors

    # ------------------------------------------------------------------ the tick

    async def run_once(self, now: datetime | None = None, max_accounts: int = 0) -> Report:
        """One pass over every due account (at most `max_accounts` of them when set: a
        bounded pass; the rest stay due for the next)."""
        now = now or self.clock()
        report = Report()
        await asyncio.to_thread(
            step_store.close_unanswered_sends, self.sql, now - SEND_TIMEOUT, now
        )
        await asyncio.to_thread(step_store.mark_promise_accounts, self.sql, now)
        plans, errors = await asyncio.to_thread(self.campaigns)
        report.errors.extend(errors)
        for error in errors:
            log.error("outreach: %s", error)
        if self._figures_at is None or now - self._figures_at >= FIGURES_EVERY:
            self._figures_at = now
            await self._delivery_figures(plans, now)
        for cp in plans:
            while True:
                ids = await asyncio.to_thread(
                    step_store.due_accounts, self.sql, cp.campaign.id, now, self.batch_size
                )
                if not ids:
                    break
                await self.run_batch(cp, ids, now, report)
                if len(ids) < self.batch_size:
                    break
                if max_accounts and report.accounts >= max_accounts:
                    return report
        return report

    async def _delivery_figures(self, plans: Sequence[CampaignPlan], now: datetime) -> None:
        """The last hour's messages per campaign, channel and result, and the share that
        failed to be delivered (the alert's input), from the attempt rows."""
        rows = await asyncio.to_thread(step_store.recent_results, self.sql, now - FIGURES_WINDOW)
        names = {cp.campaign.id: cp.campaign.name for cp in plans}
        totals: dict[tuple[str, str], dict[str, int]] = {}
        for campaign_id, channel, result, count in rows:
            name = names.get(campaign_id) if campaign_id is not None else None
            if name is None or result not in REPORTED_RESULTS:
                continue
            totals.setdefault((name, channel), dict.fromkeys(REPORTED_RESULTS, 0))[result] += count
        for (name, channel), counts in totals.items():
            for result, count in counts.items():
                m.OUTREACH_RESULTS.labels(name, channel, result).set(count)
            total = sum(counts.values())
            m.OUTREACH_DELIVERY_FAILURES.labels(name, channel).set(
                counts["failed"] / total if total else 0.0
            )

    async def run(self, stop: asyncio.Event, period: float = 5.0,
                  on_pass: Callable[[], None] | None = None) -> None:  # fmt: skip
        """Tick until `stop` is set; an error in one tick is logged and the next runs.
        `on_pass` is called after each tick that completed (a liveness heartbeat)."""
        while not stop.is_set():
            try:
                await self.run_once()
                if on_pass is not None:
                    on_pass()
            except Exception:  # noqa: BLE001 - the loop outlives one bad tick
                log.exception("outreach tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=period)

    async def run_batch(self, cp: CampaignPlan, ids: Sequence[int], now: datetime,
                        report: Report) -> None:  # fmt: skip
        loaded = await asyncio.to_thread(step_store.load, self.sql, ids)
        batch = BatchWrite()
        pending: list[tuple[StepRecord, Loaded, DueStep]] = []
        report.accounts += len(loaded)
        for item in loaded:
            self._plan_account(cp, item, now, batch, pending, report)
        checked_at = self.clock()  # the wall clock the sends' lateness is measured on
        verdicts = await self._final_check(cp, pending, now)
        for (record, item, due), verdict in zip(pending, verdicts, strict=True):
            self._apply_verdict(cp, record, item, due, verdict, now, batch)
        waiting = {i.account.id: list(i.waiting) for i in loaded}
        try:
            await asyncio.to_thread(step_store.write_batch, self.sql, batch, waiting, now)
        except IntegrityError:
            # Another scheduler wrote one of these steps first: nothing of this batch
            # was written or sent; its accounts are planned again with that row known.
            log.warning("outreach: a step of this batch was already written elsewhere; replanning")
            return
        for record in batch.steps:
            if record.status is not S.sending:  # counted once its send answers
                report.count(record.status)
            if record.status in (S.blocked, S.waiting):
                m.OUTREACH_MESSAGES.labels(cp.campaign.name, record.channel,
                                           record.status.value).inc()  # fmt: skip
        for _, _, new, _ in batch.stage_changes:
            m.OUTREACH_STAGE_CHANGES.labels(cp.campaign.name, new).inc()
        if batch.dial_now:
            m.OUTREACH_HANDOFFS.labels(cp.campaign.name).inc(len(batch.dial_now))
        report.stage_changes += len(batch.stage_changes)
        report.handed_to_dialer += len(batch.dial_now)
        report.decided += sum(1 for r in batch.steps if r.decision is not None)
        await self._send(cp, [r for r in batch.steps if r.status is S.sending], now, report,
                         checked_at)  # fmt: skip

    # ------------------------------------------------------------------ planning

    def _plan_account(self, cp: CampaignPlan, item: Loaded, now: datetime, batch: BatchWrite,
                      pending: list[tuple[StepRecord, Loaded, DueStep]], report: Report) -> None:  # fmt: skip
        account = item.account
        result = plan(cp.strategy, item.state, now)
        if result.stage_change is not None:
            batch.stage_changes.append((account.id, account.stage, result.stage_change.stage,
                                        result.stage_change.reason))  # fmt: skip
        later = [result.next_at] if result.next_at else []
        for over in result.passed_over:
            batch.steps.append(self._record(cp, account.id, over, S.passed_over,
                                            reasons=("replaced_by_later_step",)))  # fmt: skip
        for due in result.due:
            not_before = item.waiting.get(due.key)
            if due.key in item.waiting and not_before is not None and not_before > now:
                later.append(not_before)  # waiting for its window or a cap
                continue
            if due.step.channel == "call":
                batch.steps.append(self._record(cp, account.id, due, S.handed_to_dialer))
                batch.dial_now.append(account.id)
                continue
            if due.step.channel not in self.senders:
                # This process has no such channel (not configured): nothing is decided,
                # the step stays due and is looked at again later.
                later.append(now + NO_CHANNEL_RETRY)
                continue
            address = self.addresses.address(account, due.step.channel)
            record = self._record(cp, account.id, due, S.sending, address=address)
            pending.append((record, item, due))
        batch.next_step_at[account.id] = min(later, default=now + RECHECK)

    def _record(self, cp: CampaignPlan, account_id: int, due: DueStep, status: S,
                reasons: Sequence[str] = (), address: str | None = None) -> StepRecord:  # fmt: skip
        return StepRecord(
            account_id=account_id, campaign_id=cp.campaign.id, key=due.key, stage=due.stage,
            channel=due.step.channel, template=due.step.template,
            event=due.step.event.value if due.step.event else None, promise_id=due.promise_id,
            status=status, due_at=due.due_at, reasons=reasons, address=address, marks=due.marks,
        )  # fmt: skip

    async def _final_check(self, cp: CampaignPlan, pending: Sequence[tuple[StepRecord, Loaded, DueStep]],
                           now: datetime) -> list[Verdict | None]:  # fmt: skip
        """The final check of every message with an address, in one batch; None for a
        message with nowhere to go."""
        asks = [(i, CheckRequest(r.account_id, r.campaign_id, r.channel, r.address))
                for i, (r, _, _) in enumerate(pending) if r.address]  # fmt: skip
        out: list[Verdict | None] = [None] * len(pending)
        if asks:
            verdicts = await self.check.check([a for _, a in asks], now)
            for (index, _), verdict in zip(asks, verdicts, strict=True):
                out[index] = verdict
        return out

    def _apply_verdict(self, cp: CampaignPlan, record: StepRecord, item: Loaded, due: DueStep,
                       verdict: Verdict | None, now: datetime, batch: BatchWrite) -> None:  # fmt: skip
        labels = (cp.campaign.name, record.channel)
        if verdict is None:
            # No authorised address on this channel: not sent, and the decision says why.
            why = nowhere_reason(record.channel)
            verdict = Verdict(Decision(False, (why,), "", {}, None, None, now))
        record.decision = verdict.decision
        record.decision_id = verdict.decision_id
        if not verdict.decision.allowed:
            again = retry_at(verdict, now)
            if again is None:
                record.status = S.blocked
            else:
                record.status = S.waiting
                record.not_before = again
                current = batch.next_step_at.get(record.account_id)
                batch.next_step_at[record.account_id] = min(again, current) if current else again
            for reason in verdict.decision.reasons:
                m.OUTREACH_BLOCKS.labels(*labels, reason).inc()
            batch.steps.append(record)
            return
        try:
            rendered = self._render(cp, item, due, now)
        except TemplateError as exc:
            record.status = S.failed
            record.reasons = ("template_error",)
            record.attempt = None
            log.error("outreach: campaign %s: %s", cp.campaign.name, exc)
            batch.steps.append(record)
            return
        record.attempt = {
            "step": record.key, "stage": record.stage, "template": record.template,
            "event": record.event,
            "subject": rendered[0].subject, "text": rendered[0].text, "params": rendered[1],
        }  # fmt: skip
        record.html = rendered[0].html
        batch.steps.append(record)

    def _render(self, cp: CampaignPlan, item: Loaded, due: DueStep, now: datetime) -> Any:
        account = item.account
        promise = next((p for p in item.state.promises if p.id == due.promise_id), None)
        amount = item.promise_amounts.get(promise.id) if promise is not None else None
        link = cp.signer.link(account.id, now) if cp.signer is not None else ""
        facts = MessageFacts(
            debtor_name=account.debtor_name, link=link, channel=due.step.channel,
            balance=account.balance, currency=account.currency,
            promise_date=promise.due_date if promise else None, promise_amount=amount,
            due_date=account.due_date,
        )  # fmt: skip
        assert due.step.template is not None
        rendered = self.templates.render(due.step.template, due.stage, facts, cp.options)
        params = {k: str(v) for k, v in self.templates.context(facts, cp.options).items()}
        return rendered, params

    # ------------------------------------------------------------------ sending

    async def _send(self, cp: CampaignPlan, records: Sequence[StepRecord], now: datetime,
                    report: Report, checked_at: datetime) -> None:  # fmt: skip
        if not records:
            return
        results = await asyncio.gather(
            *(
                self._send_one(r, sender_for(cp.options, r.channel), now, checked_at)
                for r in records
            )  # fmt: skip
        )
        await asyncio.to_thread(step_store.finish_sends, self.sql, results, now)
        for r in results:
            m.OUTREACH_MESSAGES.labels(cp.campaign.name, r.channel, r.status.value).inc()
            if r.status is S.sent:
                report.submitted += 1
            report.count(r.status)

    async def _send_one(self, record: StepRecord, sender_name: str, now: datetime,
                        checked_at: datetime) -> SendResult:  # fmt: skip
        assert record.attempt_id is not None and record.attempt is not None
        key = (record.account_id, record.key)
        sender = self.senders.get(record.channel)
        if sender is None or record.channel not in MESSAGE_CHANNELS:
            return SendResult(
                key, record.attempt_id, S.failed, record.channel, error="no channel configured"
            )
        message = OutgoingMessage(
            attempt=Attempt(record.attempt_id, record.account_id, _contact(record.channel),
                            record.address or "", sender_name),
            template=record.template or "", stage=record.stage,
            text=str(record.attempt.get("text") or ""), subject=record.attempt.get("subject"),
            html=record.html, params=dict(record.attempt.get("params") or {}),
        )  # fmt: skip
        async with self.sending:
            if self.clock() - checked_at > MESSAGE_REACH - SEND_TIMEOUT:
                # Checked too long ago (a long queue for a sending slot): the hours were
                # shown to allow it only for MESSAGE_REACH after its check. Not sent; the
                # step waits and its next check decides again.
                return SendResult(key, record.attempt_id, S.waiting, record.channel,
                                  error="outside_hours")  # fmt: skip
            # The final check's count, atomic with every other sender's (Redis Lua):
            # the batch's decision was made from counters another process may have
            # moved since. Refused: nothing leaves; the step waits and is tried again.
            refused = await self.check.count(
                CheckRequest(
                    record.account_id, record.campaign_id, record.channel, record.address or ""
                ),
                f"a:{record.attempt_id}",
                now,
            )
            if refused:
                return SendResult(key, record.attempt_id, S.waiting, record.channel,
                                  error=",".join(refused))  # fmt: skip
            try:
                provider_id = await asyncio.wait_for(sender.send(message),
                                                     SEND_TIMEOUT.total_seconds())  # fmt: skip
            except SendRefused as exc:
                return SendResult(key, record.attempt_id, S.failed, record.channel, error=str(exc))
            except (PlaceUncertain, TimeoutError, OSError) as exc:
                return SendResult(
                    key,
                    record.attempt_id,
                    S.uncertain,
                    record.channel,
                    error=str(exc) or type(exc).__name__,
                )
        return SendResult(key, record.attempt_id, S.sent, record.channel, provider_id=provider_id)


def _contact(channel: str) -> ContactChannel:
    return ContactChannel(channel)
