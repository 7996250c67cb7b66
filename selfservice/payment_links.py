"""Payment links: the port a provider adapter fills (create a checkout for an amount,
read a payment back), a link created for an account and amount, and a provider's
payment recorded once through the payments path (store/importing/payments.py
`record_payment`: balance, promises kept, account paid).

Nothing a notification says is trusted but the payment id: its amount, currency,
status and reference are read from the provider. Card data never reaches cobrador:
the debtor pays on the provider's page.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from compliance.debtor_time import account_day
from gateways import mercadopago as mp
from selfservice.debtor_actions import LEDGER_SOURCE, Debtor, record_contact_in
from store.importing.payments import record_payment
from store.models import Account, AccountStatus, CallAttempt, Campaign, Payment, PaymentLink
from store.payment_reversal import PARTIAL, REVERSAL_STATUSES, reverse_payment

log = logging.getLogger(__name__)

AuditFn = Callable[..., Any]
# Statuses that leave nothing to pay.
NOTHING_TO_PAY = frozenset({AccountStatus.paid.value, AccountStatus.settled.value,
                            AccountStatus.closed.value})  # fmt: skip
MAX_LINK_HOURS = 24 * 30
# Links one account may have made in a window (every one asks the gateway for a
# checkout): one debtor's session, or a script holding its cookie, cannot send our
# gateway account requests without end (and have it throttle every debtor's links).
MAX_LINKS_PER_WINDOW = 10
LINKS_WINDOW = timedelta(hours=1)


# --- the port ----------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutRequest:
    reference: str
    title: str
    amount: Decimal
    currency: str
    expires_from: datetime
    expires_to: datetime


@dataclass(frozen=True)
class Checkout:
    provider_ref: str
    url: str


@dataclass(frozen=True)
class ProviderPayment:
    id: str
    status: str  # approved, pending, rejected, refunded, ...
    amount: Decimal
    currency: str
    reference: str | None
    approved_at: datetime | None
    # How much of it was refunded so far: a partial refund leaves it `approved`.
    refunded: Decimal = Decimal(0)


class ProviderUnavailable(Exception):
    """The provider did not answer usably: try again later (nothing was decided)."""


class UnknownPayment(Exception):
    """The provider knows no payment with this id."""


class PaymentProvider(Protocol):
    name: str

    async def create_checkout(self, request: CheckoutRequest) -> Checkout: ...

    async def payment(self, payment_id: str) -> ProviderPayment: ...


class MercadoPagoProvider:
    """The port over Mercado Pago's Checkout Pro (gateways/mercadopago.py); with
    `api_base` at the local stand-in, the demo's `simulated` gateway."""

    name = "mercadopago"

    def __init__(self, client: mp.MercadoPagoClient, back_url: str | None = None) -> None:
        self.client = client
        self.back_url = back_url

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        body = mp.preference_body(reference=request.reference, title=request.title,
                                  amount=request.amount, currency=request.currency,
                                  expires_from=request.expires_from,
                                  expires_to=request.expires_to, back_url=self.back_url)  # fmt: skip
        try:
            pref = await self.client.create_preference(body, idempotency_key=request.reference)
        except (mp.ApiRefused, mp.ApiUnavailable) as exc:
            raise ProviderUnavailable(str(exc)) from exc
        return Checkout(pref.id, pref.init_point)

    async def payment(self, payment_id: str) -> ProviderPayment:
        try:
            got = await self.client.get_payment(payment_id)
        except mp.NotFound as exc:
            raise UnknownPayment(payment_id) from exc
        except (mp.ApiRefused, mp.ApiUnavailable, ValueError) as exc:
            raise ProviderUnavailable(str(exc)) from exc
        return ProviderPayment(got.id, got.status, got.amount, got.currency,
                               got.external_reference, got.date_approved,
                               got.amount_refunded.quantize(Decimal("0.01")))  # fmt: skip


# --- links -------------------------------------------------------------------------


class PaymentLinkError(ValueError):
    """A link that cannot be made for this account and amount: the message says why."""


class TooManyLinks(PaymentLinkError):
    """The account had MAX_LINKS_PER_WINDOW links made in the last LINKS_WINDOW."""


@dataclass(frozen=True)
class Link:
    id: int
    account_id: int
    url: str
    amount: Decimal
    currency: str
    expires_at: datetime


def parse_amount(raw: str | Decimal) -> Decimal:
    """An amount a person typed or a caller passed: positive, at most 2 decimals."""
    try:
        amount = Decimal(str(raw).strip())
    except InvalidOperation as exc:
        raise PaymentLinkError(f"amount {str(raw)[:20]!r} is not a number") from exc
    if not amount.is_finite() or amount <= 0:
        raise PaymentLinkError("amount must be above zero")
    if amount != amount.quantize(Decimal("0.01")):
        raise PaymentLinkError("amount has more than 2 decimals")
    if amount >= Decimal("1e12"):
        raise PaymentLinkError("amount is too large")
    return amount


async def create_link(engine: Engine, provider: PaymentProvider, account_id: int,
                      amount: Decimal | str, *, actor: str, now: datetime, hours: int,
                      audit: AuditFn, title: str = "Pago de su cuenta") -> Link:  # fmt: skip
    """A link where the debtor pays `amount` (at most the balance) of the account, open
    `hours`; PaymentLinkError when it cannot be, ProviderUnavailable when the provider
    does not answer (the link is kept as failed, nothing is owed to it)."""
    value = parse_amount(amount)
    if not 0 < hours <= MAX_LINK_HOURS:
        raise PaymentLinkError(f"a link is open between 1 and {MAX_LINK_HOURS} hours")
    expires = now + timedelta(hours=hours)
    reference = "cb-" + secrets.token_urlsafe(18)

    def begin() -> tuple[int, str]:
        with Session(engine) as s, s.begin():
            # Locked: two links of one account at once are counted one after the other.
            account = s.get(Account, account_id, with_for_update=True)
            if account is None:
                raise PaymentLinkError(f"no account {account_id}")
            if account.status in NOTHING_TO_PAY or account.balance <= 0:
                raise PaymentLinkError(
                    f"account {account_id} has nothing to pay ({account.status})"
                )
            if value > account.balance:
                raise PaymentLinkError(f"amount {value} is above the balance {account.balance}")
            link = PaymentLink(account_id=account_id, reference=reference, provider=provider.name,
                               amount=value, currency=account.currency, status="creating",
                               created_by=actor[:80], created_at=now, expires_at=expires)  # fmt: skip
            s.add(link)
            s.flush()
            # Counted with this one, after its insert: on SQLite the insert holds the
            # write lock, so a link made at the same time is counted by one of the two.
            made = s.scalar(select(func.count(PaymentLink.id)).where(
                PaymentLink.account_id == account_id,
                PaymentLink.created_at > now - LINKS_WINDOW,
            ))  # fmt: skip
            if (made or 0) > MAX_LINKS_PER_WINDOW:
                raise TooManyLinks(f"account {account_id} had {MAX_LINKS_PER_WINDOW} links "
                                   f"made in {LINKS_WINDOW}")  # fmt: skip
            return link.id, account.currency

    link_id, currency = await asyncio.to_thread(begin)
    request = CheckoutRequest(reference, title, value, currency, now, expires)
    try:
        checkout = await provider.create_checkout(request)
    except ProviderUnavailable:
        await asyncio.to_thread(_finish_link, engine, link_id, None, actor, audit)
        raise
    await asyncio.to_thread(_finish_link, engine, link_id, checkout, actor, audit)
    return Link(link_id, account_id, checkout.url, value, currency, expires)


def _finish_link(engine: Engine, link_id: int, checkout: Checkout | None, actor: str,
                 audit: AuditFn) -> None:  # fmt: skip
    with Session(engine) as s, s.begin():
        link = s.get_one(PaymentLink, link_id)
        if checkout is None:
            link.status = "failed"
        else:
            link.status, link.provider_ref, link.url = "open", checkout.provider_ref, checkout.url
        audit(s, "payment_link", {"link_id": link.id, "provider": link.provider,
                                  "amount": link.amount, "currency": link.currency,
                                  "status": link.status, "expires_at": link.expires_at},
              actor=actor, subject=f"account:{link.account_id}")  # fmt: skip


# --- a provider's payment ----------------------------------------------------------


@dataclass(frozen=True)
class Settlement:
    """What a notification came to: `recorded` (a new payment), `reversed` (a recorded
    payment refunded in full or in part, or charged back: what was not undone before is
    undone now), `replay` (recorded, or undone as far, before), `pending` (not approved
    yet), or `ignored` (not ours, or not payable); `account_paid`: the account's
    balance reached zero with this payment."""

    outcome: str
    reason: str
    account_id: int | None = None
    account_paid: bool = False
    campaign: str | None = None  # the paid account's campaign (its hopper)


async def settle(engine: Engine, provider: PaymentProvider, payment_id: str, *,
                 now: datetime, audit: AuditFn, actor: str = "mercadopago") -> Settlement:  # fmt: skip
    """Reads the payment from the provider (UnknownPayment, ProviderUnavailable) and, when
    it is approved and paid one of our links, records it once."""
    payment = await provider.payment(payment_id)
    return await asyncio.to_thread(_settle_sql, engine, provider.name, payment, now, audit, actor)


def _settle_sql(engine: Engine, provider: str, payment: ProviderPayment, now: datetime,
                audit: AuditFn, actor: str) -> Settlement:  # fmt: skip
    try:
        with Session(engine) as s, s.begin():
            return _settle_in(s, provider, payment, now, audit, actor)
    except IntegrityError:
        # Another notification of the same payment recorded it first; anything else is
        # an error of ours (a 503: Mercado Pago sends it again), never a silent replay.
        with Session(engine) as s:
            recorded = s.scalar(select(Payment.id).where(Payment.provider == provider,
                                                         Payment.provider_payment_id == payment.id))  # fmt: skip
        if recorded is None:
            raise
        return Settlement("replay", "payment already recorded")


def _settle_in(s: Session, provider: str, payment: ProviderPayment, now: datetime,
               audit: AuditFn, actor: str) -> Settlement:  # fmt: skip
    link = None
    if payment.reference:
        link = s.scalars(
            select(PaymentLink).where(PaymentLink.reference == payment.reference)
        ).first()
    if link is None or link.provider != provider:
        return Settlement("ignored", "not a payment of a cobrador link")
    recorded = s.scalars(select(Payment).where(Payment.provider == provider,
                                               Payment.provider_payment_id == payment.id)).first()  # fmt: skip
    subject = f"account:{link.account_id}"
    if recorded is not None:
        if payment.status in REVERSAL_STATUSES or payment.refunded > 0:
            # Refunded (in full or in part) or charged back, read from the provider:
            # the part not undone before is undone now.
            return _reverse(s, link, recorded, payment, now, audit, actor)
        return Settlement("replay", "payment already recorded", link.account_id)
    if payment.status != "approved":
        return Settlement("pending", f"payment is {payment.status}, not approved", link.account_id)
    if payment.currency != link.currency or payment.amount <= 0:
        audit(s, "payment_refused", {"link_id": link.id, "provider": provider,
                                     "provider_payment_id": payment.id,
                                     "amount": payment.amount, "currency": payment.currency,
                                     "reason": "currency or amount does not match the link"},
              actor=actor, subject=subject)  # fmt: skip
        return Settlement("ignored", f"payment in {payment.currency} for a link in {link.currency}",
                          link.account_id)  # fmt: skip
    amount = payment.amount.quantize(Decimal("0.01"))
    account = s.get_one(Account, link.account_id, with_for_update=True)
    was_open = account.status not in NOTHING_TO_PAY
    paid_at = min(payment.approved_at or now, now)
    row = record_payment(s, account, amount, paid_at, now, audit, actor, debtor_day=account_day,
                         source=provider,
                   provider=provider, provider_payment_id=payment.id, payment_link_id=link.id)  # fmt: skip
    link.status, link.paid_at = "paid", paid_at
    # The debtor acted: a debtor-initiated contact in the ledger (not an attempt for
    # caps), on the agent's timeline; the link's reference names the session.
    record_contact_in(s, Debtor(account.id, via="portal", session=link.reference), account,
                      "payment", now, {"amount": str(amount), "currency": payment.currency,
                                       "provider": provider, "provider_payment_id": payment.id,
                                       "link_id": link.id})  # fmt: skip
    refunded = ""
    if payment.refunded > 0:  # first told of it once partly refunded: that part undone too
        refunded = f"; {_reverse(s, link, row, payment, now, audit, actor).reason}"
    paid = was_open and account.status == AccountStatus.paid.value
    campaign = None
    if account.campaign_id is not None:
        campaign = s.scalar(select(Campaign.name).where(Campaign.id == account.campaign_id))
    return Settlement("recorded", f"payment of {amount} {payment.currency} recorded{refunded}",
                      account.id, paid, campaign)  # fmt: skip


def _reverse(s: Session, link: PaymentLink, recorded: Payment, payment: ProviderPayment,
             now: datetime, audit: AuditFn, actor: str) -> Settlement:  # fmt: skip
    """The recorded payment undone as far as the provider says it was refunded: all of
    it when refunded or charged back, else the refunded total (Mercado Pago keeps a
    partly refunded payment `approved`)."""
    full = payment.status in REVERSAL_STATUSES or payment.refunded >= recorded.amount
    label = payment.status if payment.status in REVERSAL_STATUSES else "refunded"
    undone = reverse_payment(s, recorded, label, now, audit, actor, debtor_day=account_day,
                             refunded=None if full else payment.refunded)  # fmt: skip
    if undone is None:
        told = label if full else f"{PARTIAL} {payment.refunded} {link.currency}"
        return Settlement("replay", f"payment {told} before", link.account_id)
    if undone.full:
        link.status = label[:12]
    _mark_ledger(s, link, recorded.reversal or label, recorded.refunded)
    back = undone.balance[1] - undone.balance[0]
    return Settlement("reversed", f"payment {recorded.reversal}: {back} {link.currency} back on "
                                  "the balance"
                                  + ("" if undone.full else
                                     f" ({recorded.refunded} of {recorded.amount} refunded)")
                                  + ("; account reopened" if undone.reopened else ""),
                      link.account_id)  # fmt: skip


def _mark_ledger(s: Session, link: PaymentLink, reversal: str, refunded: Decimal) -> None:
    """The debtor's "paid online" row of this link says it was taken back (the agent's
    timeline); the ledger keeps the row, a refund is no contact of its own."""
    rows = s.scalars(
        select(CallAttempt)
        .where(CallAttempt.account_id == link.account_id, CallAttempt.source == LEDGER_SOURCE,
               CallAttempt.direction == "inbound", CallAttempt.started_at >= link.created_at)
        .order_by(CallAttempt.id.desc())
        .limit(200)
    )  # fmt: skip
    for row in rows:
        details = row.details or {}
        if details.get("debtor_action") == "payment" and details.get("link_id") == link.id:
            row.details = {**details, "reversal": reversal, "refunded": str(refunded)}
            return
