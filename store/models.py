"""SQLAlchemy 2 models: the system of record. Redis only caches what is here."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    exists,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, aliased, mapped_column, relationship

from store.types import UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BigInteger ids that are still autoincrement on SQLite (which only does it for INTEGER).
BigId = BigInteger().with_variant(Integer(), "sqlite")
Money = Numeric(14, 2)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class AccountStatus(enum.StrEnum):
    active = "active"
    paid = "paid"
    settled = "settled"
    disputed = "disputed"
    cease_contact = "cease_contact"
    closed = "closed"


class Stage(enum.StrEnum):
    friendly = "friendly"
    firm = "firm"
    prelegal = "prelegal"
    legal = "legal"


class PhoneType(enum.StrEnum):
    mobile = "mobile"
    home = "home"
    work = "work"
    guarantor = "guarantor"
    reference = "reference"


class Protection(enum.StrEnum):
    """A protected person (compliance/protection.py): no collection contact at all."""

    deceased = "deceased"
    minor = "minor"
    insolvency = "insolvency"


class PhoneStatus(enum.StrEnum):
    active = "active"
    invalid = "invalid"
    wrong_number = "wrong_number"
    stopped = "stopped"  # debtor asked not to be called on this number
    retired = "retired"  # no longer listed by the creditor; kept with its history
    # The number reaches someone who is not the debtor (a relative, an older adult, a
    # minor): never contacted about the debt (compliance/protection.py).
    third_party = "third_party"


# Numbers known to reach someone other than the debtor: an inbound call or message from
# one is never matched to the debtor's account (it would show the debt to that person).
SOMEONE_ELSES = (PhoneStatus.wrong_number.value, PhoneStatus.third_party.value)


class Role(enum.StrEnum):
    agent = "agent"
    supervisor = "supervisor"
    auditor = "auditor"
    admin = "admin"
    field = "field"  # a field agent: visits debtors at their address (field/)


class AttemptResult(enum.StrEnum):
    no_answer = "no_answer"
    busy = "busy"
    failed = "failed"  # the network or our trunk failed (congestion, SIP 5xx, no route)
    # The carrier says the number does not exist (Q.850 1, 22, 28: SIP 404, 410, 484).
    invalid_number = "invalid_number"
    declined = "declined"  # refused at the far end (Q.850 21: SIP 603 Decline)
    machine = "machine"
    abandoned = "abandoned"  # a person not connected within 2 s of the end of the greeting
    early_hangup = "early_hangup"  # answered, hung up before an agent was due: not an abandon
    contact = "contact"  # a person answered and was connected to an agent
    blocked = "blocked"  # final check refused at originate; never dialed
    cancelled = "cancelled"  # hung up by us before answer (payment mid-ring)
    lost = "lost"  # the dialer died before it saw the end; counted as an attempt
    # The dialer died (or lost its claim) before the final check: never dialed, not an attempt.
    not_placed = "not_placed"
    # Inbound (direction "inbound"): never counted as attempts by the caps.
    queue_abandoned = "queue_abandoned"  # the caller hung up before an agent took the call
    after_hours = "after_hours"  # outside opening hours: told the hours, callback requested
    unrouted = "unrouted"  # the dialed number (DID) belongs to no campaign


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    profile: Mapped[str] = mapped_column(String(40))  # e.g. MX, MX-PROFECO, CO, PE, US
    dial_mode: Mapped[str] = mapped_column(String(20), default="progressive")
    status: Mapped[str] = mapped_column(String(20), default="stopped")
    abandon_target: Mapped[Decimal] = mapped_column(Numeric(5, 4), default=Decimal("0.03"))
    caller_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Tightened rules, recycling, priorities, scripts, payment instructions...
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_ref: Mapped[str] = mapped_column(String(64), unique=True)
    debtor_name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(10))
    timezone: Mapped[str | None] = mapped_column(String(64))  # explicit IANA zone wins
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3))
    due_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default=AccountStatus.active.value)
    stage: Mapped[str] = mapped_column(String(20), default=Stage.friendly.value)
    stage_explicit: Mapped[bool] = mapped_column(Boolean, default=False)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The debtor's address as the creditor wrote it, and its coordinates (WGS 84
    # degrees) as the creditor's file gave them: nothing here geocodes. Without
    # coordinates an account cannot be visited (field/).
    address: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # The debtor's e-mail address and its consent with evidence (docs/channels.md).
    email: Mapped[str | None] = mapped_column(String(254))
    email_consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    email_consent_ref: Mapped[str | None] = mapped_column(String(100))
    email_consent_at: Mapped[datetime | None] = mapped_column()
    # active | bounced (the mail server refused it) | invalid
    email_status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    # A signed authorisation for collection visits (CO: microcredit or agricultural loans).
    visit_authorisation_ref: Mapped[str | None] = mapped_column(String(100))
    # Channels the debtor opted out of for the whole account (e.g. "email,visit"): the
    # evidence is in contact_opt_outs; this is what the checks read.
    opted_out: Mapped[str] = mapped_column(String(60), default="", server_default="")
    # A protected person (compliance/protection.py): deceased | minor | insolvency, or
    # None. No collection contact on any channel while it is set; its evidence (a death
    # certificate, the court's or conciliator's file) and when it was set. Changed by
    # an import or a supervisor, each change a `protection_change` audit entry.
    protection: Mapped[str | None] = mapped_column(String(20))
    protection_ref: Mapped[str | None] = mapped_column(String(100))
    protection_at: Mapped[datetime | None] = mapped_column()
    # When the dialer may consider the account again (None: now). Refill reads
    # accounts through this column's index, so it never scans the portfolio.
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    # Admitted to its campaign's Redis hopper at this time and held there (its
    # next_attempt_at is the hold); None when not in a hopper. A hopper lost with
    # Redis gives these accounts back (dialer/hopper_holds.py).
    hopper_since: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # When the account entered its stage (None: at its creation): a strategy's cadence
    # counts its days from here (outreach/strategy.py).
    stage_entered_at: Mapped[datetime | None] = mapped_column()
    # When the outreach scheduler looks at the account again (None: never planned);
    # read through ix_accounts_next_step, never a scan of the portfolio.
    next_step_at: Mapped[datetime | None] = mapped_column()
    # The self-service portal's identity check: a keyed hash (HMAC-SHA256) of the last
    # digits of the debtor's national document, never the digits (selfservice/identity.py).
    identity_hash: Mapped[str | None] = mapped_column(String(64))

    phones: Mapped[list[Phone]] = relationship(
        back_populates="account", cascade="all, delete-orphan", order_by="Phone.position"
    )

    def later_than_its_date(self, when: datetime) -> bool:
        """Whether `when` is later than the date the account already has. The hold of
        an account admitted to a hopper (hopper_since set) is no date of its own: a
        call's result or a disposition replaces it (dialer/refill.py HOPPER_HOLD)."""
        return (
            self.hopper_since is not None
            or self.next_attempt_at is None
            or self.next_attempt_at < when
        )

    __table_args__ = (
        Index("ix_accounts_status_campaign", "status", "campaign_id"),
        Index("ix_accounts_dialable", "campaign_id", "status", "next_attempt_at"),
        # Never-dialed accounts in id order: the refill reads these first. The
        # dialable index cannot serve them in order (NULLs, then a sort by id).
        Index(
            "ix_accounts_never_dialed",
            "campaign_id",
            "status",
            "id",
            postgresql_where=text("next_attempt_at IS NULL"),
            sqlite_where=text("next_attempt_at IS NULL"),
        ),
        Index("ix_accounts_next_step", "campaign_id", "next_step_at", "id"),
        # The few accounts held in a hopper, found without a scan when it is lost.
        Index(
            "ix_accounts_in_hopper",
            "campaign_id",
            "id",
            postgresql_where=text("hopper_since IS NOT NULL"),
            sqlite_where=text("hopper_since IS NOT NULL"),
        ),
    )


class Phone(Base):
    __tablename__ = "phones"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=1)  # phone_1..phone_5
    number_e164: Mapped[str] = mapped_column(String(20), index=True)
    phone_type: Mapped[str] = mapped_column(String(20), default=PhoneType.mobile.value)
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_ref: Mapped[str | None] = mapped_column(String(100))
    consent_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default=PhoneStatus.active.value)
    # The channels the debtor authorised on this number, comma-separated ("call,sms");
    # a consented number without them is authorised for calls only.
    channels: Mapped[str] = mapped_column(String(60), default="call", server_default="call")
    # Channels the debtor opted out of on this number (a "BAJA" reply, an agent...).
    opted_out: Mapped[str] = mapped_column(String(60), default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Evidence that this account's debtor answers the number as themself (a verified
    # call, their own contract): a third-party mark on ANOTHER account that lists the
    # number (the mother's number on her son's card) does not bind it here (her own
    # loan). Set by a supervisor (compliance/protection.py), audited; None: unsure,
    # so another account's mark binds (fail closed).
    owner_confirmed_ref: Mapped[str | None] = mapped_column(String(100))
    owner_confirmed_at: Mapped[datetime | None] = mapped_column()
    # Why and since when the number has its status, when the system or a supervisor set
    # it (store/number_validity.py): `status_reason` a code (carrier_no_such_number,
    # reactivated, answered_after_invalid), `status_evidence` what proves it (the
    # attempts, the supervisor's reason). None for a status an import or a disposition
    # set: their audit entries say why.
    status_at: Mapped[datetime | None] = mapped_column()
    status_reason: Mapped[str | None] = mapped_column(String(40))
    status_evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    account: Mapped[Account] = relationship(back_populates="phones")

    __table_args__ = (
        UniqueConstraint("account_id", "number_e164", name="uq_phones_account_number"),
    )


def matchable_phone(number: Any) -> Any:
    """The condition on a Phone row of `number` for matching an inbound call or message
    to its account: the row is not someone else's (SOMEONE_ELSES), and no account marks
    the number as a third party's, unless this row is confirmed as its debtor's own
    (owner_confirmed_ref). The mark is the number's: the mother who answers it is the
    same whichever of her son's accounts lists it (compliance/same_debtor.py); on her
    own account, confirmed, she is the debtor."""
    other = aliased(Phone)
    return Phone.status.not_in(SOMEONE_ELSES) & (
        Phone.owner_confirmed_ref.is_not(None)
        | ~exists().where(
            other.number_e164 == number, other.status == PhoneStatus.third_party.value
        )
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A field agent's territory (free text, e.g. "CDMX-Coyoacán"): what the supervisor
    # plans by; None for everyone else.
    territory: Mapped[str | None] = mapped_column(String(64))


class LoginThrottle(Base):
    """Failed console logins of one user name or one client address, and its lockout.

    Durable in SQL so that losing Redis never unlocks an account under attack;
    `key` is ``user:<sha256 of the lower-cased name>`` or ``addr:<address>``.
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime | None] = mapped_column()
    locked_until: Mapped[datetime | None] = mapped_column()
    lockouts: Mapped[int] = mapped_column(Integer, default=0)


class ConsoleSession(Base):
    """One console login: the cookie carries a random token, SQL keeps its hash.

    Ended (``ended_at``) by logout, a password reset, a disabled user or a
    changed role; see console/sessions.py for the idle and absolute limits.
    """

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    end_reason: Mapped[str | None] = mapped_column(String(40))


class SkillGroup(Base):
    """Agents who take a campaign's inbound calls first, across campaigns
    (`Campaign.config["inbound"]["skill_group"]` names one; docs/inbound.md)."""

    __tablename__ = "skill_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SkillGroupMember(Base):
    __tablename__ = "skill_group_members"

    group_id: Mapped[int] = mapped_column(ForeignKey("skill_groups.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Decision(Base):
    """A compliance decision: every call placed and every call not placed."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    phone_e164: Mapped[str | None] = mapped_column(String(20))
    # The contact channel decided on, and its address when it is not a number: the
    # e-mail, or the postal address a letter was checked for (up to 300 characters).
    channel: Mapped[str] = mapped_column(String(12), default="call", server_default="call")
    address: Mapped[str | None] = mapped_column(String(320))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    stage: Mapped[str] = mapped_column(
        String(20), default="originate"
    )  # hopper | originate | check
    allowed: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    profile_version: Mapped[str] = mapped_column(String(80), default="")
    registry_versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    local_time: Mapped[str | None] = mapped_column(String(40))
    timezone: Mapped[str | None] = mapped_column(String(200))
    evaluated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ContactChannel(enum.StrEnum):
    """How an attempt reaches the debtor. Only `call` is placed today (dialer/channels/);
    the others are the attempt rows an SMS, WhatsApp, e-mail, field-visit or chat
    channel writes when it lands, into the same ledger the caps read."""

    call = "call"
    sms = "sms"
    whatsapp = "whatsapp"
    email = "email"
    visit = "visit"
    chat = "chat"
    letter = "letter"  # a formal notice by post (outreach/channels/letter.py)
    # What a debtor did in the self-service portal (selfservice/debtor_actions.py):
    # debtor-initiated (direction inbound), never an attempt for the caps.
    portal = "portal"


CONTACT_CHANNELS = tuple(c.value for c in ContactChannel)
# Channels that reach a phone number: their attempts always carry it.
PHONE_CHANNELS = (
    ContactChannel.call.value,
    ContactChannel.sms.value,
    ContactChannel.whatsapp.value,
)


class CallAttempt(Base):
    """One attempt to reach a debtor on one channel (the table keeps its first name:
    every attempt was a call). Call columns (phone, caller ID, PBX channel, hang-up
    cause) are what a call fills; what another channel needs goes in `details`."""

    __tablename__ = "call_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # None only for an inbound call not (yet) matched to an account.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    phone_id: Mapped[int | None] = mapped_column(ForeignKey("phones.id"))
    # The number reached (call, sms, whatsapp: required there); None for a channel
    # that reaches no phone (email, visit, chat), whose `address` says where it went.
    phone_e164: Mapped[str | None] = mapped_column(String(20))
    # The e-mail address or the street address for channels without a phone.
    address: Mapped[str | None] = mapped_column(String(320))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    direction: Mapped[str] = mapped_column(String(10), default="outbound")
    source: Mapped[str] = mapped_column(String(20), default="dialer")  # dialer | import | inbound
    caller_id: Mapped[str | None] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(index=True)
    answered_at: Mapped[datetime | None] = mapped_column()
    bridged_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    # Inbound: when the caller entered the queue (after the greeting); the queue wait
    # is bridged_at (or ended_at) minus this.
    queued_at: Mapped[datetime | None] = mapped_column()
    debtor_local_time: Mapped[str | None] = mapped_column(String(40))
    result: Mapped[str | None] = mapped_column(String(20))
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    right_party_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    # The contact channel (ContactChannel); existing attempts were all calls.
    channel: Mapped[str] = mapped_column(String(12), default="call", server_default="call")
    # What the channel needs besides the common columns (e.g. a message's provider id).
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The call's Asterisk channel name (e.g. PJSIP/trunk-00000001).
    pbx_channel: Mapped[str | None] = mapped_column(String(120))
    uniqueid: Mapped[str | None] = mapped_column(String(64), index=True)
    # The dial loop that wrote an outbound attempt (its dialer id, the owner of its
    # hopper leases) and the Asterisk it dials through: when it dies, a survivor on
    # that Asterisk finds its open attempts here, whatever Redis lost. Read only among
    # the open attempts (ix_call_attempts_open): no index of its own.
    placed_by: Mapped[str | None] = mapped_column(String(200))
    placed_via: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        CheckConstraint(
            "channel IN (" + ", ".join(f"'{c}'" for c in CONTACT_CHANNELS) + ")",
            name="contact_channel",
        ),
        CheckConstraint(
            "phone_e164 IS NOT NULL OR channel NOT IN ("
            + ", ".join(f"'{c}'" for c in PHONE_CHANNELS)
            + ")",
            name="phone_channel_has_number",
        ),
        # Open attempts by start: the few the reconciliations of dead dialers look
        # for (dialer/attempt_store.py, dialer/inbound/housekeeping.py), never a scan
        # of the whole call history.
        Index(
            "ix_call_attempts_open",
            "started_at",
            postgresql_where=text("result IS NULL"),
            sqlite_where=text("result IS NULL"),
        ),
    )


class OutreachStepStatus(enum.StrEnum):
    waiting = "waiting"  # due, outside the channel's window or under a cap: retried at not_before
    sending = "sending"  # committed before the send: never sent again, whatever happens next
    sent = "sent"  # the channel took it (delivery flows into its attempt row)
    uncertain = "uncertain"  # the send's answer never came (or the sender died): never re-sent
    failed = "failed"  # the channel refused it at once
    blocked = "blocked"  # the final check refused it for good (consent, opt-out, legal...)
    handed_to_dialer = "handed_to_dialer"  # a call step: the account is due in its hopper
    passed_over = "passed_over"  # another step replaced it (overdue, or a kept promise)


class OutreachStep(Base):
    """One step of a strategy for one account (outreach/scheduler.py): unique per account
    and key, written before a message leaves, so a step runs at most once."""

    __tablename__ = "outreach_steps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    key: Mapped[str] = mapped_column(String(80))
    stage: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(12))
    template: Mapped[str | None] = mapped_column(String(60))
    event: Mapped[str | None] = mapped_column(String(20))  # None: a cadence step
    promise_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column()
    not_before: Mapped[datetime | None] = mapped_column()  # waiting: looked at again then
    decided_at: Mapped[datetime] = mapped_column()
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("call_attempts.id"), index=True)

    __table_args__ = (
        UniqueConstraint("account_id", "key", name="uq_outreach_steps_account_key"),
        Index("ix_outreach_steps_campaign_decided", "campaign_id", "decided_at"),
    )


class OutreachCursor(Base):
    """How far the scheduler has read a stream of events (promises made or resolved)."""

    __tablename__ = "outreach_cursors"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    at: Mapped[datetime] = mapped_column()


class ContactOptOut(Base):
    """A debtor's request to stop contact on one channel, with its evidence: at one
    address (a number, an e-mail) or, with address None, on the whole account. The
    checks read what it implies from phones.opted_out and accounts.opted_out, written
    in the same transaction (compliance/opt_outs.py); lifting one keeps the row."""

    __tablename__ = "contact_opt_outs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(12))
    address: Mapped[str | None] = mapped_column(String(254))
    source: Mapped[str] = mapped_column(String(20))  # reply | agent | portal | operator
    evidence: Mapped[dict[str, Any]] = mapped_column()
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column()
    lifted_by: Mapped[str | None] = mapped_column(String(80))
    lift_evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_contact_opt_outs_account", "account_id", "channel"),
        Index("ix_contact_opt_outs_address", "address"),
    )


class Disposition(Base):
    __tablename__ = "dispositions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("call_attempts.id"), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    party: Mapped[str] = mapped_column(String(20))  # titular, aval, tercero, nadie
    outcome: Mapped[str] = mapped_column(String(40))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Promise(Base):
    __tablename__ = "promises"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("call_attempts.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    due_date: Mapped[date] = mapped_column(Date)
    # open | kept | broken | cancelled (the rest of a plan whose instalment broke)
    status: Mapped[str] = mapped_column(String(20), default="open")
    paid_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    # An instalment of a payment plan (1..n), else a single promise.
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("payment_plans.id"), index=True)
    instalment: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        # The outreach scheduler reads promises made or resolved since its cursor.
        Index("ix_promises_created_at", "created_at"),
        Index("ix_promises_resolved_at", "resolved_at"),
        # The payments import breaks the open promises past their date: found without a scan.
        Index(
            "ix_promises_open_due",
            "due_date",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )


class PlanStatus(enum.StrEnum):
    pending = "pending"  # above the agent's limits: waits for a supervisor
    active = "active"  # its instalments are promises
    rejected = "rejected"
    kept = "kept"  # every instalment kept
    broken = "broken"  # an instalment broke; the rest were cancelled


class PaymentPlan(Base):
    """A settlement and/or instalments agreed on a call (console/payment_plans.py);
    its instalments become promises when it is active."""

    __tablename__ = "payment_plans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("call_attempts.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    status: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    balance: Mapped[Decimal] = mapped_column(Money)  # when agreed
    total: Mapped[Decimal] = mapped_column(Money)
    discount: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    interval: Mapped[str] = mapped_column(String(20))
    # [{"number", "due_date", "amount"}]: the promises it becomes once active.
    schedule: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    approval_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_payment_plans_status_campaign", "status", "campaign_id"),)


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_at: Mapped[datetime] = mapped_column()
    source: Mapped[str] = mapped_column(String(20), default="import")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A payment a provider reported (selfservice/payment_links.py): its id there is
    # recorded once, whatever the number of notifications; None for imports.
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_payment_id: Mapped[str | None] = mapped_column(String(64))
    payment_link_id: Mapped[int | None] = mapped_column(ForeignKey("payment_links.id"))
    # What recording it changed (store/importing/payments.py record_payment): "balance"
    # taken off, the account's "status" before, each promise's share ("promises": id ->
    # amount); None for payments recorded before migration 0024.
    applied: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # How much of it a refund has undone so far (a partial refund undoes its part,
    # reverse_payment); the whole amount once reversed in full.
    refunded: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"),
                                              server_default="0")  # fmt: skip
    # A refund or charge-back the provider reported undid it all (reverse_payment), once.
    reversed_at: Mapped[datetime | None] = mapped_column()
    reversal: Mapped[str | None] = mapped_column(String(20))  # refunded | charged_back | ...

    __table_args__ = (
        UniqueConstraint("provider", "provider_payment_id", name="uq_payments_provider_payment"),
    )


class PaymentLink(Base):
    """A link where the debtor pays an amount of the account at a provider (Checkout
    Pro): `reference` is the only thing of ours the provider keeps, and brings back."""

    __tablename__ = "payment_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_ref: Mapped[str | None] = mapped_column(String(120))
    url: Mapped[str | None] = mapped_column(String(500))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    # creating | open | failed | paid | refunded | charged_back | cancelled (paid, undone)
    status: Mapped[str] = mapped_column(String(12))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    paid_at: Mapped[datetime | None] = mapped_column()


class Callback(Base):
    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    phone_id: Mapped[int | None] = mapped_column(ForeignKey("phones.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: anyone
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(
        String(20), default="pending"
    )  # pending|queued|done|missed|released|replaced (by the debtor's newer request)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RegistryImport(Base):
    __tablename__ = "registry_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), index=True)
    country: Mapped[str | None] = mapped_column(String(2))
    version: Mapped[str] = mapped_column(String(80))
    count: Mapped[int] = mapped_column(BigInteger)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    source_file: Mapped[str] = mapped_column(String(500))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class RegisteredCallerId(Base):
    """A number the despacho may show as caller ID, registered with the regulator
    (MX: REDECO); a campaign dials only with numbers of this set (compliance.caller_ids)."""

    __tablename__ = "registered_caller_ids"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # E.164 digits, no '+'
    country: Mapped[str] = mapped_column(String(2), index=True)
    reference: Mapped[str] = mapped_column(String(100))  # the registration's folio
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RegistryBucket(Base):
    """The numbers of one registry import, as Redis holds them (compliance/registry.py):
    one row per non-empty bucket, sorted 5-byte values. Redis is reloaded from here."""

    __tablename__ = "registry_buckets"

    import_id: Mapped[int] = mapped_column(
        ForeignKey("registry_imports.id", ondelete="CASCADE"), primary_key=True
    )
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    numbers: Mapped[bytes] = mapped_column(LargeBinary)


class AuditEntry(Base):
    """Append-only, hash-chained evidence. Never updated, never deleted."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    actor: Mapped[str] = mapped_column(String(100), default="system")
    subject: Mapped[str | None] = mapped_column(String(100), index=True)
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON
    # Entries written before the Merkle log (migration 0012) chain here by
    # SHA-256; newer ones carry "" and their RFC 9162 leaf hash (hex) instead.
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditPending(Base):
    """Entries written but not yet in the Merkle tree (the integrator's queue).

    A writer inserts here in its own transaction without any lock; the one
    integrator gives each entry its leaf index when it sees it committed.
    """

    __tablename__ = "audit_pending"

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("audit_entries.id"), primary_key=True, autoincrement=False
    )


class AuditLeaf(Base):
    """Leaf `leaf_index` of the audit log's Merkle tree: which entry, its leaf hash."""

    __tablename__ = "audit_leaves"

    leaf_index: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    entry_id: Mapped[int] = mapped_column(ForeignKey("audit_entries.id"), unique=True)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditNode(Base):
    """A perfect subtree of the tree (2**level leaves from index * 2**level), level >= 1:
    what inclusion and consistency proofs and roots are made of, in O(log n) reads."""

    __tablename__ = "audit_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditCheckpoint(Base):
    """A signed checkpoint (tree size, root, time, previous checkpoint) as also sent
    to the witnesses; `body` is the exact signed text, `signature` base64 Ed25519."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column()
    key_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(200))


class AuditWitnessState(Base):
    """The last outcome of writing checkpoints to each witness (the auditor page and
    the alert read it; the witness itself is the evidence, not this row)."""

    __tablename__ = "audit_witness_state"

    witness: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    last_ok_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_error_at: Mapped[datetime | None] = mapped_column()


class RecordingStatus(enum.StrEnum):
    ok = "ok"  # the file was there, closed, hashed
    missing = "missing"  # no file where the recording should be
    empty = "empty"  # a file without audio (0 bytes, or a wav header and no frames)
    failed = "failed"  # the file could not be read (permissions, storage error)


class Recording(Base):
    """One call recording: where its file is, what it hashed to, how long it is kept."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("call_attempts.id"), unique=True)
    storage_key: Mapped[str] = mapped_column(String(200))  # YYYY/MM/DD/<attempt_id>.<ext>
    status: Mapped[str] = mapped_column(String(20), default=RecordingStatus.ok.value)
    failure_reason: Mapped[str | None] = mapped_column(String(200))
    duration_s: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    retention_until: Mapped[datetime] = mapped_column(index=True)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    hold_reason: Mapped[str | None] = mapped_column(String(500))
    hold_by: Mapped[str | None] = mapped_column(String(100))
    purged_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecordingLedgerEntry(Base):
    """A recording asked for and not yet finalized (dialer/recording.py): written
    before MixMonitor starts, deleted once its `recordings` row is written."""

    __tablename__ = "recordings_open"

    attempt_id: Mapped[int] = mapped_column(BigId, ForeignKey("call_attempts.id"), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(100), index=True)
    storage_key: Mapped[str] = mapped_column(String(200))
    pbx_path: Mapped[str] = mapped_column(String(500))
    started_at: Mapped[datetime] = mapped_column()
    owner: Mapped[str] = mapped_column(String(200))  # the dialer that asked for it
    failure: Mapped[str | None] = mapped_column(String(200))  # known at start


class VisitStatus(enum.StrEnum):
    planned = "planned"
    checked_in = "checked_in"  # at the address (the attempt row exists)
    done = "done"  # a result was recorded
    skipped = "skipped"  # the agent could not go; re-planned without it
    cancelled = "cancelled"  # the supervisor took it off the plan


class FieldVisit(Base):
    """A visit planned for one field agent on one day, in route order. Checked in, it
    has its attempt row (channel `visit`) in the contact ledger."""

    __tablename__ = "field_visits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    day: Mapped[date] = mapped_column(Date)  # the agent's working day (the debtor's local date)
    route_position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default=VisitStatus.planned.value)
    planned_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    plan_decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("call_attempts.id"))
    checked_in_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    # The questionnaire's answers (field/questionnaire.py), photo excluded.
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    photo: Mapped[bytes | None] = mapped_column(LargeBinary)
    photo_type: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_field_visits_agent_day", "agent_id", "day"),
        Index("ix_field_visits_day_status", "day", "status"),
    )


class FieldSyncKey(Base):
    """One operation the field app sent (check-in, result, skip), by the key the
    browser gave it: a replay gets the first answer back and changes nothing."""

    __tablename__ = "field_sync_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    visit_id: Mapped[int] = mapped_column(ForeignKey("field_visits.id"))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[int] = mapped_column(Integer)  # the HTTP status answered
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FieldShift(Base):
    """A field agent's shift: positions are taken only inside one, with consent."""

    __tablename__ = "field_shifts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    # The agent agreed to share position and battery for this shift (None: not asked/refused).
    consent_at: Mapped[datetime | None] = mapped_column()


class FieldPosition(Base):
    """A field agent's reported position and battery during a shift; purged after the
    shift plus the retention (field/positions.py)."""

    __tablename__ = "field_positions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("field_shifts.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(index=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    battery: Mapped[float | None] = mapped_column(Float)  # 0..1

    __table_args__ = (Index("ix_field_positions_agent_at", "agent_id", "at"),)


class PortalGate(Base):
    """A way into the self-service portal and its identity check's failures: one signed
    link (``link:<sha256 of the token>``), an account's reference path (``ref:<id>``) or a
    client address (``addr:<address>``, throttled per window). Three wrong answers lock
    a link or reference (selfservice/identity.py); kept in SQL, so no restart unlocks it.
    Also an account's identity questions asked by agents on calls and in chats
    (``agent:<account id>``, console/verify_lock.py), and the wrong answers on one
    call or chat (``call:<attempt id>``, console/verify_tries.py)."""

    __tablename__ = "portal_gates"

    key: Mapped[str] = mapped_column(String(90), primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    # A reference's wrong answers since its last success or unlock, never reset by
    # time: at REFERENCE_HOLD_FAILURES its lock waits for a person.
    total_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    window_started_at: Mapped[datetime | None] = mapped_column()
    locked_at: Mapped[datetime | None] = mapped_column()
    verified_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PortalSession(Base):
    """One verified portal session (selfservice/portal_sessions.py): the debtor's cookie
    carries a random id, SQL keeps its hash. "Salir" ends it (``ended_at``), so a copy
    of the cookie stops working at once; it also ends when idle or too old."""

    __tablename__ = "portal_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the id
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    verified_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()


class DisputeStatus(enum.StrEnum):
    open = "open"
    resolved = "resolved"


class Dispute(Base):
    """A debtor disputes the debt (denies it, says it was paid) or asks for its
    documents: the account becomes ``disputed`` and a supervisor task opens."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # denies | paid | proof
    text: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20))  # the channel it came on: portal, whatsapp...
    status: Mapped[str] = mapped_column(String(20), default=DisputeStatus.open.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SupervisorTask(Base):
    """Work a supervisor must do about an account (a dispute to answer...)."""

    __tablename__ = "supervisor_tasks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    kind: Mapped[str] = mapped_column(String(20))  # dispute
    ref_id: Mapped[int | None] = mapped_column(BigInteger)  # e.g. the dispute's id
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | done
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()
    done_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (Index("ix_supervisor_tasks_open", "status", "campaign_id"),)


class UnprovenReplyHandled(Base):
    """An inbound message whose sender was not proven (a `reply_unproven` audit entry,
    outreach/channels/delivery.py) that a supervisor has read and dealt with: one row per
    entry, so two supervisors cannot both close it (console/unproven_replies.py)."""

    __tablename__ = "unproven_replies_handled"

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("audit_entries.id"), primary_key=True, autoincrement=False
    )
    handled_at: Mapped[datetime] = mapped_column()
    handled_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The supervisor's note ("" for none; its audit entry keeps a SHA-256 and length):
    # None from words_purged_at on, when purge_texts deleted it with the mail's words.
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    words_purged_at: Mapped[datetime | None] = mapped_column(nullable=True)


class UnprovenReplyText(Base):
    """Who sent an unproven inbound message and what it said (its `reply_unproven` audit
    entry keeps only a SHA-256 and the length of each): kept here, where retention
    applies, until `unproven_reply_retention_days` after a supervisor handled it
    (console/unproven_replies.py purge_texts); the audit log is kept for ever."""

    __tablename__ = "unproven_reply_texts"

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("audit_entries.id"), primary_key=True, autoincrement=False
    )
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    # None in rows kept before migration 0035: their entry holds the address.
    address: Mapped[str | None] = mapped_column(String(254), nullable=True)


class AccountDocument(Base):
    """A document the operator attached to an account (the contract, the statement):
    what a debtor who disputes the debt or asks for proof downloads from the portal."""

    __tablename__ = "account_documents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    attached_by: Mapped[str] = mapped_column(String(100))
    attached_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    """A debtor's written conversation on one channel (the portal's chat, SMS,
    WhatsApp): with the assistant, then, once handed over, in the chat queue of the
    account's skill group and with one agent (selfservice/conversations.py)."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # None while the number or the portal session matches no single account.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(12))  # chat (portal) | sms | whatsapp
    address: Mapped[str] = mapped_column(String(64))  # E.164, or the portal session's ref
    # bot | queued | agent | closed
    state: Mapped[str] = mapped_column(String(10), default="bot")
    dialogue: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the assistant's state
    handover_reason: Mapped[str | None] = mapped_column(String(40))
    skill_group_id: Mapped[int | None] = mapped_column(ForeignKey("skill_groups.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    queued_at: Mapped[datetime | None] = mapped_column()
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The agent's ledger row (a debtor-initiated contact): dispositions name it.
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("call_attempts.id"))
    assigned_at: Mapped[datetime | None] = mapped_column()
    messages: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column()
    last_message_at: Mapped[datetime] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    close_reason: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (
        CheckConstraint("state IN ('bot', 'queued', 'agent', 'closed')", name="state"),
        Index("ix_conversations_address", "channel", "address", "state"),
        # The chat queue, oldest first: only the few queued rows, never a scan.
        Index(
            "ix_conversations_queued",
            "queued_at",
            postgresql_where=text("state = 'queued'"),
            sqlite_where=text("state = 'queued'"),
        ),
    )


class ConversationMessage(Base):
    """One message of a conversation, as evidence: who wrote it, the text, and for
    an outgoing one whether it left (sent) or the final check held it (held)."""

    __tablename__ = "conversation_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    sender: Mapped[str] = mapped_column(String(10))  # debtor | assistant | agent | system
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column()
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # received | pending (for the chat sender) | sending | sent | shown (portal) | held (the
    # final check refused it) | failed
    status: Mapped[str] = mapped_column(String(10))
    detail: Mapped[str | None] = mapped_column(String(200))
    provider_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (Index("ix_conversation_messages_conv", "conversation_id", "id"),)


class AgentBreak(Base):
    """One break of an agent's plan, set by a supervisor (console/break_views.py): it
    starts at a local time on some weekdays, in a named IANA zone, for a length, with
    one of the pause reasons. The pacing counts on it before it begins
    (dialer/loop/break_cache.py) and the console pauses the agent at its start
    (console/break_taker.py)."""

    __tablename__ = "agent_breaks"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    start_minute: Mapped[int] = mapped_column(Integer)  # local minutes after midnight
    minutes: Mapped[int] = mapped_column(Integer)
    weekdays: Mapped[str] = mapped_column(String(27))  # "mon,tue,...": compliance WEEKDAYS
    reason: Mapped[str] = mapped_column(String(40))  # a pause reason (comida, break...)
    zone: Mapped[str] = mapped_column(String(64))  # IANA zone of start_minute
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        CheckConstraint("start_minute >= 0 AND start_minute < 1440", name="start_minute"),
        CheckConstraint("minutes > 0", name="minutes"),
    )


class AgentBreakTaken(Base):
    """A scheduled break the console has asked for on one local day (the day of its
    start in the break's zone): one row per break and day, so the pause is asked once,
    whichever console process or restart comes first (console/break_taker.py)."""

    __tablename__ = "agent_breaks_taken"

    break_id: Mapped[int] = mapped_column(
        ForeignKey("agent_breaks.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    taken_at: Mapped[datetime] = mapped_column()
    # What the ask did: paused, pausing, after_call, not_logged_in
    outcome: Mapped[str] = mapped_column(String(20))
