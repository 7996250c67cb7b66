"""The field app (a PWA for field agents, /field/) and the supervisors' field page
(plans, the live map, visit notifications). Thin: parse, call field/, answer."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import Engine, select

from cobrador.ground.code_words import REASON_LABELS, VISIT_OUTCOME_LABELS
from console import bundles
from console.code_labels import reasons_label, stage_label
from console.debtor_locale import debtor_locale
from console.field_seal import SealError, UnknownSealKey, associated
from console.i18n import N_, current_language, gettext_
from console.keys import CLOCK, ENGINE, FIELD_CHECK, FIELD_SEAL, SETTINGS
from console.params import id_or_400
from console.supervisor_views import plan_scope
from console.webutil import in_db, json_error, requires, user_of
from field import day as field_day
from field import plans, positions, visits
from field.checkin import CheckinRules, parse_fix
from field.visit_time import ClockError, parse_clock, parse_instant
from metrics import definitions as m
from metrics.labels import country_label, hour_label, reason_label, region_label
from store import audit
from store.db import transaction
from store.geo import CoordinateError
from store.models import Account, AccountStatus, Role

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
STATIC = HERE / "static"  # the service worker and the map's bundle (console/bundles.py)
MAX_PLAN_REFS = plans.MAX_ACCOUNTS_PER_PLAN
PURGE_EVERY_SECONDS = 3600.0
ON_SHIFT_EVERY_SECONDS = 30.0

MANIFEST = {
    "name": "cobrador · Campo",
    "short_name": "Campo",
    "description": "Visitas de cobranza en campo: ruta del día, llegada y resultados, sin conexión.",
    "lang": "es",
    "start_url": "/field/",
    "scope": "/field/",
    "display": "standalone",
    "background_color": "#f6f7f9",
    "theme_color": "#1d4e89",
    "icons": [
        {"src": "/static/field/icon-192.png", "sizes": "192x192", "type": "image/png"},
        {"src": "/static/field/icon-512.png", "sizes": "512x512", "type": "image/png"},
    ],
}


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/field", to_field_app)
    app.router.add_get("/field/", field_page)
    app.router.add_get("/field/manifest.webmanifest", manifest)
    app.router.add_get("/field/sw.js", service_worker)
    app.router.add_get("/api/field/day", day_json)
    app.router.add_post("/api/field/visits/{visit_id}/checkin", checkin)
    app.router.add_post("/api/field/visits/{visit_id}/result", result)
    app.router.add_post("/api/field/visits/{visit_id}/result/reopen", reopen_result)
    app.router.add_post("/api/field/visits/{visit_id}/skip", skip)
    app.router.add_get("/api/field/shift", shift_state)
    app.router.add_post("/api/field/shift", shift_change)
    app.router.add_post("/api/field/position", position)
    app.router.add_get("/supervisor/field", supervisor_field_page)
    app.router.add_get("/api/supervisor/field/live", live_json)
    app.router.add_get("/api/supervisor/field/accounts", accounts_json)
    app.router.add_post("/api/supervisor/field/plan", plan)
    app.router.add_post("/api/supervisor/field/visits/{visit_id}/cancel", cancel)


async def to_field_app(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/field/")  # the service worker's scope is /field/


def _today(request: web.Request) -> date:
    zone = ZoneInfo(request.app[SETTINGS].field_day_zone)
    return request.app[CLOCK]().astimezone(zone).date()


def _day(request: web.Request) -> date:
    raw = request.query.get("day")
    if not raw:
        return _today(request)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise web.HTTPBadRequest(
            text=json.dumps({"ok": False, "reason": "day debe ser AAAA-MM-DD", "field": "day"}),
            content_type="application/json",
        ) from None


async def _body(request: web.Request) -> dict[str, Any]:
    """The JSON object of a request; 400/413 with the reason otherwise."""
    try:
        data = await request.json()
    except web.HTTPRequestEntityTooLarge:
        raise web.HTTPRequestEntityTooLarge(
            max_size=request.client_max_size, actual_size=request.content_length or 0,
            text=json.dumps({"ok": False, "reason": "La petición es demasiado grande "
                             "(una foto de más de 512 KB).", "field": "photo"}),
            content_type="application/json",
        ) from None  # fmt: skip
    except (ValueError, RecursionError):
        # Not JSON, not UTF-8, an integer of thousands of digits (ValueError), or
        # arrays nested past the parser's depth (RecursionError): all one answer.
        data = None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"ok": False, "reason": gettext_("Se espera un objeto JSON.")}),
            content_type="application/json",
        )
    return data


async def _op_body(request: web.Request, visit_id: int, kind: str) -> dict[str, Any]:
    """An operation of the app's queue: its body as sent, or opened when the app sealed
    it (console/field_seal.py; `sent_at` travels beside the seal, added at sending)."""
    data = await _body(request)
    if "sealed" not in data:
        return data  # sent as the agent acted, or by an app without WebCrypto
    seal = request.app[FIELD_SEAL]
    try:
        if seal is None:
            raise UnknownSealKey("sealed")
        opened = seal.open(data["sealed"], associated(user_of(request).id, visit_id, kind))
    except UnknownSealKey:
        # Evidence the console cannot open now (console_secret changed or unset): a
        # 503 keeps it on the phone, sent again once the key is back; never dropped.
        raise web.HTTPServiceUnavailable(
            text=json.dumps({"ok": False, "reason": gettext_(
                "La consola no tiene la clave de esta operación guardada; se enviará de nuevo.")}),
            content_type="application/json",
        ) from None  # fmt: skip
    except SealError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"ok": False, "reason": str(exc), "field": "sealed"}),
            content_type="application/json",
        ) from None
    return {**opened, "sent_at": data.get("sent_at")}


def _agent(request: web.Request) -> visits.Agent:
    user = user_of(request)
    return visits.Agent(user.id, user.actor)


def _count(facts: dict[str, Any]) -> None:
    """The metrics of a first answer (a replay has no facts: nothing counted twice)."""
    if not facts:
        return
    country = country_label(facts.get("country"))
    for reason in facts.get("refused", ()):
        m.FIELD_CHECKINS_REFUSED.labels(country=country, reason=reason_label(reason)).inc()
    if "outcome" in facts:
        m.FIELD_VISITS.labels(country=country, outcome=reason_label(facts["outcome"])).inc()
    local = facts.get("local")
    if local is not None:
        labels = {"country": country, "region": region_label(country, facts.get("region")),
                  "hour": hour_label(local)}  # fmt: skip
        m.FIELD_LOCAL_HOUR_VISITS.labels(**labels).inc()
        if facts.get("door"):
            m.FIELD_LOCAL_HOUR_CONTACTS.labels(**labels).inc()
        if facts.get("rpc"):
            m.FIELD_LOCAL_HOUR_RIGHT_PARTY.labels(**labels).inc()


def _answer(answer: visits.Answer) -> web.Response:
    _count(answer.facts)
    body = dict(answer.body)
    for text in ("reason", "notice"):
        if isinstance(body.get(text), str):
            body[text] = gettext_(body[text])  # the fixed texts have an English one
    if isinstance(body.get("reasons"), list):  # the law's refusal: its reasons in words
        body["reason"] = visits.compliance_message(body["reasons"], gettext_)
    if body.get("refusal") in visits.FAR_REASONS and "limit_m" in body:  # far, or a rough fix
        body["reason"] = visits.far_message(body["refusal"], body["distance_m"], body["limit_m"],
                                            gettext_, current_language())  # fmt: skip
    if body.get("evidence_only") and isinstance(body.get("refused"), list):
        # Kept after a refused arrival: why it was refused, beside the notice (no advice).
        body["refused_reason"] = visits.refusal_words(body["refused"], body.get("refused_facts") or {},
                                                      gettext_, current_language())  # fmt: skip
    if answer.replayed:
        body["replayed"] = True
    return web.json_response(body, status=answer.status)


# The field app ----------------------------------------------------------------------


@requires(Role.field)
async def field_page(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    today = _today(request)
    # The agent reads the day in words ("8 de diciembre de 2026"); the app keys on ISO.
    context = {"today": today.isoformat(),
               "today_shown": debtor_locale("MX", current_language()).day(today),
               "radius": settings.field_checkin_radius_m,
               # The public key the app seals its queue with (none: kept in the clear).
               "seal": request.app[FIELD_SEAL],
               "texts": {key: gettext_(text) for key, text in FIELD_APP_TEXTS.items()},
               "stages": {code: stage_label(code) for code in ("friendly", "firm", "prelegal", "legal")}}  # fmt: skip
    response = aiohttp_jinja2.render_template("field.html", request, context)
    # The agent's page: never kept by the browser (nor shown again by "back" after a
    # logout on a shared phone); the service worker keeps its own copy until logout.
    response.headers["Cache-Control"] = "no-store"
    return response


async def manifest(request: web.Request) -> web.StreamResponse:
    return web.json_response(MANIFEST, content_type="application/manifest+json")


async def service_worker(request: web.Request) -> web.StreamResponse:
    response = web.FileResponse(STATIC / "field" / "sw.js")
    response.headers["Content-Type"] = "text/javascript"
    response.headers["Cache-Control"] = "no-cache"  # a new version is picked up at once
    response.headers["Service-Worker-Allowed"] = "/field/"
    return response


@requires(Role.field)
async def day_json(request: web.Request) -> web.StreamResponse:
    data = await in_db(request, field_day.agent_day, user_of(request).id, _day(request),
                       request.app[FIELD_CHECK])  # fmt: skip
    for visit in data["visits"]:
        # What compliance forbids now, in words (the codes stay for the app's logic).
        visit["blocked_reason"] = reasons_label(visit["blocked"]) if visit["blocked"] else ""
        # A result kept after a refused arrival: why the arrival was refused, in words.
        visit["refused_reason"] = (
            visits.refusal_words(visit["refused"], visit.get("refused_facts") or {}, gettext_,
                                 current_language())
            if visit.get("refused") else ""
        )  # fmt: skip
    data["questionnaires"] = {stage: [_in_words(q) for q in qs]
                              for stage, qs in data.get("questionnaires", {}).items()}  # fmt: skip
    return web.json_response(data)


def _in_words(question: dict[str, Any]) -> dict[str, Any]:
    """A question of field/questionnaire.py in the agent's language: its label and the
    words of its options (the codes stay what the app sends back)."""
    shown = {**question, "label": gettext_(question["label"])}
    if isinstance(question.get("options"), dict):
        shown["options"] = {code: gettext_(text) for code, text in question["options"].items()}
    return shown


# What the field app's script writes (console/static/field/app.js), in the page's
# language; {placeholders} are filled in there.
FIELD_APP_TEXTS = {
    "visited": N_("Visitada"),
    "skipped": N_("Omitida"),
    "result_pending": N_("Resultado por enviar"),
    "skip_pending": N_("Omisión por enviar"),
    "arrived": N_("Llegada registrada"),
    "checkin_pending": N_("Llegada por validar"),
    "checkin_refused": N_("Llegada rechazada"),
    "planned": N_("Pendiente"),
    "blocked": N_("No visitar"),
    "blocked_msg": N_("No se puede visitar esta cuenta: {motivo}."),
    "cancelled": N_("Cancelada"),
    "cancelled_recorded": N_("Cancelada · constancia guardada"),
    "refused_recorded": N_("Llegada rechazada · constancia guardada"),
    "cancelled_msg": N_("El supervisor canceló esta visita después de su llegada. Anote lo que "
                        "pasó en la puerta: se guarda como constancia y no se registran promesas."),
    "cancelled_recorded_msg": N_("El supervisor canceló esta visita; lo que registró en la "
                                "puerta quedó guardado como constancia."),
    # field/visits.py REFUSED_RESULT_MESSAGE: said again by a phone that lost the answer
    # (wiped at a logout) from what the day reports.
    "refused_recorded_msg": N_("Su llegada no fue aceptada, pero lo que registró en la puerta "
                               "queda guardado como constancia. No se registró ninguna promesa "
                               "ni número nuevo. No repita la visita: si hace falta volver, su "
                               "supervisor la planeará de nuevo."),
    "no_route": N_("Sin ruta guardada."),
    "summary": N_("{visitas} visitas · {abiertas} por hacer · por recorrer {distancia} (en línea recta)"),
    "leg": N_("a {distancia}"),
    "checkin_refused_msg": N_("La llegada fue rechazada."),
    "arrived_at": N_("Llegada registrada a {distancia} del domicilio."),
    "result_not_saved": N_("No se guardó el resultado."),
    "result_saved": N_("Resultado guardado."),
    "no_geo": N_("Este teléfono no da la ubicación."),
    "geo_denied": N_("Permita el acceso a la ubicación para registrar la llegada."),
    "geo_failed": N_("No se pudo obtener la ubicación; inténtelo de nuevo."),
    "locating": N_("Obteniendo la ubicación…"),
    "photo_too_big": N_("La foto es demasiado grande incluso reducida; tómela de nuevo."),
    "unreadable": N_("Respuesta ilegible del servidor."),
    "pending_one": N_("1 pendiente"),
    "pending_many": N_("{n} pendientes"),
    "online": N_("En línea"),
    "offline": N_("Sin conexión"),
    "login_again": N_("Inicie sesión de nuevo"),
    "shift_sharing": N_("En turno · compartiendo ubicación y batería"),
    "shift_private": N_("En turno · sin compartir ubicación"),
    "yes": N_("Sí"),
    "no": N_("No"),
    "logout_pending_one": N_("No puede salir todavía: 1 operación no se ha enviado. Conéctese a "
                             "internet y pulse «Sincronizar»; podrá salir cuando se haya enviado."),
    "logout_offline": N_("No se pudo cerrar la sesión: no hay conexión con el servidor. "
                         "Inténtelo de nuevo cuando tenga conexión."),
    "logout_pending_many": N_("No puede salir todavía: {n} operaciones no se han enviado. Conéctese "
                              "a internet y pulse «Sincronizar»; podrá salir cuando se hayan enviado."),
}  # fmt: skip


def _rules(request: web.Request) -> CheckinRules:
    settings = request.app[SETTINGS]
    return CheckinRules(
        radius_m=float(settings.field_checkin_radius_m),
        max_accuracy_m=float(settings.field_checkin_max_accuracy_m),
    )


@requires(Role.field)
async def checkin(request: web.Request) -> web.StreamResponse:
    visit_id = id_or_400(request.match_info["visit_id"], "visit_id")
    body = await _op_body(request, visit_id, "checkin")
    received_at = request.app[CLOCK]()
    try:
        # The fix's time is the phone's: judged with its clock report (field/visit_time.py).
        fix = parse_fix(body.get("fix"))
    except CoordinateError as exc:
        return json_error(400, f"Ubicación no válida: {exc}", field="fix")
    try:
        device = parse_clock(body.get("sent_at"), body.get("synced"))
    except ClockError as exc:
        return json_error(400, f"Reloj no válido: {exc}", field="sent_at")
    try:
        answer = await in_db(request, functools.partial(visits.check_in, received_at=received_at,
                                                        device=device),
                             _agent(request), visit_id, body.get("key"), fix,
                             request.app[FIELD_CHECK], _rules(request))  # fmt: skip
    except visits.BadKey as exc:
        return json_error(400, str(exc), field="key")
    return _answer(answer)


@requires(Role.field)
async def result(request: web.Request) -> web.StreamResponse:
    visit_id = id_or_400(request.match_info["visit_id"], "visit_id")
    body = await _op_body(request, visit_id, "result")
    try:
        # The phone's time of the act and its clock report (field/visit_time.py).
        device = parse_clock(body.get("sent_at"), body.get("synced"))
        acted_at = parse_instant(body.get("acted_at"), "acted_at")
    except ClockError as exc:
        return json_error(400, f"Reloj no válido: {exc}", field="acted_at")
    try:
        answer = await in_db(request, functools.partial(visits.record_result, acted_at=acted_at,
                                                        device=device),
                             _agent(request), visit_id, body.get("key"), body.get("answers"),
                             request.app[CLOCK]())  # fmt: skip
    except visits.BadKey as exc:
        return json_error(400, str(exc), field="key")
    return _answer(answer)


@requires(Role.field)
async def reopen_result(request: web.Request) -> web.StreamResponse:
    """What the agent typed for a result the console refused (a 422: a promise above a
    balance lowered since the route was downloaded), opened again for her to correct.
    The phone keeps the refused body sealed (no clear answers in its storage) and asks
    for it only to fill the questionnaire on screen. Opened only for the agent, visit
    and kind it was sealed for (400 otherwise); nothing is recorded. A photo is left
    out: a file input cannot be filled, she takes it again."""
    visit_id = id_or_400(request.match_info["visit_id"], "visit_id")
    body = await _op_body(request, visit_id, "result")
    answers = body.get("answers")
    if not isinstance(answers, dict):
        return json_error(400, gettext_("No hay respuestas que abrir."), field="sealed")
    kept = {k: v for k, v in answers.items()
            if not (isinstance(v, str) and v.startswith("data:"))}  # fmt: skip
    return web.json_response({"ok": True, "answers": kept})


@requires(Role.field)
async def skip(request: web.Request) -> web.StreamResponse:
    visit_id = id_or_400(request.match_info["visit_id"], "visit_id")
    body = await _op_body(request, visit_id, "skip")
    now = request.app[CLOCK]()
    here = None
    if body.get("fix") is not None:
        try:
            fix = parse_fix(body.get("fix"))  # only where: its time is not used
        except CoordinateError as exc:
            return json_error(400, f"Ubicación no válida: {exc}", field="fix")
        here = (fix.lat, fix.lon)
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        return json_error(400, "El motivo es un texto.", field="reason")
    try:
        answer = await in_db(request, visits.skip, _agent(request), visit_id, body.get("key"),
                             reason or "", here, now)  # fmt: skip
    except visits.BadKey as exc:
        return json_error(400, str(exc), field="key")
    return _answer(answer)


def _shift_json(state: positions.ShiftState) -> dict[str, Any]:
    return {"ok": True, "on_shift": state.on_shift, "sharing": state.sharing,
            "started_at": state.started_at.isoformat() if state.started_at else None}  # fmt: skip


@requires(Role.field)
async def shift_state(request: web.Request) -> web.StreamResponse:
    state = await in_db(request, positions.state, user_of(request).id, request.app[CLOCK]())
    return web.json_response(_shift_json(state))


@requires(Role.field)
async def shift_change(request: web.Request) -> web.StreamResponse:
    body = await _body(request)
    user, now = user_of(request), request.app[CLOCK]()
    action, consent = body.get("action"), body.get("consent", False)
    if not isinstance(consent, bool):
        return json_error(400, "consent es true o false.", field="consent")
    if action == "start":
        state = await in_db(request, positions.start_shift, user.id, user.actor, consent, now)
    elif action == "end":
        await in_db(request, positions.end_shift, user.id, user.actor, now)
        state = positions.ShiftState(False, False)
    else:
        return json_error(400, "action es start o end.", field="action")
    return web.json_response(_shift_json(state))


@requires(Role.field)
async def position(request: web.Request) -> web.StreamResponse:
    body = await _body(request)
    now = request.app[CLOCK]()
    try:
        # Sent live, as the phone gets it (the app queues none): dated at its receipt.
        # The phone's clock is not the server's - one 3 min fast had every report
        # refused as "dated in the future" and its agent was missing from the map.
        fix = replace(parse_fix(body.get("fix"), None), at=now)
    except CoordinateError as exc:
        return json_error(400, f"Ubicación no válida: {exc}", field="fix")
    try:
        kept = await in_db(request, positions.report, user_of(request).id, fix,
                           body.get("battery"), now)  # fmt: skip
    except positions.ShiftError as exc:
        return json_error(400, str(exc), field="battery")
    return web.json_response({"ok": True, "kept": kept})


# Supervisors ------------------------------------------------------------------------


def _field_agents(engine: Engine, scope: set[int] | None) -> list[dict[str, Any]]:
    """The field agents a planner of `scope` sees (field/plans.py `may_plan_for`)."""
    with transaction(engine) as session:
        return [{"id": u.id, "name": u.display_name, "territory": u.territory or ""}
                for u in plans.field_agents(session, scope)]  # fmt: skip


def _audit_map_view(engine: Engine, actor: str, day: date) -> None:
    with transaction(engine) as session:
        audit.append(session, "field_map_view", {"day": day, "positions": True},
                     actor=actor, subject=None)  # fmt: skip


# Why the planner refused a visit, in the words of its own checks; every reason the
# law's check can give comes from REASON_LABELS (the list the map showed knew 17
# codes, so a week's contact cap or an opted-out debtor read only "Otro motivo").
PLAN_REFUSAL_LABELS = {
    "no_coordinates": N_("la cuenta no tiene coordenadas"),
    "already_planned": N_("ya está planeada ese día"),
    "no_account": N_("no existe esa cuenta"),
    "visit_not_authorised": N_("sin autorización firmada de visita"),
    "channel_not_allowed": N_("el país no permite visitas"),
    "day_not_allowed": N_("día no permitido"),
    "holiday": N_("día festivo"),
    "outside_hours": N_("fuera del horario"),
    "timezone_unknown": N_("zona horaria desconocida"),
    "not_delinquent": N_("la cuenta no está en mora"),
    "disputed": N_("cuenta en disputa"),
    "cease_contact": N_("pidió no ser contactado"),
    "legal_stage": N_("en etapa legal"),
    "country_unknown": N_("país sin perfil"),
    "third_party": N_("no es el deudor"),
    "not_your_campaign": N_("la cuenta no es de una campaña a su cargo"),
    "attempt_cap_day": N_("ya se visitó hoy"),
}


def plan_refusal_words() -> dict[str, str]:
    """Every refusal reason in the page's language, lower case to follow "No se pudo
    planear ... :" (the law's labels start with a capital: they stand alone elsewhere)."""
    words = {code: _lower_first(gettext_(label)) for code, label in REASON_LABELS.items()}
    words.update((code, gettext_(label)) for code, label in PLAN_REFUSAL_LABELS.items())
    return words


def _lower_first(text: str) -> str:
    # "REUS" and other all-capital words keep their case.
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


@requires(Role.supervisor)
@aiohttp_jinja2.template("supervisor_field.html")
async def supervisor_field_page(request: web.Request) -> dict[str, Any]:
    day = _day(request)
    # The map shows agents' positions (personal data): every opening is evidence.
    await in_db(request, _audit_map_view, user_of(request).actor, day)
    return {"day": day.isoformat(),
            "agents": await in_db(request, _field_agents, plan_scope(user_of(request))),
            "tiles": request.app[SETTINGS].field_map_tiles,
            # Without its bundle the page would stay blank: it says why instead.
            "map_missing": "map" in bundles.missing(STATIC),
            # The words the field agent picked (field/questionnaire.py's), in the page's language.
            "visit_outcomes": {code: gettext_(label)
                               for code, label in VISIT_OUTCOME_LABELS.items()},
            "refusal_reasons": plan_refusal_words()}  # fmt: skip


@requires(Role.supervisor)
async def live_json(request: web.Request) -> web.StreamResponse:
    day = _day(request)
    since = None
    if request.query.get("since"):
        try:
            since = datetime.fromisoformat(request.query["since"])
        except ValueError:
            return json_error(400, "since debe ser un instante ISO 8601.", field="since")
        if since.tzinfo is None:
            return json_error(400, "since debe llevar su zona (UTC).", field="since")
    now = request.app[CLOCK]()
    scope = plan_scope(user_of(request))
    data = await in_db(request, field_day.floor_day, day, since, scope)
    shown = await in_db(request, positions.last_positions, now)
    if scope is not None:
        # Positions are today's, whatever day the map shows: a supervisor tied to a
        # campaign sees the agents of hers or of the pool who work only her
        # campaign's accounts today (docs/field.md).
        mapped = await in_db(request, field_day.position_agents, _today(request), scope)
        shown = [p for p in shown if p["agent_id"] in mapped]
    data["positions"] = shown
    data["now"] = now.isoformat()
    return web.json_response(data)


def _plannable(
    engine: Engine, query: str, scope: set[int] | None, actor: str, limit: int = 200
) -> list[dict[str, Any]]:
    """Accounts a visit may be planned for, and the pii_view of what the search shows
    (names, addresses, coordinates: every page of results is evidence)."""
    with transaction(engine) as session:
        stmt = (
            select(Account)
            .where(Account.status == AccountStatus.active.value,
                   Account.latitude.is_not(None), Account.longitude.is_not(None))
            .order_by(Account.external_ref)
            .limit(limit)
        )  # fmt: skip
        if scope is not None:
            stmt = stmt.where(Account.campaign_id.in_(sorted(scope)))
        if query:
            like = f"%{query.replace('%', '').replace('_', '')}%"
            stmt = stmt.where(Account.external_ref.ilike(like) | Account.address.ilike(like))
        rows = [{"id": a.id, "ref": a.external_ref, "name": a.debtor_name,
                 "address": a.address or "", "country": a.country, "lat": a.latitude,
                 "lon": a.longitude, "stage": a.stage} for a in session.scalars(stmt)]  # fmt: skip
        audit.append(session, "pii_view",
                     {"page": "field_accounts", "searched": bool(query),
                      "results": [r["id"] for r in rows],
                      "fields": ["name", "address", "coordinates"]},
                     actor=actor, subject=None)  # fmt: skip
        return rows


@requires(Role.supervisor)
async def accounts_json(request: web.Request) -> web.StreamResponse:
    query = request.query.get("q", "").strip()[:64]
    scope = plan_scope(user_of(request))
    found = await in_db(request, _plannable, query, scope, user_of(request).actor)
    return web.json_response({"accounts": found})


def _ids_of_refs(engine: Engine, refs: list[str],
                 scope: set[int] | None) -> tuple[list[int], list[str]]:  # fmt: skip
    """The accounts the references name, and the references that name none; an account
    outside the planner's campaigns (`scope`; None: every campaign) is among the
    latter, answered exactly like a reference that exists nowhere."""
    with transaction(engine) as session:
        query = select(Account.external_ref, Account.id).where(Account.external_ref.in_(refs))
        if scope is not None:
            query = query.where(Account.campaign_id.in_(sorted(scope) or [-1]))
        found = {ref: account_id for ref, account_id in session.execute(query).all()}
    return [found[r] for r in refs if r in found], [r for r in refs if r not in found]


@requires(Role.supervisor)
async def plan(request: web.Request) -> web.StreamResponse:
    body = await _body(request)
    agent_id, refs, raw_day = body.get("agent_id"), body.get("account_refs"), body.get("day")
    if not isinstance(agent_id, int) or isinstance(agent_id, bool):
        return json_error(400, "Elija un gestor de campo.", field="agent_id")
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        return json_error(400, "account_refs es una lista de referencias.", field="account_refs")
    if len(refs) > MAX_PLAN_REFS:
        return json_error(400, f"Se pueden planear hasta {MAX_PLAN_REFS} cuentas a la vez.",
                          field="account_refs")  # fmt: skip
    try:
        day = date.fromisoformat(raw_day) if isinstance(raw_day, str) else _today(request)
    except ValueError:
        return json_error(400, "day debe ser AAAA-MM-DD.", field="day")
    refs = list(dict.fromkeys(r.strip() for r in refs if r.strip()))
    user = user_of(request)
    ids, unknown = await in_db(request, _ids_of_refs, refs, plan_scope(user))
    missing = [{"external_ref": r, "reasons": ["no_account"]} for r in unknown]
    if not ids and missing:  # nothing to plan: every reference named no account of theirs
        return web.json_response({"ok": True, "planned": [], "refused": missing, "route_m": 0})
    try:
        outcome = await in_db(request, plans.assign, user.id, user.actor, agent_id, day, ids,
                              request.app[FIELD_CHECK], request.app[CLOCK](), plan_scope(user),
                              _today(request))  # fmt: skip
    except plans.PlanError as exc:
        return json_error(422, str(exc))
    refused = outcome.refused + missing
    return web.json_response({"ok": True, "planned": outcome.planned, "refused": refused,
                              "route_m": round(outcome.route_m)})  # fmt: skip


@requires(Role.supervisor)
async def cancel(request: web.Request) -> web.StreamResponse:
    visit_id = id_or_400(request.match_info["visit_id"], "visit_id")
    try:
        user = user_of(request)
        await in_db(request, plans.cancel, user.actor, visit_id, request.app[CLOCK](),
                    plan_scope(user))  # fmt: skip
    except plans.PlanError as exc:
        return json_error(409, str(exc))
    return web.json_response({"ok": True})


async def purge_positions_ctx(app: web.Application) -> AsyncIterator[None]:
    """Positions past the shift plus the retention go, at start and every hour; the
    agents on shift are counted for the metrics every 30 s."""
    retention = timedelta(hours=app[SETTINGS].field_position_retention_hours)

    async def loop() -> None:
        while True:
            try:
                await asyncio.to_thread(positions.purge, app[ENGINE], app[CLOCK](), retention)
            except Exception:  # a failed purge is retried at the next round
                log.warning("field positions purge failed", exc_info=True)
            await asyncio.sleep(PURGE_EVERY_SECONDS)

    async def on_shift() -> None:
        while True:
            try:
                count = await asyncio.to_thread(positions.on_shift, app[ENGINE], app[CLOCK]())
                m.FIELD_ON_SHIFT_AGENTS.set(count)
            except Exception:
                log.warning("counting field agents on shift failed", exc_info=True)
            await asyncio.sleep(ON_SHIFT_EVERY_SECONDS)

    tasks = [asyncio.create_task(loop()), asyncio.create_task(on_shift())]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
