"""What the agent page says of the agent's break plan: the next scheduled break
("Próxima pausa: comida hoy a las 14:00 (hora de Ciudad de México), 60 min") and, once
one has begun and been taken, why they are paused ("Pausa programada: comida, hasta
las 15:00 (hora de Ciudad de México)"). Times in the break's own zone, named."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from console.code_labels import pause_label
from console.debtor_locale import console_locale
from console.i18n import N_, gettext_
from dialer.break_plan import Occurrence, breaks_going_on, next_break
from dialer.break_store import load_rules, taken_days

NEXT_TODAY = N_("Próxima pausa: {motivo} hoy a las {hora} (hora de {zona}), {min} min")
NEXT_TOMORROW = N_("Próxima pausa: {motivo} mañana a las {hora} (hora de {zona}), {min} min")
NOW = N_("Pausa programada: {motivo}, hasta las {hora} (hora de {zona})")


def _fill(msgid: str, occurrence: Occurrence, at: float, minutes: int | None = None) -> str:
    zone = ZoneInfo(occurrence.rule.zone)
    words = {
        # Inside the sentence, after its colon: lower case ("Próxima pausa: comida hoy").
        "motivo": pause_label(occurrence.rule.reason),
        "hora": datetime.fromtimestamp(at, zone).strftime("%H:%M"),
        "zona": console_locale().zone_name(zone),
        "min": str(minutes if minutes is not None else occurrence.rule.minutes),
    }
    text = gettext_(msgid)
    for key, value in words.items():
        text = text.replace("{" + key + "}", value)
    return text


def break_words(engine: Engine, agent_id: int, now: float,
                pause_reason: str) -> dict[str, str | None]:  # fmt: skip
    """`next`: the next break not yet begun; `now`: the break going on, once taken
    (the agent was asked to pause for it), while the agent's pause (`pause_reason`:
    the one they are in, pausing for or kept for after the call) is its reason; None
    where there is none."""
    rules = load_rules(engine, [agent_id])
    upcoming = next_break(rules, now)
    shown: dict[str, str | None] = {"next": None, "now": None}
    if upcoming is not None:
        today = datetime.fromtimestamp(now, ZoneInfo(upcoming.rule.zone)).date()
        msgid = NEXT_TODAY if upcoming.day == today else NEXT_TOMORROW
        shown["next"] = _fill(msgid, upcoming, upcoming.start)
    going = breaks_going_on(rules, now)
    if going:
        taken = taken_days(engine, [o.rule.id for o in going], min(o.day for o in going))
        for o in going:
            if (o.rule.id, o.day) in taken and pause_reason == o.rule.reason:
                shown["now"] = _fill(NOW, o, o.end)
    return shown
