"""The debtor-intent classifier against the labelled set: accuracy per intent.

Reads tests/fixtures/debtor_utterances.csv (text, intent, channel, kind, region,
split), classifies every row with selfservice.intents.classify (what the assistant
and `cobrador bot intent` use) and prints, per split (SPLITS: what the rules were
tuned on, what was held out, the batches written later, batch A of another writer,
the sealed batch B, batch C and the sealed batch D of a third writer, added by
bench/intent_batch.py) and over all rows: accuracy per intent, overall accuracy, the
stop/dispute messages read as anything else (the legal duties: must be none), the
stop channel and dispute kind read right, and the other messages wrongly read as
stop/dispute. Then the cost: messages per second over the set, and the time to
classify one hostile 10 MB message (bounded: only its head is read).

--cross-validate trains the statistical model (selfservice/intent_model.py) without
each split in turn and reads that split by the rules alone, the model alone and both
(needs scikit-learn).

Exits 1 when, over all rows, accuracy is below --min-accuracy or any stop/dispute
message is read as something else.

    .venv/bin/python bench/intent_accuracy.py
    .venv/bin/python bench/intent_accuracy.py --split fresh4 --errors
    .venv/bin/python bench/intent_accuracy.py --cross-validate
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from selfservice.intent_model import train
from selfservice.intents import (
    INTENTS,
    SAFETY_PROBABILITY,
    Intent,
    classify,
    classify_with,
    normalize,
)

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "debtor_utterances.csv"
SAFETY = ("stop", "dispute")
SPLITS = (
    "tune",
    "holdout",
    "fresh",
    "fresh2",
    "fresh3",
    "fresh4",
    "sealed",
    "fresh5",
    "sealed2",
    "all",
)
TITLES = {
    "tune": "tuned on",
    "holdout": "held out (rules not tuned on these)",
    "fresh": "fresh (written after the first tuning; first run in bench/RESULTS.md)",
    "fresh2": "fresh2 (written after the second tuning; first run in bench/RESULTS.md)",
    "fresh3": "fresh3 (written after the third tuning; first run in bench/RESULTS.md)",
    "fresh4": "fresh4 (batch A, by another writer)",
    "sealed": "sealed (batch B, by another writer; first run in bench/RESULTS.md)",
    "fresh5": "fresh5 (batch C, by a third writer; labels mapped by bench/intent_batch.py)",
    "sealed2": "sealed2 (batch D, by the third writer; first run in bench/RESULTS.md)",
    "all": "all",
}


@dataclass(frozen=True)
class Row:
    text: str
    intent: str
    channel: str | None
    kind: str | None
    region: str
    split: str


def load(path: Path) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [Row(r["text"], r["intent"], r["channel"] or None, r["kind"] or None, r["region"],
                r["split"]) for r in rows]  # fmt: skip


def report(title: str, rows: list[Row], found: list[Intent], errors: bool) -> dict[str, float]:
    total = Counter(r.intent for r in rows)
    right = Counter(r.intent for r, f in zip(rows, found, strict=True) if f.name == r.intent)
    print(f"\n## {title}: {len(rows)} messages\n")
    print("| intent | messages | right | accuracy |")
    print("|---|---|---|---|")
    for name in INTENTS:
        if total[name]:
            print(f"| {name} | {total[name]} | {right[name]} | {right[name] / total[name]:.1%} |")
    overall = sum(right.values()) / max(1, len(rows))
    print(f"| **all** | {len(rows)} | {sum(right.values())} | **{overall:.1%}** |")
    missed = [(r, f) for r, f in zip(rows, found, strict=True)
              if r.intent in SAFETY and f.name != r.intent]  # fmt: skip
    stops = [(r, f) for r, f in zip(rows, found, strict=True)
             if r.intent == "stop" and f.name == "stop"]  # fmt: skip
    disputes = [(r, f) for r, f in zip(rows, found, strict=True)
                if r.intent == "dispute" and f.name == "dispute"]  # fmt: skip
    channels = sum(1 for r, f in stops if f.channel == r.channel)
    kinds = sum(1 for r, f in disputes if f.kind == r.kind)
    false_alarms = [(r, f) for r, f in zip(rows, found, strict=True)
                    if f.name in SAFETY and r.intent != f.name]  # fmt: skip
    print(f"\nstop/dispute read as something else: **{len(missed)}** "
          f"of {total['stop'] + total['dispute']}")  # fmt: skip
    print(f"stop channel right: {channels} of {len(stops)}; dispute kind right: {kinds} of "
          f"{len(disputes)}; other messages read as stop/dispute: {len(false_alarms)}")  # fmt: skip
    if errors:
        wrong = [(r, f) for r, f in zip(rows, found, strict=True)
                 if f.name != r.intent
                 or (r.intent == "stop" and f.channel != r.channel)
                 or (r.intent == "dispute" and f.kind != r.kind)]  # fmt: skip
        for r, f in wrong:
            print(f"  - {r.text!r}: {r.intent}/{r.channel or r.kind or '-'} read as "
                  f"{f.name}/{f.channel or f.kind or '-'} ({f.confidence})")  # fmt: skip
    return {"accuracy": overall, "missed": float(len(missed))}


def cost(rows: list[Row]) -> None:
    texts = [r.text for r in rows]
    from selfservice import intents

    intents._classify.cache_clear()  # measure the rules, not the memo
    intents._MENDER.mend.cache_clear()
    start = time.process_time()
    for text in texts:
        classify(text)
    spent = time.process_time() - start
    print(f"\ncost: {len(texts) / spent:,.0f} messages/s cold (CPU, {len(texts)} messages)")
    hostile = "no me llamen " + "á¿👍 x" * 2_000_000
    start = time.process_time()
    found = classify(hostile)
    spent = time.process_time() - start
    print(f"one {len(hostile) / 1e6:.0f} M-character message: {spent * 1000:.1f} ms CPU, "
          f"read as {found.name}")  # fmt: skip


def cross_validate(rows: list[Row], bars: list[float]) -> None:
    """Each split held out in turn: the model trained on the other splits, then the
    held-out split read by the rules alone, the model alone and both together (with
    each safety bar). The model never saw the split it reads; the rules did (they were
    tuned on every split but `sealed`), so the rules' columns flatter them."""
    splits = [s for s in SPLITS if s != "all" and any(r.split == s for r in rows)]
    print("\n## Cross-validation by split (the model trained without the split it reads)\n")
    heads = ["rules alone", "model alone"] + [f"both, safety bar {b:.2f}" for b in bars]
    print("| split | messages | " + " | ".join(heads) + " |")
    print("|---|---|" + "---|" * len(heads))
    totals = [[0, 0, 0] for _ in heads]  # right, stop/dispute missed, false stop/dispute
    for held in splits:
        train_rows = [r for r in rows if r.split != held]
        test_rows = [r for r in rows if r.split == held]
        model = train([normalize(r.text) for r in train_rows], [r.intent for r in train_rows])
        readings: list[list[str]] = [[classify_with(r.text, None).name for r in test_rows]]
        readings.append([max((p := model.probabilities(normalize(r.text))), key=p.__getitem__)
                         for r in test_rows])  # fmt: skip
        for bar in bars:
            readings.append([classify_with(r.text, model, bar).name for r in test_rows])
        cells = []
        for column, names in enumerate(readings):
            right = sum(n == r.intent for n, r in zip(names, test_rows, strict=True))
            missed = sum(r.intent in SAFETY and n != r.intent
                         for n, r in zip(names, test_rows, strict=True))  # fmt: skip
            false = sum(r.intent not in SAFETY and n in SAFETY
                        for n, r in zip(names, test_rows, strict=True))  # fmt: skip
            for i, v in enumerate((right, missed, false)):
                totals[column][i] += v
            cells.append(f"{right / len(test_rows):.1%} ({missed} missed, {false} false)")
        print(f"| {held} | {len(test_rows)} | " + " | ".join(cells) + " |")
    count = sum(1 for r in rows if r.split in splits)
    cells = [f"**{t[0] / count:.1%}** ({t[1]} missed, {t[2]} false)" for t in totals]
    print(f"| all | {count} | " + " | ".join(cells) + " |")
    print("\n(missed: stop/dispute messages read as anything else; false: other messages "
          "read as stop/dispute)")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=FIXTURE)
    parser.add_argument("--split", choices=SPLITS, help="only this split")
    parser.add_argument("--errors", action="store_true", help="list the misread messages")
    parser.add_argument("--min-accuracy", type=float, default=0.95)
    parser.add_argument("--cross-validate", action="store_true",
                        help="train the model without each split in turn and read that split "
                             "(needs scikit-learn)")  # fmt: skip
    parser.add_argument("--bars", default=f"0.25,{SAFETY_PROBABILITY},0.5",
                        help="safety bars to compare in --cross-validate")  # fmt: skip
    args = parser.parse_args()
    rows = load(args.csv)
    if args.cross_validate:
        cross_validate(rows, [float(b) for b in args.bars.split(",")])
        return 0
    bad = sorted({r.intent for r in rows} - set(INTENTS))
    if bad:
        print(f"unknown intents in {args.csv}: {', '.join(bad)}", file=sys.stderr)
        return 2
    found = [classify(r.text) for r in rows]
    shown = args.csv.relative_to(REPO) if args.csv.is_relative_to(REPO) else args.csv
    print(f"# Intent accuracy: {shown}")
    present = {r.split for r in rows}
    splits = [args.split] if args.split else [s for s in SPLITS if s in present or s == "all"]
    result = {}
    for split in splits:
        pick = [i for i, r in enumerate(rows) if split == "all" or r.split == split]
        chosen = ([rows[i] for i in pick], [found[i] for i in pick])
        result = report(TITLES[split], *chosen, args.errors)
    if args.split is None:
        cost(rows)
    if args.split in (None, "all"):
        ok = result["accuracy"] >= args.min_accuracy and result["missed"] == 0
        print(f"\nRESULT: {'PASS' if ok else 'FAIL'} (overall >= {args.min_accuracy:.0%}, "
              "no stop/dispute read as anything else)")  # fmt: skip
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
