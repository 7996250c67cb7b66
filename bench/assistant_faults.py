"""The assistant on the conversations of the faults fixed on 7 Dec 2026 (amounts run
together, "all" in English, a pay request with a day, "pago lo que pueda", an amount
never clear, a date's year): what each turn books, so the code before and after can be
compared on the same words. Each conversation starts verified, with the regional
bench's Mexican account (MXN 12,450.50, promises up to 30 days ahead) on Monday 7 Dec
2026 at 09:00 in Mexico City.

    .venv/bin/python bench/assistant_faults.py

A **wrong booking**: a link or promise for an amount or a day the debtor did not say
(the column "right" says what a careful person would do). The unit tests
(tests/unit/selfservice/test_assistant_dialogue.py, test_reading.py) hold each case.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from decimal import Decimal

from selfservice.assistant import AccountFacts, DialogueState, Turn, respond

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
MX = AccountFacts(account_id=1, debtor_name="Rosa Pérez", balance=Decimal("12450.50"),
                  currency="MXN", locale="es_MX", due_date=date(2026, 11, 20),
                  timezone="America/Mexico_City", max_promise_days=30, online_pay=True,
                  payment_instructions="BBVA, convenio 123456")  # fmt: skip
# (language, the debtor's messages in turn, what a careful person does at the last)
CASES: list[tuple[str, list[str], str]] = [
    ("es", ["quiero pagar 2 mil 3 mil"], "ask the amount"),
    ("es", ["le pago 2 mil 3 mil el viernes"], "ask the amount"),
    ("es", ["quiero pagar 500 500"], "ask the amount"),
    ("en", ["I'll pay on Friday", "all"], "promise 12450.50 on 2026-12-11"),
    ("es", ["quiero pagar el 15"], "ask the amount for the 15th"),
    ("en", ["I want to pay on the 15th"], "ask the amount for the 15th"),
    ("es", ["quiero pagar 500 el 15"], "promise 500.00 on 2026-12-15"),
    ("es", ["pago lo que pueda"], "ask the amount"),
    ("es", ["quiero pagar 500 o 600", "unos 500", "500 o 600"], "hand over"),
    ("es", ["le pago el viernes", "unos 500", "2 mil 3 mil"], "hand over"),
    ("es", ["le pago 500 el 5 de enero de 2026"], "refuse the date: gone by"),
    ("en", ["I will pay 500 on January 5, 2027"], "promise 500.00 on 2027-01-05"),
    ("es", ["le pago 500 el 15 de enero de 2027"], "refuse the date: past the horizon"),
    ("es", ["llámenme el 15 de enero de 2026"], "ask the day: gone by"),
]


def shown(turn: Turn) -> str:
    acts = []
    for action in turn.actions:
        fields = {k: v for k, v in vars(action).items() if k in ("amount", "due", "reason", "at")}
        acts.append(f"{type(action).__name__}({', '.join(str(v) for v in fields.values())})")
    if acts:
        return " ".join(acts)
    if turn.state.pending is not None:
        return f"asks ({turn.state.pending})"
    return f"books nothing (read as {turn.intent.name if turn.intent else '-'})"


def main() -> int:
    print("| messages | right | what it does |")
    print("|---|---|---|")
    for lang, messages, right in CASES:
        state = DialogueState(verified=True)
        turn = None
        for text in messages:
            turn = respond(state, text, MX, NOW, lang=lang)
            state = turn.state
        assert turn is not None
        print(f"| {' / '.join(messages)} | {right} | {shown(turn)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
