"""Opt-outs per channel, with evidence: a debtor's "BAJA"/"STOP" reply, an agent's
disposition, the portal, an operator. Durable in SQL: each request is a
`contact_opt_outs` row and an `opt_out` audit entry, and what the checks read
(phones.opted_out for one number, accounts.opted_out for the whole account or its
e-mail) is rebuilt from the rows in the same transaction. Nothing lives only in
Redis: every check reads the account's facts from SQL, so an opt-out binds the next
check of every process at once (docs/channels.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from compliance.profile import PHONE_CHANNELS
from store import audit
from store.db import transaction
from store.email_address import is_email_address
from store.models import Account, ContactOptOut, Phone

log = logging.getLogger(__name__)

CHANNELS = ("call", "sms", "whatsapp", "email", "visit", "letter")
SOURCES = ("reply", "agent", "portal", "operator")
MAX_EVIDENCE = 4000  # characters of canonical JSON: a reply's text, ids, a note
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


class OptOutError(ValueError):
    """An opt-out that cannot be recorded as given; the message says what to fix."""


@dataclass(frozen=True)
class OptOutResult:
    """What was recorded: the rows (new or already in force) and the accounts they bind."""

    ids: tuple[int, ...]
    account_ids: tuple[int, ...]
    created: int


# Evidence keys holding what a person wrote (a reply's text, an operator's note).
WORDS = ("text", "note")


def _without_words(evidence: Mapping[str, Any]) -> dict[str, Any]:
    """The evidence with each of its WORDS as a digest (store.audit.said_digest)."""
    kept = {k: v for k, v in evidence.items() if k not in WORDS or not isinstance(v, str)}
    for key in WORDS:
        if isinstance(evidence.get(key), str):
            kept.update(audit.said_digest(key, evidence[key]))
    return kept


def normalise_address(channel: str, address: str | None) -> str | None:
    """The address as the rows keep it: E.164 for a number (a leading + added to
    bare digits, as gateways report them), the e-mail in lower case; OptOutError else."""
    if address is None:
        return None
    text = address.strip()
    if channel in PHONE_CHANNELS:
        if text.isdigit():
            text = "+" + text
        if not _E164.fullmatch(text):
            raise OptOutError(f"{address!r} is not an E.164 number (e.g. +525512345678)")
        return text
    if channel == "email":
        if not is_email_address(text):
            raise OptOutError(f"{address!r} is not an e-mail address")
        return text.lower()
    raise OptOutError(f"a {channel} opt-out is for the whole account: give no address")


def record_opt_out(
    session: Session,
    *,
    channel: str,
    source: str,
    evidence: Mapping[str, Any],
    actor: str,
    address: str | None = None,
    account_id: int | None = None,
    at: datetime | None = None,
) -> OptOutResult:
    """Stop `channel` at `address` (every account that has it, or only `account_id`'s),
    or for the whole of `account_id` when no address is given; in the caller's
    transaction. Asking again from the same source while one is in force adds
    nothing; another source adds its own row, so each stop keeps its own evidence and
    lifting one (the portal lifts only its own) leaves the others. A number or an
    address no account has is audited (`opt_out_unmatched`) and binds nothing."""
    channel = _check(channel, source, evidence, actor)
    address = normalise_address(channel, address)
    if address is None and account_id is None:
        raise OptOutError("an opt-out needs an address or an account")
    if at is not None and at.tzinfo is None:
        raise OptOutError("the opt-out's time needs a time zone")
    when = (at or datetime.now(UTC)).astimezone(UTC)
    accounts = _accounts_with(session, channel, address, account_id)
    if account_id is not None and account_id not in accounts:
        raise OptOutError(
            f"account {account_id} does not exist"
            if session.get(Account, account_id) is None
            else f"{address} is not an address of account {account_id}"
        )
    if not accounts:
        # About nobody we may contact, kept for ever: the address and the words the
        # sender wrote only as digests (a debtor's number later imported still
        # proves the stop by hashing it as normalise_address writes it).
        audit.append(session, "opt_out_unmatched",
                     {"channel": channel, **audit.said_digest("address", address or ""),
                      "source": source, "evidence": _without_words(evidence), "at": when},
                     actor=actor)  # fmt: skip
        log.info("opt-out on %s from an address no account has; nothing to stop", channel)
        return OptOutResult((), (), 0)
    ids: list[int] = []
    created = 0
    for account in accounts:
        row = session.execute(
            select(ContactOptOut).where(
                ContactOptOut.account_id == account,
                ContactOptOut.channel == channel,
                _same_address(address),
                ContactOptOut.source == source,
                ContactOptOut.lifted_at.is_(None),
            )
        ).scalar_one_or_none()
        if row is None:
            row = ContactOptOut(account_id=account, channel=channel, address=address,
                                source=source, evidence=dict(evidence), actor=actor,
                                created_at=when)  # fmt: skip
            session.add(row)
            session.flush()
            created += 1
            audit.append(session, "opt_out",
                         {"opt_out_id": row.id, "account_id": account, "channel": channel,
                          "address": address, "source": source, "evidence": dict(evidence),
                          "at": when}, actor=actor, subject=f"account:{account}")  # fmt: skip
        ids.append(row.id)
    rebuild_opt_outs(session, accounts)
    return OptOutResult(tuple(ids), tuple(accounts), created)


def lift_opt_out(
    session: Session,
    *,
    account_id: int,
    channel: str,
    evidence: Mapping[str, Any],
    actor: str,
    address: str | None = None,
    at: datetime | None = None,
    source: str = "operator",
    only_ids: Collection[int] | None = None,
) -> int:
    """The debtor authorises the channel again (a signed form to the operator, the
    portal): the opt-outs in force at that address (or account-wide with none) are
    lifted, kept with the evidence and who lifted them from where (`source`); with
    `only_ids`, only those rows (the ones this source may lift: the others stay in
    force). Returns how many were lifted; OptOutError when none was."""
    channel = _check(channel, source, evidence, actor)
    address = normalise_address(channel, address)
    when = (at or datetime.now(UTC)).astimezone(UTC)
    query = select(ContactOptOut).where(
        ContactOptOut.account_id == account_id,
        ContactOptOut.channel == channel,
        _same_address(address),
        ContactOptOut.lifted_at.is_(None),
    )
    if only_ids is not None:
        query = query.where(ContactOptOut.id.in_(list(only_ids) or [-1]))
    rows = session.execute(query).scalars().all()
    if not rows:
        raise OptOutError(f"no {channel} opt-out in force for account {account_id}"
                          + (f" at {address}" if address else "")
                          + (" among those given" if only_ids is not None else ""))  # fmt: skip
    for row in rows:
        row.lifted_at, row.lifted_by, row.lift_evidence = when, actor, dict(evidence)
        audit.append(session, "opt_out_lifted",
                     {"opt_out_id": row.id, "account_id": account_id, "channel": channel,
                      "address": address, "source": source,
                      "evidence": dict(evidence), "at": when},
                     actor=actor, subject=f"account:{account_id}")  # fmt: skip
    session.flush()
    rebuild_opt_outs(session, [account_id])
    return len(rows)


def rebuild_opt_outs(session: Session, account_ids: Sequence[int]) -> None:
    """phones.opted_out and accounts.opted_out of these accounts, from the rows in force."""
    if not account_ids:
        return
    rows = session.execute(
        select(ContactOptOut.account_id, ContactOptOut.channel, ContactOptOut.address).where(
            ContactOptOut.account_id.in_(list(account_ids)), ContactOptOut.lifted_at.is_(None)
        )
    ).all()
    whole: dict[int, set[str]] = {a: set() for a in account_ids}
    numbers: dict[tuple[int, str], set[str]] = {}
    for account, channel, address in rows:
        if address is None or channel == "email":
            whole[account].add(channel)  # an account has one e-mail: its opt-out is the account's
        else:
            numbers.setdefault((account, address), set()).add(channel)
    for holder in session.execute(
        select(Account).where(Account.id.in_(list(account_ids)))
    ).scalars():
        holder.opted_out = _joined(whole[holder.id])
    for phone in session.execute(
        select(Phone).where(Phone.account_id.in_(list(account_ids)))
    ).scalars():
        phone.opted_out = _joined(numbers.get((phone.account_id, phone.number_e164), set()))
    session.flush()


def opt_outs_in_force(session: Session, account_id: int) -> list[ContactOptOut]:
    return list(
        session.execute(
            select(ContactOptOut)
            .where(ContactOptOut.account_id == account_id, ContactOptOut.lifted_at.is_(None))
            .order_by(ContactOptOut.id)
        ).scalars()
    )


class ReplyLike(Protocol):
    """What a message channel knows of a reply (outreach.channels.Reply fits)."""

    @property
    def channel(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def attempt_id(self) -> int | None: ...
    @property
    def provider_id(self) -> str | None: ...


def record_reply(engine: Engine, reply: ReplyLike) -> OptOutResult:
    """A reply that asked to stop ("BAJA", "STOP"): its channel stops at the number or
    address it came from, for every account that has it, at once."""
    evidence = {"text": reply.text[:500], "provider_id": reply.provider_id,
                "attempt_id": reply.attempt_id, "received_at": reply.at.isoformat()}  # fmt: skip
    with transaction(engine) as session:
        return record_opt_out(session, channel=str(reply.channel), source="reply",
                              evidence=evidence, actor="outreach", address=reply.address,
                              at=reply.at)  # fmt: skip


def reply_opt_out(engine: Engine) -> Callable[[ReplyLike], Awaitable[None]]:
    """The opt-out a message channel is given (outreach.channels.OptOut): records the
    reply's opt-out before it returns; an error propagates, so the gateway delivers
    the reply again."""

    async def opt_out(reply: ReplyLike) -> None:
        result = await asyncio.to_thread(record_reply, engine, reply)
        log.info("opt-out from a %s reply: %d account(s), %d new", reply.channel,
                 len(result.account_ids), result.created)  # fmt: skip

    return opt_out


def _check(channel: str, source: str, evidence: Mapping[str, Any], actor: str) -> str:
    channel = str(channel).strip().lower()
    if channel not in CHANNELS:
        raise OptOutError(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
    if source not in SOURCES:
        raise OptOutError(f"unknown source {source!r}; one of {', '.join(SOURCES)}")
    if not isinstance(evidence, Mapping) or not any(v not in (None, "") for v in evidence.values()):
        raise OptOutError("an opt-out needs its evidence (the reply, the disposition, a form id)")
    try:
        size = len(json.dumps(dict(evidence)))
    except (TypeError, ValueError) as exc:
        raise OptOutError(f"the evidence is not plain data: {exc}") from exc
    if size > MAX_EVIDENCE:
        raise OptOutError(f"the evidence is longer than {MAX_EVIDENCE} characters")
    if not actor or len(actor) > 80:
        raise OptOutError("an opt-out needs who recorded it (at most 80 characters)")
    return channel


def _accounts_with(
    session: Session, channel: str, address: str | None, account_id: int | None
) -> list[int]:
    if address is None:
        if account_id is None or session.get(Account, account_id) is None:
            return []
        return [account_id]
    if channel == "email":
        query = select(Account.id).where(func.lower(Account.email) == address.lower())
        if account_id is not None:
            query = query.where(Account.id == account_id)
    else:
        query = select(Phone.account_id).where(Phone.number_e164 == address)
        if account_id is not None:
            query = query.where(Phone.account_id == account_id)
    return sorted(set(session.execute(query).scalars()))


def _same_address(address: str | None) -> Any:
    if address is None:
        return ContactOptOut.address.is_(None)
    return ContactOptOut.address == address


def _joined(channels: set[str]) -> str:
    return ",".join(c for c in CHANNELS if c in channels)
