"""One person, several accounts: the accounts that share a phone number with an
account reach the same debtor, so the caps count their attempts and contacts
together (RULES.md: caps are per debtor, across all of the debtor's numbers).

The store has no person of its own; a number on two accounts is the evidence that
one person answers both (two debts of one debtor, or a guarantor who is also a
debtor), but only a number that is the debtor's on both (`own_number`): a third party's
number (the debtor's mother, a neighbour, a reference) on two debtors' cards does
not make them one person. Linked wrongly, a contact with one stops the other's calls
and one's protection (deceased) is written on the other's decisions; not linked, one
debtor's caps would be counted apart, so a number is dropped only on the evidence
that it is not the debtor's. The caps count a wider set (`SharedNumbers.caps`,
`may_be_own`): a number marked on a third account still counts two accounts together
that both give it as their debtor's own, since counting them apart could let one
person be called past a cap; that only blocks more. Bounded: a number on more than MAX_PER_NUMBER accounts
(a switchboard typed as the debtor's) links only the first of them. The final check
counts an attempt against all of them in one script (compliance/caps.py), so two
dialers cannot both pass one debtor's cap through two accounts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from store.models import SOMEONE_ELSES, Account, Phone, PhoneStatus, PhoneType

MAX_PER_NUMBER = 20
# Numbers looked up in one statement (well under every database's parameter limit).
CHUNK = 500


def own_number(status: str | None, phone_type: str | None, confirmed_ref: str | None,
          marked: bool) -> bool:  # fmt: skip
    """Whether one account's row of a number makes the number evidence of who its debtor
    is: not when the row says someone else answers it (third_party, wrong_number), nor
    a reference the creditor gave, nor a number any account marks as a third party's
    (`marked`: the mark is the number's, compliance/same_debtor.py) unless a supervisor
    confirmed it as this account's debtor's own (the mother's own loan)."""
    return may_be_own(status, phone_type) and (not marked or bool((confirmed_ref or "").strip()))


def may_be_own(status: str | None, phone_type: str | None) -> bool:
    """Whether one account's row of a number may be its debtor's: the row itself says
    nobody else answers it (not third_party, wrong_number, nor a reference). What the
    caps count together: a mark on another account makes the number no evidence of who
    the debtor is, but counting two accounts that both give it as their debtor's own
    apart could let one person be called past a cap (the mother's two loans, her number
    marked on her son's card); counted together, they only block more."""
    return status not in SOMEONE_ELSES and phone_type != PhoneType.reference.value


@dataclass(frozen=True)
class SharedNumbers:
    """Each account's other accounts, both ways of reading a shared number (ids in
    ascending order; empty when none)."""

    # One person on the evidence (`own_number`): the protection one passes on to the
    # others, the accounts a screen shows beside each other.
    person: dict[int, tuple[int, ...]]
    # Counted together for the caps (`may_be_own` on both rows): every `person` link,
    # and those through a number marked on a third account (the safe side).
    caps: dict[int, tuple[int, ...]]


def shared_numbers(
    engine: Engine, numbers_by_account: Mapping[int, Sequence[str]]
) -> SharedNumbers:
    """For each account, the other accounts that have one of its numbers, read once for
    both relations (`SharedNumbers`)."""
    numbers = sorted({n for ns in numbers_by_account.values() for n in ns if n})
    if not numbers:
        empty: dict[int, tuple[int, ...]] = {a: () for a in numbers_by_account}
        return SharedNumbers(person=empty, caps=dict(empty))
    rows: list[tuple[str, int, str, str, str | None]] = []
    with Session(engine) as session:
        for start in range(0, len(numbers), CHUNK):
            rows.extend(
                (str(n), int(a), str(st), str(t), ref)
                for n, a, st, t, ref in session.execute(
                    select(Phone.number_e164, Phone.account_id, Phone.status,
                           Phone.phone_type, Phone.owner_confirmed_ref)
                    .where(Phone.number_e164.in_(numbers[start : start + CHUNK]))
                    .order_by(Phone.number_e164, Phone.account_id)
                )
            )  # fmt: skip
    # Every row of each number is read, so a mark on any account is seen here.
    marked = {n for n, _, status, _, _ in rows if status == PhoneStatus.third_party.value}
    person = [
        (number, account_id)
        for number, account_id, status, phone_type, ref in rows
        if own_number(status, phone_type, ref, number in marked)
    ]
    caps = [(number, account_id) for number, account_id, status, phone_type, _ in rows
            if may_be_own(status, phone_type)]  # fmt: skip
    return SharedNumbers(
        person=_links(numbers_by_account, person), caps=_links(numbers_by_account, caps)
    )


def _links(
    numbers_by_account: Mapping[int, Sequence[str]], rows: Sequence[tuple[str, int]]
) -> dict[int, tuple[int, ...]]:
    """Each account's others among `rows` (number, account) kept as evidence: through a
    number kept on both; a number links its first MAX_PER_NUMBER + 1 accounts only."""
    holders: dict[str, list[int]] = {}
    own: set[tuple[int, str]] = set()  # (account, number): kept on that account
    for number, account_id in rows:
        own.add((account_id, number))
        kept = holders.setdefault(number, [])
        if len(kept) < MAX_PER_NUMBER + 1:
            kept.append(account_id)
    out: dict[int, set[int]] = {a: set() for a in numbers_by_account}
    for account_id, ns in numbers_by_account.items():
        for number in ns:
            if (account_id, number) in own:
                out[account_id].update(holders.get(number, ()))
        out[account_id].discard(account_id)
    return {a: tuple(sorted(s)) for a, s in out.items()}


def accounts_sharing_numbers(
    engine: Engine, numbers_by_account: Mapping[int, Sequence[str]]
) -> dict[int, tuple[int, ...]]:
    """For each account, the other accounts that have one of its numbers, the number
    being the debtor's on both (`own_number`; ids in ascending order; empty when none):
    one person on the evidence."""
    return shared_numbers(engine, numbers_by_account).person


def accounts_counted_together(
    engine: Engine, numbers_by_account: Mapping[int, Sequence[str]]
) -> dict[int, tuple[int, ...]]:
    """For each account, the other accounts whose attempts and contacts its caps count
    (`SharedNumbers.caps`)."""
    return shared_numbers(engine, numbers_by_account).caps


def linked_accounts(engine: Engine, account_id: int) -> tuple[int, ...]:
    """The other accounts of one account's debtor (those sharing one of its own numbers):
    one person on the evidence, for the screens that show them."""
    return accounts_sharing_numbers(engine, {account_id: _numbers_of(engine, account_id)})[
        account_id
    ]


def cap_linked_accounts(engine: Engine, account_id: int) -> tuple[int, ...]:
    """The other accounts whose attempts one account's caps count (`may_be_own`), for the
    final check that counts them in one script (compliance/caps.py)."""
    return accounts_counted_together(engine, {account_id: _numbers_of(engine, account_id)})[
        account_id
    ]


def _numbers_of(engine: Engine, account_id: int) -> list[str]:
    with Session(engine) as session:
        numbers = session.scalars(select(Phone.number_e164).where(Phone.account_id == account_id))
        return [n for n in numbers if n]


def protections_of(engine: Engine, account_ids: Sequence[int]) -> dict[int, str]:
    """The protection (compliance/protection.py) of those of the accounts that have one."""
    out: dict[int, str] = {}
    with Session(engine) as session:
        for start in range(0, len(account_ids), CHUNK):
            rows = session.execute(
                select(Account.id, Account.protection).where(
                    Account.id.in_(account_ids[start : start + CHUNK]),
                    Account.protection.is_not(None),
                )
            ).all()
            out.update({int(a): str(p) for a, p in rows if (p or "").strip()})
    return out


def linked_protection(engine: Engine, account_id: int, numbers: Sequence[str]) -> str | None:
    """The protection of one of the accounts sharing a number with this one (the same
    person), or None: what an account without its own protection inherits."""
    linked = accounts_sharing_numbers(engine, {account_id: numbers})[account_id]
    found = protections_of(engine, list(linked)) if linked else {}
    return next((found[a] for a in linked if a in found), None)


def third_party_numbers(engine: Engine, numbers: Sequence[str]) -> frozenset[str]:
    """The numbers among `numbers` that any account marks as reaching someone who is not
    its debtor (phones.status third_party): the mark is the number's, whichever account
    the supervisor or the file marked it on."""
    wanted = sorted({n for n in numbers if n})
    found: set[str] = set()
    with Session(engine) as session:
        for start in range(0, len(wanted), CHUNK):
            found.update(session.scalars(
                select(Phone.number_e164).where(
                    Phone.number_e164.in_(wanted[start : start + CHUNK]),
                    Phone.status == PhoneStatus.third_party.value,
                )
            ))  # fmt: skip
    return frozenset(found)
