"""Protected persons: a debtor who died, a debtor who is a minor, a debtor in an
insolvency proceeding. While an account says so, no collection contact on any
channel (the engine's account rules); the rule each one implements, with its source
per country, is below and in docs/compliance.md. Durable in SQL (accounts.protection,
_ref, _at): every check reads it from there, so a change binds every process at its
next check; each change is a `protection_change` audit entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cobrador.ground.masking import mask_phone
from store import audit
from store.importing.fields import FieldError, parse_phone
from store.models import Account, Phone, PhoneStatus, Protection

PROTECTIONS = tuple(Protection.__members__)
# The reason code each protection gives (stable strings: tests, metrics, the audit log).
REASON_BY_PROTECTION = {
    "deceased": "debtor_deceased",
    "minor": "debtor_minor",
    "insolvency": "insolvency_proceeding",
}
# A value nobody defined (an edit by hand): protected all the same, fail closed.
UNKNOWN_REASON = "protected_person"
MAX_REF = 100

_WHO = (
    "RULES.md 'who': only the debtor, co-obligors and guarantors; never third parties "
    "(MX CONDUSEF despachos 2014; CO Ley 2300 de 2023; PE Ley 29571 art. 62)"
)
# What each protection rests on, per country ("*": every profile). The law suspends
# enforcement; none names a phone call: we take the stricter reading (no collection
# contact while the proceeding is open), as RULES.md does where the law is unclear.
SOURCES: dict[str, dict[str, str]] = {
    "deceased": {
        "*": "A deceased debtor cannot be reached; whoever answers is a third party ("
        + _WHO
        + "). The estate answers through its legal representative (albacea, sucesión), "
        "outside collection contact.",
    },
    "minor": {
        "MX": "CONDUSEF, Disposiciones en materia de despachos de cobranza (DOF 2014): "
        "never minors (RULES.md MX 'who').",
        "*": "A minor is not capable of the obligation and is never a party to its "
        "collection; whoever answers for them is a third party (" + _WHO + ").",
    },
    "insolvency": {
        "MX": "Ley de Concursos Mercantiles art. 65: from the sentence of concurso mercantil "
        "until the conciliation ends no embargo or execution against the merchant; "
        "claims go through the conciliador.",
        "CO": "Ley 1116 de 2006 art. 20 (reorganización: no new executions, those under way "
        "go to the proceeding) and Ley 1564 de 2012 (CGP) art. 545 (insolvencia de persona "
        "natural no comerciante: once accepted, no new executive proceedings, those under "
        "way suspended).",
        "PE": "Ley 27809, Ley General del Sistema Concursal, art. 17: from the publication "
        "of the procedimiento concursal the debts owed at that date cannot be demanded.",
        "US": "11 U.S.C. 362(a)(6): the automatic stay bars any act to collect a claim "
        "that arose before the bankruptcy petition.",
    },
}


class ProtectionError(ValueError):
    """A protection that cannot be recorded as given; the message says what to fix."""


def protection_reason(protection: str | None) -> str | None:
    """The reason code an account's protection gives, or None when it has none; pure."""
    value = (protection or "").strip()
    if not value:
        return None
    return REASON_BY_PROTECTION.get(value, UNKNOWN_REASON)


def source_for(protection: str, country: str) -> str:
    """The rule a protection implements for a debtor of `country`."""
    table = SOURCES.get(protection, {})
    return table.get(country.upper(), table.get("*", "stricter reading: no contact"))


def set_protection(
    session: Session,
    account: Account,
    protection: str | None,
    ref: str | None,
    *,
    actor: str,
    source: str,
    now: datetime,
) -> bool:
    """Set (or clear, with None) the account's protection in the caller's transaction,
    with a `protection_change` audit entry naming the values before and after. Returns
    False when nothing changed. ProtectionError: unknown value or a reference too long."""
    if protection is not None and protection not in PROTECTIONS:
        raise ProtectionError(f"unknown protection {protection!r}")
    ref = (ref or "").strip() or None
    if ref is not None and len(ref) > MAX_REF:
        raise ProtectionError(f"the evidence reference is longer than {MAX_REF} characters")
    if account.protection == protection and (protection is None or account.protection_ref == ref):
        return False
    was, was_ref = account.protection, account.protection_ref
    account.protection = protection
    account.protection_ref = ref if protection is not None else None
    account.protection_at = now if protection is not None else None
    audit.append(
        session,
        "protection_change",
        protection_payload(protection, ref, was, was_ref, source, account.country),
        actor=actor,
        subject=f"account:{account.id}",
    )
    return True


def protection_payload(
    protection: str | None,
    ref: str | None,
    was: str | None,
    was_ref: str | None,
    source: str,
    country: str,
) -> dict[str, object]:
    """The audit entry of a change: before, after, who asked (`source`) and the rule."""
    return {
        "protection": protection,
        "ref": ref,
        "was": was,
        "was_ref": was_ref,
        "source": source,
        "reason": protection_reason(protection),
        "rule": source_for(protection, country) if protection else None,
    }


@dataclass(frozen=True)
class ProtectionChange:
    """What a supervisor's change touched: the account, its campaign (None: none) and
    whether anything changed (the same value again writes nothing)."""

    account_id: int
    campaign_id: int | None
    changed: bool
    # A number's change: the number's status after it (third_party, active...).
    status: str | None = None


def protect_account(
    session: Session,
    account_ref: str,
    protection: str | None,
    ref: str | None,
    *,
    actor: str,
    now: datetime,
    may_change: Callable[[int | None], bool] = lambda _campaign: True,
) -> ProtectionChange:
    """A supervisor's change of an account's protection (by its reference), in the
    caller's transaction. LookupError: no such account; PermissionError: the account is
    of a campaign `may_change` refuses; ProtectionError: a bad value."""
    account = _account(session, account_ref, may_change)
    changed = set_protection(session, account, protection, ref, actor=actor, source="console",
                             now=now)  # fmt: skip
    return ProtectionChange(account.id, account.campaign_id, changed)


def mark_third_party_number(
    session: Session,
    account_ref: str,
    number: str,
    *,
    actor: str,
    now: datetime,
    may_change: Callable[[int | None], bool] = lambda _campaign: True,
    source: str = "console",
) -> ProtectionChange:
    """Mark one of the account's numbers as reaching someone who is not the debtor
    (status third_party: never contacted on it), with a `phone_status_change` audit
    entry naming `source` (console, cli). `number` in E.164 or national for the
    account's country. LookupError: no such account or the number is not the account's;
    ProtectionError: not a number."""
    return _set_third_party(session, account_ref, number, True, actor=actor, now=now,
                            may_change=may_change, source=source)  # fmt: skip


def clear_third_party_number(
    session: Session,
    account_ref: str,
    number: str,
    *,
    actor: str,
    now: datetime,
    may_change: Callable[[int | None], bool] = lambda _campaign: True,
    source: str = "cli",
) -> ProtectionChange:
    """End a number's third-party mark (it reaches the debtor after all): active again,
    audited as the mark is. A number not marked keeps its status (a wrong number or a
    stop is not undone here): nothing changes."""
    return _set_third_party(session, account_ref, number, False, actor=actor, now=now,
                            may_change=may_change, source=source)  # fmt: skip


def _set_third_party(
    session: Session,
    account_ref: str,
    number: str,
    third_party: bool,
    *,
    actor: str,
    now: datetime,
    may_change: Callable[[int | None], bool],
    source: str,
) -> ProtectionChange:
    account, phone = _account_phone(session, account_ref, number, may_change)
    marked = phone.status == PhoneStatus.third_party.value
    if marked == third_party:
        return ProtectionChange(account.id, account.campaign_id, False, phone.status)
    was = phone.status
    phone.status = (PhoneStatus.third_party if third_party else PhoneStatus.active).value
    phone.updated_at = now
    if third_party:
        # Marked here: not this account's debtor's after all; a confirmation goes.
        phone.owner_confirmed_ref = phone.owner_confirmed_at = None
    audit.append(
        session,
        "phone_status_change",
        {
            "phone_id": phone.id,
            "number": mask_phone(phone.number_e164),
            "status": phone.status,
            "was": was,
            "source": source,
        },  # fmt: skip
        actor=actor,
        subject=f"account:{account.id}",
    )
    return ProtectionChange(account.id, account.campaign_id, True, phone.status)


def confirm_own_number(
    session: Session,
    account_ref: str,
    number: str,
    ref: str | None,
    *,
    actor: str,
    now: datetime,
    may_change: Callable[[int | None], bool] = lambda _campaign: True,
    source: str = "cli",
) -> ProtectionChange:
    """Record (with `ref`, its evidence: a call where the debtor was verified on it, their
    contract) that one of the account's numbers is its debtor's own, or end that (`ref`
    None): a third-party mark on another account that lists the number then does not
    bind it here (the mother's own loan; compliance/service.py). A `phone_owner_change`
    audit entry. LookupError: no such account or number; ProtectionError: not a number,
    a reference too long, or the number is marked as a third party's on this account."""
    account, phone = _account_phone(session, account_ref, number, may_change)
    ref = (ref or "").strip() or None
    if ref is not None and len(ref) > MAX_REF:
        raise ProtectionError(f"the evidence reference is longer than {MAX_REF} characters")
    if ref is not None and phone.status == PhoneStatus.third_party.value:
        raise ProtectionError(
            "the number is marked as a third party's on this account: clear that mark first"
        )
    if phone.owner_confirmed_ref == ref:
        return ProtectionChange(account.id, account.campaign_id, False, phone.status)
    was = phone.owner_confirmed_ref
    phone.owner_confirmed_ref = ref
    phone.owner_confirmed_at = now if ref is not None else None
    phone.updated_at = now
    audit.append(
        session,
        "phone_owner_change",
        {
            "phone_id": phone.id,
            "number": mask_phone(phone.number_e164),
            "owner_confirmed_ref": ref,
            "was": was,
            "source": source,
        },  # fmt: skip
        actor=actor,
        subject=f"account:{account.id}",
    )
    return ProtectionChange(account.id, account.campaign_id, True, phone.status)


def _account(
    session: Session, account_ref: str, may_change: Callable[[int | None], bool]
) -> Account:
    account = session.scalar(select(Account).where(Account.external_ref == account_ref.strip()))
    if account is None:
        raise LookupError(f"no account {account_ref!r}")
    if not may_change(account.campaign_id):
        raise PermissionError(account.campaign_id)
    return account


def _account_phone(
    session: Session, account_ref: str, number: str, may_change: Callable[[int | None], bool]
) -> tuple[Account, Phone]:
    """The account and its listed phone `number` (parsed in the account's country)."""
    account = _account(session, account_ref, may_change)
    try:
        e164, _type = parse_phone(number, account.country, "number")
    except FieldError as exc:
        raise ProtectionError(str(exc)) from None
    phone = next((p for p in account.phones if p.number_e164 == e164), None)
    if phone is None:
        raise LookupError(f"the account has no number {mask_phone(e164)}")
    return account, phone
