"""A message's delivery status in its attempt row (`call_attempts`): the provider's
message id in `uniqueid` (indexed, so a report finds its attempt), the status in
`result`, its history in `details`, each change audited. A status never moves back
(a late "sent" after "delivered" changes nothing); a report about no message of ours
is refused and counted, never guessed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from cobrador.ground.masking import mask_phone
from compliance.reach import MESSAGE_REACH
from dialer.channels import Attempt
from outreach.channels import STATUS_RANK, MessageStatus, StatusReport
from store import audit
from store.db import transaction
from store.models import CallAttempt, ContactChannel, UnprovenReplyText

log = logging.getLogger(__name__)

ACTOR = "outreach"
# Reply ids remembered per attempt, to know a reply the provider delivers again.
REPLY_IDS_KEPT = 20
AUDIT_KIND = "message"
# A message whose sender could not be proven: for a person to read, acting on nothing.
UNPROVEN_KIND = "reply_unproven"
MAX_UNPROVEN_TEXT = 2000
MAX_UNPROVEN_SUBJECT = 300
MAX_UNPROVEN_ADDRESS = 254


@dataclass(frozen=True)
class Change:
    """What a report changed: the attempt, its account, the status it now has."""

    attempt_id: int
    account_id: int | None
    status: MessageStatus
    address: str = ""
    # False for a reply to an attempt already replied, or a reply delivered again.
    first: bool = True


def _details(row: CallAttempt) -> dict[str, Any]:
    return dict(row.details or {})


def _apply(row: CallAttempt, status: MessageStatus, at: datetime, error: str | None) -> None:
    details = _details(row)
    history = list(details.get("history", []))
    entry: dict[str, Any] = {"status": status.value, "at": at.isoformat()}
    if error:
        entry["error"] = error
        details["error"] = error
    history.append(entry)
    details["status"] = status.value
    details["history"] = history
    row.details = details
    row.result = status.value
    if status in (MessageStatus.delivered, MessageStatus.failed) and row.ended_at is None:
        row.ended_at = at
    if status in (MessageStatus.read, MessageStatus.replied) and row.answered_at is None:
        row.answered_at = at


def late_seconds(row: CallAttempt, report: StatusReport) -> int | None:
    """How long after the end of its allowed span (its start plus MESSAGE_REACH) the
    report says the message reached the debtor (delivered or read); None when in time,
    or for any other status."""
    if report.status not in (MessageStatus.delivered, MessageStatus.read):
        return None
    started = row.started_at
    if started is None or report.at is None:
        return None
    over = (report.at - started - MESSAGE_REACH).total_seconds()
    return int(over) if over >= 1 else None


def _audit(session: Any, row: CallAttempt, status: MessageStatus, **extra: Any) -> None:
    payload = {"attempt_id": row.id, "account_id": row.account_id, "channel": row.channel,
               "status": status.value, **{k: v for k, v in extra.items() if v is not None}}  # fmt: skip
    audit.append(session, AUDIT_KIND, payload, actor=ACTOR, subject=f"account:{row.account_id}")


class DeliveryBook:
    def __init__(self, sql: Engine) -> None:
        self.sql = sql

    def sent(self, attempt: Attempt, provider_id: str, at: datetime,
             bound: str | None = None) -> None:  # fmt: skip
        """The gateway accepted the message and named it `provider_id`; `bound`: how
        the provider bounds its delivery to MESSAGE_REACH (None: it cannot)."""
        with transaction(self.sql) as s:
            row = s.get(CallAttempt, attempt.attempt_id)
            if row is None:
                raise LookupError(f"attempt {attempt.attempt_id} has no row")
            row.uniqueid = provider_id
            details = _details(row)
            details.update(provider_id=provider_id, address=attempt.address, sender=attempt.sender,
                           delivery_bound=bound or "none")  # fmt: skip
            row.details = details
            _apply(row, MessageStatus.sent, at, None)
            _audit(s, row, MessageStatus.sent, provider_id=provider_id,
                   delivery_bound=bound or "none")  # fmt: skip

    def annotate(self, attempt_id: int, values: dict[str, Any]) -> None:
        """Adds channel facts to the attempt's details (a letter's file and its hash,
        a carrier's tracking number); the status is untouched."""
        with transaction(self.sql) as s:
            row = s.get(CallAttempt, attempt_id)
            if row is None:
                raise LookupError(f"attempt {attempt_id} has no row")
            row.details = {**_details(row), **values}

    def not_sent(self, attempt: Attempt, error: str, at: datetime) -> None:
        """The gateway refused the message or could not be reached: failed, nothing left."""
        with transaction(self.sql) as s:
            row = s.get(CallAttempt, attempt.attempt_id)
            if row is None:
                raise LookupError(f"attempt {attempt.attempt_id} has no row")
            _apply(row, MessageStatus.failed, at, error)
            _audit(s, row, MessageStatus.failed, error=error)

    def find(self, channel: ContactChannel, provider_id: str) -> tuple[int, int | None] | None:
        """(attempt id, account id) of the message the provider names, or None."""
        with transaction(self.sql) as s:
            found = s.execute(
                select(CallAttempt.id, CallAttempt.account_id).where(
                    CallAttempt.channel == channel.value, CallAttempt.uniqueid == provider_id
                )
            ).first()
        return (int(found[0]), found[1]) if found else None

    def report(self, report: StatusReport) -> Change | None:
        """Apply a provider's report. None when it names no message of ours (the
        caller refuses it) or when it would move the status back (already known)."""
        with transaction(self.sql) as s:
            row = s.scalars(
                select(CallAttempt).where(CallAttempt.channel == report.channel.value,
                                          CallAttempt.uniqueid == report.provider_id)
            ).first()  # fmt: skip
            if row is None:
                raise UnknownMessage(report.channel, report.provider_id)
            if report.recipients and not any(_sent_to(row, report.channel, r)
                                             for r in report.recipients):  # fmt: skip
                # A report naming a message of ours about another address: a bounce
                # forged (or mixed up) must not fail the attempt nor mark its address.
                raise ForeignRecipient(report.channel, row.id)
            current = MessageStatus(row.result) if row.result in STATUS_RANK else None
            if current is not None and (
                current == MessageStatus.failed
                or STATUS_RANK[report.status] <= STATUS_RANK[current]
            ):
                return None
            late = late_seconds(row, report)
            _apply(row, report.status, report.at, report.error)
            if report.address_invalid:
                row.details = {**_details(row), "address_invalid": True}
            if late is not None:
                # It reached the debtor after the span its check allowed: the hours were
                # shown to allow only MESSAGE_REACH after the check. Evidence, and a log.
                row.details = {**_details(row), "late_seconds": late}
                log.warning("%s attempt %s delivered %d s after the span its check allowed",
                            row.channel, row.id, late)  # fmt: skip
            _audit(s, row, report.status, provider_id=report.provider_id, error=report.error,
                   address_invalid=report.address_invalid or None, late_seconds=late)  # fmt: skip
            address = row.phone_e164 or row.address or _details(row).get("address", "")
            return Change(row.id, row.account_id, report.status, str(address))

    def reply(self, channel: ContactChannel, address: str, at: datetime, *,
              provider_id: str | None = None, in_reply_to: str | None = None) -> Change | None:  # fmt: skip
        """Mark the attempt a reply answers as replied: the message it names
        (`in_reply_to`, a provider id), else the latest attempt on that channel to
        that phone number. None when no attempt of ours went there."""
        with transaction(self.sql) as s:
            row = None
            if in_reply_to:
                row = s.scalars(
                    select(CallAttempt).where(CallAttempt.channel == channel.value,
                                              CallAttempt.uniqueid == in_reply_to)
                ).first()  # fmt: skip
                if row is not None and not _sent_to(row, channel, address):
                    # A message of ours to someone else: the reply is not about that
                    # attempt nor its account (a forged or forwarded In-Reply-To, a
                    # quoted message id), only about what its own sender was sent.
                    log.warning("%s reply names attempt %s sent to another address",
                                channel.value, row.id)  # fmt: skip
                    row = None
            if row is None:
                column = (CallAttempt.address if channel == ContactChannel.email
                          else CallAttempt.phone_e164)  # fmt: skip
                row = s.scalars(
                    select(CallAttempt)
                    .where(CallAttempt.channel == channel.value, column == address,
                           CallAttempt.direction == "outbound")
                    .order_by(CallAttempt.started_at.desc(), CallAttempt.id.desc())
                    .limit(1)
                ).first()  # fmt: skip
            if row is None:
                log.info("%s reply from %s answers no attempt of ours", channel.value,
                         mask_phone(address) if channel != ContactChannel.email else "an address")  # fmt: skip
                return None
            seen = list(_details(row).get("reply_ids", []))
            if provider_id and provider_id in seen:  # the provider delivered it again
                return Change(row.id, row.account_id, MessageStatus.replied, first=False)
            first = row.result != MessageStatus.replied.value
            if first:
                _apply(row, MessageStatus.replied, at, None)
            if provider_id:
                row.details = {**_details(row), "reply_ids": [*seen, provider_id][-REPLY_IDS_KEPT:]}
            _audit(s, row, MessageStatus.replied, provider_id=provider_id)
            return Change(row.id, row.account_id, MessageStatus.replied, first=first)

    def unproven(self, channel: ContactChannel, address: str, subject: str, text: str,
                 at: datetime, why: str) -> None:  # fmt: skip
        """A message whose sender its receiving server did not prove (an e-mail's From:,
        gateways/mail_auth.py): kept for a person as an `UNPROVEN_KIND` audit entry,
        about no attempt and no account (what it says may be anyone's). The entry
        proves what arrived without keeping it for ever: who sent it and what it said
        are kept beside it (UnprovenReplyText, where retention applies) and the entry
        holds a digest of each."""
        address, subject, text = (
            storable(address[:MAX_UNPROVEN_ADDRESS]),
            storable(subject[:MAX_UNPROVEN_SUBJECT]),
            storable(text[:MAX_UNPROVEN_TEXT]),
        )
        with transaction(self.sql) as s:
            entry = audit.append(s, UNPROVEN_KIND, {
                "channel": channel.value, **audit.said_digest("address", address),
                **audit.said_digest("subject", subject), **audit.said_digest("text", text),
                "received_at": at.isoformat(), "why": why[:200],
            }, actor=ACTOR)  # fmt: skip
            s.add(UnprovenReplyText(entry_id=entry.id, address=address, subject=subject,
                                    text=text))  # fmt: skip


def storable(said: str) -> str:
    """Text a SQL column takes: PostgreSQL refuses NUL, and UTF-8 a lone surrogate (a
    mail's undecodable bytes); both could only fail the whole mail's keeping."""
    return said.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _sent_to(row: CallAttempt, channel: ContactChannel, address: str) -> bool:
    """Whether the attempt went to `address` (an e-mail address compared without case)."""
    if channel == ContactChannel.email:
        sent = row.address or _details(row).get("address") or ""
        return bool(sent) and str(sent).strip().lower() == address.strip().lower()
    return bool(row.phone_e164) and row.phone_e164 == address


class ForeignRecipient(LookupError):
    """A report about a message of ours that names another recipient than the one the
    message went to."""

    def __init__(self, channel: ContactChannel, attempt_id: int) -> None:
        super().__init__(f"{channel.value} report about attempt {attempt_id} names another "
                         "recipient than its own")  # fmt: skip


class UnknownMessage(LookupError):
    """A report about a message id none of our attempts carries."""

    def __init__(self, channel: ContactChannel, provider_id: str) -> None:
        super().__init__(f"{channel.value} report about unknown message id {provider_id[:80]!r}")
        self.channel = channel
        self.provider_id = provider_id
