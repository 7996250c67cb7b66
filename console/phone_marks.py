"""An account's numbers as the console shows them: each one's status and, for a number
the system or a supervisor marked (store/number_validity.py), since when (on the
debtor's clock, its zone named) and why; the campaign's numbers marked invalid, for the
supervisor who may reactivate one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from cobrador.ground import code_words
from cobrador.ground.masking import mask_phone
from compliance.debtor_time import debtor_zones
from console.debtor_locale import DebtorLocale, console_locale
from console.i18n import gettext_
from store.models import Account, Phone, PhoneStatus

LISTED = 50  # the supervisor's list: the latest marks first


def phone_note(account: Account, phone: Phone, words: DebtorLocale) -> dict[str, Any]:
    """One number: masked, its status in words, and since when and why it has it."""
    zones = debtor_zones(account.timezone, account.country, account.region, phone.number_e164)
    evidence = phone.status_evidence or {}
    why = code_words.word(code_words.PHONE_STATUS_REASON_LABELS, phone.status_reason, gettext_)
    if phone.status_reason == "reactivated" and evidence.get("reason"):
        why = f"{why} {evidence['reason']}"  # the supervisor's own words
    return {
        "id": phone.id,
        "masked": mask_phone(phone.number_e164),
        "type": phone.phone_type,
        "status": phone.status,
        "status_label": code_words.word(
            code_words.PHONE_STATUS_LABELS, phone.status, gettext_, code_words.OTHER_STATE
        ),  # fmt: skip
        "dialable": phone.status == PhoneStatus.active.value,
        "since": words.when(phone.status_at, zones[0] if zones else None)
        if phone.status_reason
        else "",
        "why": why,
        "attempt_ids": [int(i) for i in evidence.get("attempt_ids", [])],
    }


def phone_notes(account: Account, words: DebtorLocale) -> list[dict[str, Any]]:
    return [phone_note(account, phone, words) for phone in account.phones]


def invalid_phones(engine: Engine, campaign_id: int) -> list[dict[str, Any]]:
    """The campaign's numbers marked invalid, the latest first, with their account."""
    words = console_locale()
    with Session(engine) as session:
        rows = session.execute(
            select(Phone, Account)
            .join(Account, Account.id == Phone.account_id)
            .options(selectinload(Account.phones))
            .where(Account.campaign_id == campaign_id, Phone.status == PhoneStatus.invalid.value)
            .order_by(Phone.status_at.desc().nulls_last(), Phone.id.desc())
            .limit(LISTED)
        ).all()  # fmt: skip
        out = []
        for phone, account in rows:
            note = phone_note(account, phone, words)
            note["account_ref"] = account.external_ref
            note["others_left"] = sum(
                1 for p in account.phones if p.status == PhoneStatus.active.value
            )
            out.append(note)
        return out
