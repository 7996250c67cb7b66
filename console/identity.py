"""Who is on the line: the identity questions an agent asks before the debt is
named, and the check of the answers against the account. Pure: no I/O.

Used for the right party of an outbound call (titular or aval, the campaign's
``verification`` question sets) and for inbound callers (``inbound.verification``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import date
from typing import Any

from console.i18n import N_
from dialer.inbound.settings import VERIFICATIONS

PROMPT_LABELS = {
    "birth_date": N_("Fecha de nacimiento (AAAA-MM-DD)"),
    "account_last4": N_("Últimos 4 dígitos de la cuenta"),
    "postal_code": N_("Código postal"),
    "full_name": N_("Nombre completo"),
    "document_last4": N_("Últimos 4 dígitos del documento (INE, cédula, DNI)"),
}
# The document's last digits: never stored, only the portal's keyed hash of them
# (selfservice/identity.py), so they are checked by a function, not read. Asked instead
# of the default inbound question or a weak one (inbound_service.proof_prompts), not a
# campaign's choice.
DOCUMENT_PROMPT = "document_last4"
# The guarantor answers about the account they guaranteed: the same facts, other words.
AVAL_PROMPT_LABELS = {
    "birth_date": N_("Fecha de nacimiento del titular (AAAA-MM-DD)"),
    "account_last4": N_("Últimos 4 dígitos de la cuenta que avala"),
    "postal_code": N_("Código postal del titular"),
    "full_name": N_("Nombre completo del titular"),
    "document_last4": N_("Últimos 4 dígitos del documento del titular (INE, cédula, DNI)"),
}
# Outbound default: on file for every account (the name and the reference).
DEFAULT_PARTY_VERIFICATION = ("full_name", "account_last4")
# What our letters and messages print (the name, the reference, the postal code of the
# address a letter goes to): whoever holds one knows it. A check that asks nothing else
# identifies the person for that call or chat, but proves nothing to clear the
# account's wrong answers with (console/verify_lock.py `record`).
PRINTED_ON_LETTERS = frozenset({"full_name", "account_last4", "postal_code"})
VERIFIED_PARTIES = ("titular", "aval")


def proves_more_than_a_letter(prompts: Collection[str]) -> bool:
    """Whether a check asked something no letter of ours prints (the document's digits,
    the birth date)."""
    return any(p not in PRINTED_ON_LETTERS for p in prompts)


def masked_ref(ref: str) -> str:
    """Only the first two characters: the last digits are a verification answer."""
    return ref[:2] + "•" * max(len(ref) - 2, 0)


def party_prompts(config: Mapping[str, Any], party: str) -> tuple[str, ...]:
    """The campaign's question set for ``party`` (``verification: {"titular": [...],
    "aval": [...]}`` or one list for both); unknown codes are dropped, never all of them."""
    raw: Any = config.get("verification")
    if isinstance(raw, Mapping):
        raw = raw.get(party)
    if not isinstance(raw, list | tuple):
        return DEFAULT_PARTY_VERIFICATION
    chosen = tuple(str(v) for v in raw if v in VERIFICATIONS)
    return chosen or DEFAULT_PARTY_VERIFICATION


def chose_questions(config: Mapping[str, Any]) -> bool:
    """Whether the campaign set its inbound questions itself (`inbound.verification`
    with a known code); else the default set is asked, which the document replaces."""
    raw = (config.get("inbound") or {}).get("verification")
    return isinstance(raw, list | tuple) and any(v in VERIFICATIONS for v in raw)


def chat_prompts(config: Mapping[str, Any], party: str, has_document: bool) -> tuple[str, ...]:
    """The questions of the person writing in a chat the agent was given with its
    account (a WhatsApp or SMS number that names one account), as an inbound caller's
    (inbound_service.proof_prompts): the campaign's inbound questions when it chose
    them; else the document's last 4 digits where the account has them on file
    (`has_document`); the outbound default (the name and the reference's last 4
    digits) is printed on every letter. A guarantor is asked the titular's facts.
    Otherwise (no choice, no document) the party's questions, as on an outbound call:
    a pass on them clears none of the account's wrong answers (verify_lock.record)."""
    if chose_questions(config):
        raw = (config.get("inbound") or {}).get("verification") or ()
        return tuple(str(v) for v in raw if v in VERIFICATIONS)
    if has_document:
        return (DOCUMENT_PROMPT,)
    return party_prompts(config, party)


def prompt_labels(prompts: tuple[str, ...], party: str) -> list[dict[str, str]]:
    """Codes and Spanish msgids (translated by the caller)."""
    labels = AVAL_PROMPT_LABELS if party == "aval" else PROMPT_LABELS
    return [{"code": p, "label": labels[p]} for p in prompts]


def expected_answer(
    prompt: str, external_ref: str, debtor_name: str, custom_fields: Mapping[str, Any] | None
) -> str | None:
    """The account's answer to a prompt; None when it is not on file (the check fails)."""
    fields = custom_fields or {}
    if prompt == "account_last4":
        return external_ref[-4:]
    if prompt == "full_name":
        return debtor_name
    if prompt in ("birth_date", "postal_code"):
        value = fields.get(prompt)
        return str(value) if value else None
    return None


def same_answer(prompt: str, expected: str, given: str) -> bool:
    if prompt == "birth_date":
        try:
            return date.fromisoformat(given.strip()) == date.fromisoformat(expected)
        except ValueError:
            return False
    norm = " ".join(given.split()).casefold()
    return bool(norm) and norm == " ".join(expected.split()).casefold()


def failed_prompts(
    prompts: tuple[str, ...],
    answers: Mapping[str, str],
    external_ref: str,
    debtor_name: str,
    custom_fields: Mapping[str, Any] | None,
    document_matches: Callable[[str], bool] | None = None,
) -> list[str]:
    """The prompts whose answer is missing or wrong (empty: verified).
    `document_matches` checks the document's digits (None: none on file, it fails)."""
    failed = []
    for prompt in prompts:
        if prompt == DOCUMENT_PROMPT:
            if document_matches is None or not document_matches(answers.get(prompt, "")):
                failed.append(prompt)
            continue
        expected = expected_answer(prompt, external_ref, debtor_name, custom_fields)
        if expected is None or not same_answer(prompt, expected, answers.get(prompt, "")):
            failed.append(prompt)
    return failed
