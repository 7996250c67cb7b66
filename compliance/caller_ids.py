"""The caller IDs a despacho may show: its registered set, per country.

CONDUSEF forbids hidden or private caller IDs and expects every number a
despacho calls from to be registered (REDECO); a campaign dials only with
numbers of this set (SQL table `registered_caller_ids`, changed through
`cobrador caller-id add|remove`, each change audited).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from store import audit
from store.models import RegisteredCallerId

MAX_REFERENCE = 100
_SEPARATORS = re.compile(r"[\s().-]")


class CallerIdError(ValueError):
    """A caller ID that cannot be registered or used, with the reason."""


def normalize(number: str, country: str) -> str:
    """E.164 digits without '+', of `country`'s calling code; CallerIdError otherwise."""
    digits = _SEPARATORS.sub("", (number or "")[:40]).removeprefix("+")
    if not digits.isdigit() or not 8 <= len(digits) <= 15:
        raise CallerIdError(f"caller ID {number[:40]!r} must be 8 to 15 digits (E.164)")
    code = phonenumbers.country_code_for_region((country or "").upper())
    if not code or not digits.startswith(str(code)):
        raise CallerIdError(
            f"caller ID {number[:40]!r} is not a number of {country!r} (+{code or '?'})"
        )
    return digits


@dataclass(frozen=True)
class CallerIdCheck:
    """The campaign's caller IDs that are registered, and why it cannot dial if none."""

    usable: tuple[str, ...]
    problem: str | None


def check_campaign(
    caller_ids: Iterable[str], registered: Iterable[str], country: str
) -> CallerIdCheck:
    """Pure: which of a campaign's caller IDs it may show (registered for its country)."""
    known = set(registered)
    wanted = [str(c).removeprefix("+") for c in caller_ids if c]
    usable = tuple(c for c in wanted if c in known)
    if usable:
        return CallerIdCheck(usable, None)
    if not wanted:
        problem = (
            f"no caller ID: a campaign dials only with a caller ID registered for {country} "
            "(CONDUSEF/REDECO; cobrador caller-id list)"
        )
    else:
        problem = (
            f"no registered caller ID: none of the campaign's {len(wanted)} caller ID(s) is "
            f"registered for {country} (cobrador caller-id add NUMBER --country {country} "
            "--reference REF)"
        )
    return CallerIdCheck((), problem)


def registered(session: Session, country: str) -> set[str]:
    return set(
        session.scalars(
            select(RegisteredCallerId.number).where(RegisteredCallerId.country == country.upper())
        )
    )


def listing(session: Session, country: str | None = None) -> Sequence[RegisteredCallerId]:
    query = select(RegisteredCallerId).order_by(
        RegisteredCallerId.country, RegisteredCallerId.number
    )
    if country:
        query = query.where(RegisteredCallerId.country == country.upper())
    return session.scalars(query).all()


def add(
    session: Session, number: str, country: str, reference: str, actor: str
) -> RegisteredCallerId:
    """Register a number (in the caller's transaction, audited)."""
    country = (country or "").upper()
    digits = normalize(number, country)
    reference = (reference or "").strip()
    if not reference or len(reference) > MAX_REFERENCE:
        raise CallerIdError(
            f"--reference: the registration reference (REDECO folio...), 1 to {MAX_REFERENCE} characters"
        )
    if session.scalar(select(RegisteredCallerId).where(RegisteredCallerId.number == digits)):
        raise CallerIdError(f"caller ID +{digits} is already registered")
    row = RegisteredCallerId(number=digits, country=country, reference=reference, created_by=actor)
    session.add(row)
    session.flush()
    audit.append(session, "caller_id_change", {"number": digits, "country": country,
                 "reference": reference, "registered": True}, actor=actor,
                 subject=f"caller_id:{digits}")  # fmt: skip
    return row


def remove(session: Session, number: str, actor: str) -> RegisteredCallerId:
    """Unregister a number (audited); campaigns showing it stop dialing with it."""
    digits = _SEPARATORS.sub("", (number or "")[:40]).removeprefix("+")
    row = session.scalar(select(RegisteredCallerId).where(RegisteredCallerId.number == digits))
    if row is None:
        raise CallerIdError(f"caller ID {number[:40]!r} is not registered")
    session.delete(row)
    audit.append(session, "caller_id_change", {"number": digits, "country": row.country,
                 "reference": row.reference, "registered": False}, actor=actor,
                 subject=f"caller_id:{digits}")  # fmt: skip
    return row
