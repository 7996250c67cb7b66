"""The assistant on regional debtor messages it was never tuned on, with the amount and
the date a careful person would take from each: what it books, not only what it reads.

Reads tests/fixtures/debtor_utterances_regional.csv (the held-out set's columns, then
`amount` and `date`: the amount and the day a careful person would take, empty when the
message names none or none can be taken: "la mitad", "entre 500 y 800", "el otro
viernes", "31 de febrero"). Each message is read twice, as the debtor's first message:

- unverified, with no account (as bench/intent_heldout.py): the intent;
- verified, with an account of the row's country (MXN 12,450.50; COP 3,500,000;
  PEN 4,800; promises up to 30 days ahead) on Monday 7 Dec 2026 at 09:00 in Mexico
  City (10:00 in Bogotá and Lima): what it books. A promise (MakePromise), a payment
  link (SendPaymentLink) or a callback (RequestCallback) whose amount or day differs
  from the row's is a **wrong booking**, as is any promise where the row has no amount
  or no day to take. Taken right: the promise booked as labelled; where it cannot be
  booked (a part missing, out of bounds), nothing booked and what was said kept for
  the question that follows; a link for the amount said; a callback on the day said.

    .venv/bin/python bench/assistant_regional.py                  # both halves
    .venv/bin/python bench/assistant_regional.py --half dev --errors

A row is right when its intent is read right and what it names is taken right (rows
naming nothing: nothing wrong booked). tests/unit/selfservice/test_assistant_regional.py
asserts the floor.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from selfservice.assistant import (
    AccountFacts,
    DialogueState,
    MakePromise,
    OptOut,
    RequestCallback,
    SendPaymentLink,
    Turn,
    respond,
)

REPO = Path(__file__).resolve().parents[1]
REGIONAL = REPO / "tests" / "fixtures" / "debtor_utterances_regional.csv"
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # Monday: 09:00 in Mexico City
MX = AccountFacts(account_id=1, debtor_name="Rosa Pérez", balance=Decimal("12450.50"),
                  currency="MXN", locale="es_MX", due_date=date(2026, 11, 20),
                  timezone="America/Mexico_City", max_promise_days=30, online_pay=True,
                  payment_instructions="BBVA, convenio 123456")  # fmt: skip
FACTS = {
    "MX": MX,
    "CO": replace(
        MX, balance=Decimal("3500000"), currency="COP", locale="es_CO", timezone="America/Bogota"
    ),  # fmt: skip
    "PE": replace(
        MX, balance=Decimal("4800"), currency="PEN", locale="es_PE", timezone="America/Lima"
    ),  # fmt: skip
}


@dataclass(frozen=True)
class Row:
    text: str
    intents: frozenset[str]
    stop: bool
    region: str
    half: str
    amount: Decimal | None
    day: date | None


@dataclass(frozen=True)
class Outcome:
    intent: str
    intent_right: bool
    taken_right: bool | None  # None: the row names nothing to take
    wrong_booking: bool
    stop_missed: bool
    false_stop: bool
    got: str  # what was booked or kept, for --errors


def load(path: Path = REGIONAL) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            Row(
                text=r["text"],
                intents=frozenset([r["intent"], *filter(None, r["also"].split("|"))]),
                stop=r["stop"] == "1",
                region=r["region"],
                half=r["half"],
                amount=Decimal(r["amount"]) if r["amount"] else None,
                day=date.fromisoformat(r["date"]) if r["date"] else None,
            )
            for r in csv.DictReader(fh)
        ]


def _booked(turn: Turn) -> str:
    parts = []
    for action in turn.actions:
        if isinstance(action, MakePromise):
            parts.append(f"promise {action.amount} {action.due}")
        elif isinstance(action, SendPaymentLink):
            parts.append(f"link {action.amount}")
        elif isinstance(action, RequestCallback):
            parts.append(f"callback {action.at}")
    state = turn.state
    if state.promise_amount is not None or state.promise_due is not None:
        parts.append(f"kept {state.promise_amount} {state.promise_due} ({state.pending})")
    return "; ".join(parts) or "-"


def judge(row: Row) -> Outcome:
    first = respond(DialogueState(), row.text, None, NOW)
    intent = first.intent.name if first.intent is not None else "unknown"
    facts = FACTS[row.region]
    turn = respond(DialogueState(verified=True), row.text, facts, NOW)
    promises = [a for a in turn.actions if isinstance(a, MakePromise)]
    links = [a for a in turn.actions if isinstance(a, SendPaymentLink)]
    calls = [a for a in turn.actions if isinstance(a, RequestCallback) and a.at is not None]
    today = NOW.astimezone(ZONES[row.region]).date()
    last = today + timedelta(days=facts.max_promise_days)
    amount_ok = row.amount is not None and 0 < row.amount <= facts.balance
    day_ok = row.day is not None and today <= row.day <= last
    wrong = False
    taken: bool | None = None
    if "promise" in row.intents and (row.amount is not None or row.day is not None):
        if amount_ok and day_ok:
            taken = [(p.amount, p.due) for p in promises] == [(row.amount, row.day)]
            wrong = any((p.amount, p.due) != (row.amount, row.day) for p in promises)
        else:
            wrong = bool(promises)
            state = turn.state
            taken = not promises and (
                (not day_ok or state.promise_due == row.day)
                and (not amount_ok or state.promise_amount == row.amount)
            )
    else:
        wrong = bool(promises)  # nothing to promise in it
    if "pay" in row.intents and row.amount is not None:
        want = min(row.amount, facts.balance)
        taken = [a.amount for a in links] == [want]
        wrong = wrong or any(a.amount != want for a in links)
    elif "pay" not in row.intents:
        wrong = wrong or bool(links)
    if "agent" in row.intents and row.day is not None:
        local = [a.at.astimezone(ZONES[row.region]).date() for a in calls if a.at is not None]
        taken = local == [row.day]
        wrong = wrong or any(d != row.day for d in local)
    stopped = any(isinstance(a, OptOut) for a in first.actions)
    return Outcome(intent, intent in row.intents, taken, wrong, row.stop and not stopped,
                   stopped and not row.stop, _booked(turn))  # fmt: skip


ZONES = {region: __import__("zoneinfo").ZoneInfo(f.timezone) for region, f in FACTS.items()}


@dataclass(frozen=True)
class Figures:
    rows: int
    right: int
    intent_right: int
    to_take: int
    taken_right: int
    wrong_bookings: int
    stops_missed: int
    false_stops: int


def figures(rows: list[Row]) -> tuple[Figures, list[tuple[Row, Outcome]]]:
    judged = [(row, judge(row)) for row in rows]
    outcomes = [o for _, o in judged]
    return Figures(
        rows=len(rows),
        right=sum(
            o.intent_right and o.taken_right is not False and not o.wrong_booking for o in outcomes
        ),  # fmt: skip
        intent_right=sum(o.intent_right for o in outcomes),
        to_take=sum(o.taken_right is not None for o in outcomes),
        taken_right=sum(bool(o.taken_right) for o in outcomes),
        wrong_bookings=sum(o.wrong_booking for o in outcomes),
        stops_missed=sum(o.stop_missed for o in outcomes),
        false_stops=sum(o.false_stop for o in outcomes),
    ), judged


def report(rows: list[Row], title: str, errors: bool) -> None:
    f, judged = figures(rows)
    print(f"## {title}: {f.rows} messages")
    print(f"right (intent and what it names)  {f.right}/{f.rows}")
    print(f"intent read right                 {f.intent_right}/{f.rows}")
    print(f"amount/date taken right           {f.taken_right}/{f.to_take}")
    print(f"wrong bookings                    {f.wrong_bookings}")
    print(f"stops missed / false stops        {f.stops_missed} / {f.false_stops}")
    if errors:
        for row, o in judged:
            if o.intent_right and o.taken_right is not False and not o.wrong_booking:
                continue
            want = "|".join(sorted(row.intents))
            label = f"{row.amount or '-'} {row.day or '-'}"
            flag = "WRONG " if o.wrong_booking else ""
            print(f"  {flag}want {want:18} {label:24} got {o.intent:12} {o.got:44} {row.text!r}")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=("dev", "test", "both"), default="both")
    parser.add_argument("--errors", action="store_true", help="list what it got wrong")
    parser.add_argument("--file", type=Path, default=REGIONAL)
    args = parser.parse_args(argv)
    rows = load(args.file)
    halves = ("dev", "test") if args.half == "both" else (args.half,)
    for half in halves:
        report([r for r in rows if r.half == half], f"half {half}", args.errors)
    if args.half == "both":
        report(rows, "all", False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
