"""The field agent reads why the law refuses a visit in words, for every reason the
law's check can give: never a raw code, in Spanish and in English."""

from __future__ import annotations

import ast
from pathlib import Path

from compliance import engine, protection
from compliance.profile import CAP_REASONS, CapRule
from console.i18n import activate, gettext_
from field import visit_rules, visits

ROOT = Path(__file__).resolve().parents[3]


def _literal_reasons(module_file: str) -> set[str]:
    """The reason codes a module writes as literals: `add("...")` and the reasons
    tuple of a `Decision(...)` it builds."""
    tree = ast.parse(Path(module_file).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        if node.func.id == "add":
            found |= {a.value for a in node.args if isinstance(a, ast.Constant)}
        if node.func.id == "Decision" and len(node.args) > 1:
            reasons = node.args[1]
            if isinstance(reasons, ast.Tuple):
                found |= {e.value for e in reasons.elts if isinstance(e, ast.Constant)}
    return {f for f in found if isinstance(f, str)}


def every_reason_the_check_gives() -> set[str]:
    written = _literal_reasons(str(engine.__file__)) | _literal_reasons(str(visit_rules.__file__))
    statuses = ("active", "stopped", "third_party", "invalid", "wrong_number", "retired")
    by_status = {engine.phone_status_reason(s) for s in statuses} - {None}
    caps = {
        CapRule(kind=kind, max=1, window_hours=hours, channels=frozenset({"visit"})).reason
        for kind in ("attempts", "contacts", "contacts_elsewhere")
        for hours in (24, 168)
    }
    protected = {*protection.REASON_BY_PROTECTION.values(), protection.UNKNOWN_REASON}
    found = written | by_status | caps | CAP_REASONS | protected
    # The engine's list is the whole set: anything it writes is on it.
    assert found <= set(engine.REASONS), found - set(engine.REASONS)
    assert {"attempt_cap_day", "outside_hours", "country_unknown"} <= written | caps
    return set(engine.REASONS)


def test_given_every_reason_the_law_check_gives_then_the_agent_reads_words_not_the_code() -> None:
    for code in sorted(every_reason_the_check_gives()):
        assert code in visits.COMPLIANCE_LABELS, code
        message = visits.compliance_message((code,))
        assert message.startswith("La ley no permite esta visita ahora: "), message
        assert code not in message, message


def test_given_the_day_cap_then_spanish_and_english_words() -> None:
    codes = ("attempt_cap_day", "holiday")
    assert visits.compliance_message(codes) == (
        "La ley no permite esta visita ahora: límite de intentos del día; día festivo."
    )
    activate("en")
    try:
        english = visits.compliance_message(codes, gettext_)
    finally:
        activate("es")
    assert english == (
        "The law does not allow this visit now: daily attempt limit; public holiday."
    )


def test_given_a_code_nobody_labelled_then_other_reason_never_the_code() -> None:
    message = visits.compliance_message(("brand_new_rule",))
    assert message == "La ley no permite esta visita ahora: otro motivo."
