"""A batch of debtor messages from an outside writer: read at first sight, then added
to the labelled set (tests/fixtures/debtor_utterances.csv) as a new split.

A batch is a JSON array of {"text", "intent"} in the writer's labels (WRITER_INTENTS),
which are not the classifier's: they are mapped here, once, for every batch. The
writer gives intents only; the stop channel, the dispute kind and the region are
this project's labels, in a CSV beside the batch (`text,channel,kind,region`, one
row per message that has any; see `add`).

    # the classifier as it is, on a batch it never saw (the first-sight figure)
    .venv/bin/python bench/intent_batch.py first-sight batch_C.json --errors \
        --save readings_C.json
    # the batch into the set, as split fresh5, with channels, kinds and regions
    .venv/bin/python bench/intent_batch.py add batch_C.json --split fresh5 \
        --details details_C.csv

The writer's labels and what the assistant does with each (selfservice/assistant.py):

- pay_now -> `pay`; negotiate -> `installments`; other -> `unknown`; callback ->
  `agent` of kind `callback` (a call back at the time said, RequestCallback);
  stop, dispute, promise, balance, agent, greeting are the same names.
- hardship ("no tengo trabajo", "estoy enfermo y no puedo pagar", "cuando consiga
  chamba les pago" with no date) -> `installments`. The assistant has no hardship
  turn of its own; what it can offer a debtor who cannot pay as agreed is the
  campaign's plans (smaller payments within the creditor's rules, those needing a
  supervisor marked so) and, when the campaign has none, a person at once
  (HandOver "plan_request"). Reading hardship as `agent` would hand every such
  message over without showing a plan; as `promise` or `pay` it would push a payment.
  The set already reads "no me alcanza", "no puedo pagar todo junto" and "tienen algun
  plan para gente q perdio la chamba" as `installments`.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

from intent_accuracy import FIXTURE, Row, report

from selfservice.intents import INTENTS, classify

# The writer's label -> (the classifier's intent, the kind it implies).
WRITER_INTENTS: dict[str, tuple[str, str | None]] = {
    "stop": ("stop", None),
    "dispute": ("dispute", None),
    "pay_now": ("pay", None),
    "promise": ("promise", None),
    "negotiate": ("installments", None),
    "balance": ("balance", None),
    "agent": ("agent", None),
    "callback": ("agent", "callback"),
    "hardship": ("installments", None),
    "greeting": ("greeting", None),
    "other": ("unknown", None),
}
COLUMNS = ("text", "intent", "channel", "kind", "region", "split")
MAX_BATCH = 10_000  # messages: a batch is written by a person


def load_batch(path: Path) -> list[tuple[str, str, str | None]]:
    """(text, intent, kind) per message, the writer's label mapped; refuses a label
    it does not know rather than guess."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list) or len(data) > MAX_BATCH:
        raise ValueError(f"{path}: not a JSON array of at most {MAX_BATCH} messages")
    found = []
    for item in data:
        label = str(item.get("intent", ""))
        if label not in WRITER_INTENTS:
            raise ValueError(f"{path}: unknown writer's label {label!r}")
        intent, kind = WRITER_INTENTS[label]
        found.append((str(item["text"]), intent, kind))
    return found


def load_details(path: Path | None) -> dict[str, dict[str, str]]:
    """text -> {channel, kind, region}: this project's labels of a batch."""
    if path is None:
        return {}
    with path.open(encoding="utf-8", newline="") as fh:
        return {r["text"]: r for r in csv.DictReader(fh)}


def rows_of(batch: list[tuple[str, str, str | None]], details: dict[str, dict[str, str]],
            split: str) -> list[Row]:  # fmt: skip
    rows = []
    for text, intent, kind in batch:
        extra = details.get(text, {})
        channel = (extra.get("channel") or None) if intent == "stop" else None
        if intent == "dispute":
            kind = extra.get("kind") or None
        rows.append(Row(text, intent, channel, kind, extra.get("region", ""), split))
    return rows


def first_sight(args: argparse.Namespace) -> int:
    rows = rows_of(load_batch(args.batch), load_details(args.details), "batch")
    found = [classify(r.text) for r in rows]
    print(f"# First sight: {args.batch.name}, {len(rows)} messages")
    print(f"writer's labels: {dict(Counter(r.intent for r in rows))}")
    report(f"{args.batch.name} at first sight", rows, found, args.errors)
    if args.save:
        readings = [{"text": r.text, "intent": r.intent, "read": f.name, "channel": f.channel,
                     "kind": f.kind} for r, f in zip(rows, found, strict=True)]  # fmt: skip
        args.save.write_text(json.dumps(readings, ensure_ascii=False, indent=1) + "\n",
                             encoding="utf-8")  # fmt: skip
    return 0


def add(args: argparse.Namespace) -> int:
    details = load_details(args.details)
    rows = rows_of(load_batch(args.batch), details, args.split)
    with FIXTURE.open(encoding="utf-8", newline="") as fh:
        present = {r["text"] for r in csv.DictReader(fh)}
    fresh: list[Row] = []
    for row in rows:
        if row.text in present:  # already in the set word for word: kept once, where it was
            continue
        if row.intent == "stop" and row.text not in details:
            raise ValueError(f"no channel label for the stop {row.text!r}: add it to details")
        if row.intent == "dispute" and row.kind is None:
            raise ValueError(f"no kind label for the dispute {row.text!r}: add it to details")
        present.add(row.text)
        fresh.append(row)
    assert all(r.intent in INTENTS for r in fresh)
    with FIXTURE.open("a", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)  # "\r\n", as the set is written
        for r in fresh:
            writer.writerow([r.text, r.intent, r.channel or "", r.kind or "", r.region, r.split])
    print(f"{FIXTURE.name}: {len(fresh)} messages added as {args.split} "
          f"({len(rows) - len(fresh)} already in the set)")  # fmt: skip
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sight = sub.add_parser("first-sight", help="read a batch with the classifier as it is")
    sight.add_argument("batch", type=Path)
    sight.add_argument("--details", type=Path, help="channel/kind/region labels (CSV)")
    sight.add_argument("--errors", action="store_true", help="list the misread messages")
    sight.add_argument("--save", type=Path, help="write every reading to this JSON file")
    adding = sub.add_parser("add", help="append a batch to the labelled set as a split")
    adding.add_argument("batch", type=Path)
    adding.add_argument("--split", required=True)
    adding.add_argument("--details", type=Path, required=True)
    args = parser.parse_args()
    return first_sight(args) if args.command == "first-sight" else add(args)


if __name__ == "__main__":
    sys.exit(main())
