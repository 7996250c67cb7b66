"""Supervisors: the agents' break plan (/supervisor/breaks), each agent's scheduled
breaks listed, added and removed (console/break_admin.py). Times are shown in the
break's own zone, named ("14:00, hora de Ciudad de México")."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from console import break_admin
from console.break_admin import AgentPlan, BreakInputError, UnknownAgent
from console.code_labels import pause_title
from console.debtor_locale import console_locale
from console.i18n import N_, gettext_
from console.keys import CLOCK
from console.params import id_or_404
from console.webutil import in_db, requires, user_of
from dialer.break_plan import WEEKDAYS
from dialer.inbound.settings import DEFAULT_ZONE
from store.models import Role

PATH = "/supervisor/breaks"
WEEKDAY_WORDS = {
    "mon": N_("Lunes"), "tue": N_("Martes"), "wed": N_("Miércoles"), "thu": N_("Jueves"),
    "fri": N_("Viernes"), "sat": N_("Sábado"), "sun": N_("Domingo"),
}  # fmt: skip
# The days inside a sentence of the list: lower case in Spanish, as the language writes them.
DAY_IN_LIST = {
    "mon": N_("lunes"), "tue": N_("martes"), "wed": N_("miércoles"), "thu": N_("jueves"),
    "fri": N_("viernes"), "sat": N_("sábado"), "sun": N_("domingo"),
}  # fmt: skip
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
DONE = {"added": N_("Pausa programada."), "removed": N_("Pausa quitada del plan.")}


def days_words(days: tuple[str, ...]) -> str:
    """A break's days as the list says them: every day and Monday to Friday in words,
    any other set by name in week order."""
    if set(days) == set(WEEKDAYS):
        return gettext_("todos los días")
    if tuple(days) == WORKDAYS:
        return gettext_("de lunes a viernes")
    return ", ".join(gettext_(DAY_IN_LIST[d]) for d in days)


def _zone_words(zone: str) -> str:
    return console_locale().zone_name(ZoneInfo(zone))


def _shown(plan: AgentPlan) -> dict[str, Any]:
    """The plan with words: days, reasons and zones in the reader's language."""
    return {
        "id": plan.id, "username": plan.username, "name": plan.display_name or plan.username,
        "campaign": plan.campaign,
        "breaks": [{
            "id": b.id, "start": b.start, "end": b.end, "minutes": b.minutes,
            "days": days_words(b.weekdays),
            "reason": pause_title(b.reason), "zone": _zone_words(b.zone),
        } for b in plan.breaks],
    }  # fmt: skip


def _zone_choices(plan: AgentPlan) -> list[tuple[str, str]]:
    """The agent's own zone first (their breaks share it), else the floor's, then the
    countries' main zones; any IANA zone is accepted when posted."""
    first = plan.breaks[0].zone if plan.breaks else plan.default_zone
    keys = list(dict.fromkeys([first, plan.default_zone, *DEFAULT_ZONE.values()]))
    return [(k, _zone_words(k)) for k in keys]


async def _render(request: web.Request, agent_id: int | None, *,
                  error: BreakInputError | None = None, status: int = 200) -> web.Response:  # fmt: skip
    viewer = user_of(request)
    plans = await in_db(request, break_admin.plans, viewer)
    current = None
    if agent_id is not None:
        try:
            current = await in_db(request, break_admin.plan_of, viewer, agent_id)
        except UnknownAgent:
            raise web.HTTPNotFound(text=gettext_("Agente desconocido.")) from None
    done = DONE.get(request.query.get("done", ""))
    form = {}
    if error is not None:
        posted = await request.post()
        form = {k: str(v) for k, v in posted.items() if k != "_csrf"}
        form["days"] = [str(d) for d in posted.getall("days", [])]  # type: ignore[assignment]
    return aiohttp_jinja2.render_template("supervisor_breaks.html", request, {
        "plans": [_shown(p) for p in plans],
        "current": _shown(current) if current else None,
        "reasons": [(r, pause_title(r)) for r in current.pause_reasons] if current else [],
        "zones": _zone_choices(current) if current else [],
        "weekdays": [(d, gettext_(WEEKDAY_WORDS[d])) for d in WEEKDAYS],
        "min_minutes": break_admin.MIN_MINUTES, "max_minutes": break_admin.MAX_MINUTES,
        "error": error.render(gettext_) if error else None,
        "error_field": error.field if error else None,
        "form": form,
        "message": gettext_(done) if done else None,
    }, status=status)  # fmt: skip


@requires(Role.supervisor)
async def breaks_page(request: web.Request) -> web.StreamResponse:
    return await _render(request, None)


@requires(Role.supervisor)
async def agent_breaks_page(request: web.Request) -> web.StreamResponse:
    return await _render(request, id_or_404(request.match_info["agent_id"]))


@requires(Role.supervisor)
async def add_break(request: web.Request) -> web.StreamResponse:
    agent_id = id_or_404(request.match_info["agent_id"])
    form = await request.post()
    fields = {k: str(v) for k, v in form.items() if k not in ("_csrf", "days")}
    try:
        new = break_admin.parse_break(fields, [str(d) for d in form.getall("days", [])][:8])
        await in_db(request, break_admin.add_break, user_of(request), agent_id, new,
                    request.app[CLOCK]())  # fmt: skip
    except UnknownAgent:
        raise web.HTTPNotFound(text=gettext_("Agente desconocido.")) from None
    except BreakInputError as exc:
        return await _render(request, agent_id, error=exc, status=exc.status)
    raise web.HTTPSeeOther(f"{PATH}/{agent_id}?done=added")


@requires(Role.supervisor)
async def remove_break(request: web.Request) -> web.StreamResponse:
    agent_id = id_or_404(request.match_info["agent_id"])
    break_id = id_or_404(request.match_info["break_id"], maximum=2**31 - 1)
    try:
        removed = await in_db(request, break_admin.remove_break, user_of(request), agent_id,
                              break_id, request.app[CLOCK]())  # fmt: skip
    except UnknownAgent:
        raise web.HTTPNotFound(text=gettext_("Agente desconocido.")) from None
    if not removed:
        raise web.HTTPNotFound(text=gettext_("Esa pausa no está en el plan del agente."))
    raise web.HTTPSeeOther(f"{PATH}/{agent_id}?done=removed")


def setup_routes(app: web.Application) -> None:
    app.router.add_get(PATH, breaks_page)
    app.router.add_get(PATH + "/{agent_id}", agent_breaks_page)
    app.router.add_post(PATH + "/{agent_id}", add_break)
    app.router.add_post(PATH + "/{agent_id}/{break_id}/delete", remove_break)
