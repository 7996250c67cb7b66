"""The assistant against debtor messages it was never tuned on: the held-out set.

Reads tests/fixtures/debtor_utterances_heldout.csv (text, intent, also, stop, party,
channel, region, half): messages written after the classifier, never in its training
set (tests/fixtures/debtor_utterances.csv) nor in the statistical model. Half `dev` is
what fixes were made against; half `test` is read only to measure, before and after.

Each message goes through the dialogue (selfservice.assistant.respond, a new
conversation, no account), so what is measured is what the law cares about, whatever
reading made it:

- intent: the reading is the row's intent or one of its `also` intents;
- stop kept: a stop request (`stop` = 1) gives an OptOut (the worst error is none);
- false stop: a message that asks no stop gives an OptOut (loses a debtor);
- party kept: a wrong person / wrong number / deceased debtor (`party`) is read as one
  (Intent.party) and a person reviews it (a HandOver), never a payment push.

- false party: a message the debtor wrote (no `party`) read as someone else's or as
  news of the debtor's death (a person is asked to look, the debtor loses the answer).

    .venv/bin/python bench/intent_heldout.py                 # both halves
    .venv/bin/python bench/intent_heldout.py --half dev --errors
    .venv/bin/python bench/intent_heldout.py --file tests/fixtures/debtor_utterances_fresh.csv

Any file of the same columns is read (`--file`): the fresh set
(tests/fixtures/debtor_utterances_fresh.csv) is a fifth writer's, written before the
classifier's code or the other sets were read.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from selfservice.assistant import DialogueState, HandOver, OptOut, respond

REPO = Path(__file__).resolve().parents[1]
HELDOUT = REPO / "tests" / "fixtures" / "debtor_utterances_heldout.csv"
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    text: str
    intents: frozenset[str]  # the intent and the ones also accepted
    stop: bool
    party: str  # "third_party", "deceased" or ""
    half: str


@dataclass(frozen=True)
class Reading:
    intent: str
    stop: bool
    party: str | None
    handed_over: bool


def load(path: Path = HELDOUT) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            Row(
                text=r["text"],
                intents=frozenset([r["intent"], *filter(None, r["also"].split("|"))]),
                stop=r["stop"] == "1",
                party=r["party"],
                half=r["half"],
            )
            for r in csv.DictReader(fh)
        ]


def read(text: str) -> Reading:
    turn = respond(DialogueState(), text, None, NOW)
    intent = turn.intent
    return Reading(
        intent=intent.name if intent is not None else "unknown",
        stop=any(isinstance(a, OptOut) for a in turn.actions),
        party=getattr(intent, "party", None),
        handed_over=any(isinstance(a, HandOver) for a in turn.actions),
    )


def report(rows: list[Row], title: str, errors: bool) -> None:
    readings = [(row, read(row.text)) for row in rows]
    right = sum(r.intent in row.intents for row, r in readings)
    stops = [(row, r) for row, r in readings if row.stop]
    missed = [(row, r) for row, r in stops if not r.stop]
    false_stops = [(row, r) for row, r in readings if not row.stop and r.stop]
    parties = [(row, r) for row, r in readings if row.party]
    party_kept = [(row, r) for row, r in parties if r.party == row.party and r.handed_over]
    false_parties = [(row, r) for row, r in readings if not row.party and r.party]
    print(f"## {title}: {len(rows)} messages")
    print(f"intent read right   {right}/{len(rows)} = {100 * right / max(1, len(rows)):.1f} %")
    print(f"stop requests kept  {len(stops) - len(missed)}/{len(stops)} (missed: {len(missed)})")
    print(f"false stops         {len(false_stops)}/{len(rows) - len(stops)}")
    print(f"party signals kept  {len(party_kept)}/{len(parties)}")
    print(f"false party         {len(false_parties)}/{len(rows) - len(parties)}")
    if errors:
        for row, r in readings:
            wrong = (
                r.intent not in row.intents
                or row.stop != r.stop
                or (row.party and (r.party != row.party or not r.handed_over))
                or (not row.party and r.party)
            )
            if wrong:
                want = "|".join(sorted(row.intents)) + (" +stop" if row.stop else "")
                want += f" +{row.party}" if row.party else ""
                got = r.intent + (" +stop" if r.stop else "") + (f" +{r.party}" if r.party else "")
                print(f"  want {want:32} got {got:28} {row.text[:110]!r}")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=("dev", "test", "both"), default="both")
    parser.add_argument("--errors", action="store_true", help="list the misreadings")
    parser.add_argument("--file", type=Path, default=HELDOUT, help="a set of the same columns")
    args = parser.parse_args(argv)
    rows = load(args.file)
    print(f"# {args.file.name}\n")
    halves = ("dev", "test") if args.half == "both" else (args.half,)
    for half in halves:
        report([r for r in rows if r.half == half], f"half {half}", args.errors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
