"""What the field app sends: check-ins, results and skips, each applied once.

Every operation carries a key the browser made when the agent acted (it may be
sent again after a lost answer, or synced from the offline queue twice); the
first answer is kept with the key and a replay gets it back without changing
anything. An operation on a visit that is not the agent's is answered as if
the visit did not exist.

A check-in is accepted only at the address (field/checkin.py) and when
compliance allows the visit at an instant the server trusts (field/visit_time.py:
the receipt, or the phone's time when its clock is consistent; never the phone's
clock alone): it writes the visit's
attempt row (channel `visit`) with its decision, like a call's final check. A
result turns into the disposition, promise, holds and account changes a call's
would (console/agent_service.py does the same for calls).

A visit the supervisor cancelled while the agent, offline, was already at the door
is no longer the agent's to act on, but what happened there did happen: its
check-in and result are kept as evidence (`EVIDENCE_ONLY`): the attempt in the
contact ledger (the caps count it), the decision (a refusal too: the visit cap
may count the agent it was given to since; the contact happened all the same),
the disposition and the audit entries, while the visit stays cancelled and nothing is set going from it (no
promise, no hold for one, no number added). What the debtor asked at the door to
restrict contact (a dispute, a stop, a payment to check) is honoured all the same.

Synchronous SQL: the console runs these in a worker thread.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from cobrador.ground.code_words import OTHER, REASON_LABELS
from compliance import campaign_limits
from compliance.debtor_accounts import linked_protection
from compliance.debtor_time import account_day, date_zones
from compliance.engine import CLOSED_STATUSES
from compliance.protection import protection_reason
from dialer.recycle import promise_hold_until
from field.checkin import DEFAULT_RULES, CheckinRules, Fix, judge
from field.plans import reroute
from field.questionnaire import (
    AccountTerms,
    AnswerErrors,
    VisitResult,
    parse_answers,
)
from field.visit_rules import STAGE_CHECKIN, VisitCheck, debtor_zone, record_decision
from field.visit_time import CLOCK_UNSURE, DeviceClock, judge_instant
from store import audit
from store.db import transaction
from store.models import (
    Account,
    AuditEntry,
    CallAttempt,
    Campaign,
    ContactChannel,
    Decision,
    Disposition,
    FieldSyncKey,
    FieldVisit,
    Note,
    Phone,
    Promise,
    VisitStatus,
)

KEY_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
PAID_CLAIM_HOLD_DAYS = 7
MAX_SKIP_REASON = 200
# Every reason the law's check can give, in words (the console translates them; an
# unknown code reads as "other reason", never as the code): compliance/engine.py REASONS.
COMPLIANCE_LABELS = REASON_LABELS
COMPLIANCE_MESSAGE = "La ley no permite esta visita ahora: {motivos}."
# Fixed texts (the console translates them; the times go in their own fields).
BARRED_PROMISE_MESSAGE = (
    "Resultado guardado. La cuenta ya no admite cobranza (cambió después de la llegada): "
    "la promesa queda como constancia y no se registró como promesa."
)
CANCELLED_CHECKIN_MESSAGE = (
    "El supervisor canceló esta visita. Su llegada queda registrada como constancia: "
    "anote lo que pasó en la puerta; se guarda como constancia y no se registran promesas."
)
CANCELLED_RESULT_MESSAGE = (
    "El supervisor canceló esta visita. Lo que registró en la puerta queda como "
    "constancia; la visita sigue cancelada y no se registró ninguna promesa."
)
# What an attempt, visit and audit entry say of a contact kept as evidence only.
EVIDENCE_ONLY = "visit_cancelled"
# ... of a result recorded at the door after a check-in the server refused (the law's
# check, or a clock it could not trust), the visit still planned.
EVIDENCE_REFUSED = "checkin_refused"
# The one advice given once a result was kept after a refused arrival; the app shows it
# beside why the arrival was refused (refusal_words), never beside a "check in again":
# the contact is in the ledger (a new arrival today may well be refused for it) and the
# app offers no check-in for that visit any more.
REFUSED_RESULT_MESSAGE = (
    "Su llegada no fue aceptada, pero lo que registró en la puerta queda guardado como "
    "constancia. No se registró ninguna promesa ni número nuevo. No repita la visita: "
    "si hace falta volver, su supervisor la planeará de nuevo."
)
# A new arrival on a visit whose door contact is kept already (REFUSED_RESULT_MESSAGE
# told her not to repeat it): refused, the same advice.
KEPT_CHECKIN_MESSAGE = (
    "Lo que registró en la puerta de esta visita ya quedó guardado como constancia: no se "
    "registra otra llegada. No repita la visita: si hace falta volver, su supervisor la "
    "planeará de nuevo."
)
# Told when the arrival is refused, maybe long after the door (queued offline): the
# advice holds whether or not a result was recorded there (a result after it is kept,
# REFUSED_RESULT_MESSAGE), so it never contradicts that notice.
CLOCK_UNSURE_MESSAGE = (
    "No se puede confirmar la hora de la llegada: el reloj del teléfono no coincide "
    "con el del servidor. Corrija la fecha y hora del teléfono y sincronice. Si sigue en "
    "el domicilio y aún no anotó el resultado, registre la llegada de nuevo; lo que ya "
    "anotó en la puerta queda guardado como constancia."
)
# Why an arrival was refused, without advice (shown with REFUSED_RESULT_MESSAGE, once
# the result recorded at the door is kept): refusal_words builds them.
CLOCK_REFUSED_WORDS = (
    "No se pudo confirmar la hora de la llegada: el reloj del teléfono no coincidía con "
    "el del servidor. Corrija la fecha y hora del teléfono antes de su próxima llegada."
)
FAR_REFUSED_WORDS = (
    "La ubicación de la llegada estaba a {distancia} del domicilio, demasiado lejos."
)
INACCURATE_REFUSED_WORDS = "La ubicación de la llegada era poco precisa (±{precision} m)."
# The geofence's refusals (field/checkin.py Verdict.reason), told with the distance.
FAR_MESSAGE = "Está a {distancia} del domicilio; la llegada se registra a {radio} m o menos."
INACCURATE_MESSAGE = (
    "La ubicación es poco precisa (más de {precision} m); espere una mejor señal. "
    "Distancia estimada: {distancia}."
)
FAR_REASONS = ("too_far", "inaccurate")
# A check-in made on another day than its visit's (in the debtor's zone).
OTHER_DAY = "other_day"
OTHER_DAY_WORDS = "La llegada se registró en otro día que el de la visita."
OTHER_DAY_MESSAGE = "La visita está planeada para otro día."
# A check-in on an account whose coordinates were removed since the plan.
NO_COORDINATES = "no_coordinates"
NO_COORDINATES_MESSAGE = "La cuenta ya no tiene coordenadas."
NO_COORDINATES_WORDS = (
    "La cuenta ya no tenía coordenadas del domicilio: no se pudo comprobar el lugar de la llegada."
)
# A check-in on an account whose debtor's zone can no longer be read (compliance's own
# code: the law's check fails closed on it too).
ZONE_UNKNOWN = "timezone_unknown"
ZONE_UNKNOWN_MESSAGE = (
    "No se conoce la zona horaria del deudor: no se puede confirmar el día ni la hora de la visita."
)
ZONE_UNKNOWN_WORDS = (
    "No se conocía la zona horaria del deudor: no se pudo confirmar el día ni la hora de la visita."
)
# Refusals judged at a trusted instant and kept in the audit with the fix.
PLACE_OR_DAY = (*FAR_REASONS, OTHER_DAY, NO_COORDINATES, ZONE_UNKNOWN)


@dataclass(frozen=True)
class Answer:
    """What the console answers the app (HTTP status and JSON body); `facts` are what
    the metrics count (never stored with the key: a replay counts nothing)."""

    status: int
    body: dict[str, Any]
    replayed: bool = False
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Agent:
    id: int
    actor: str  # user:<name>


class BadKey(ValueError):
    pass


def _not_found() -> Answer:
    return Answer(404, {"ok": False, "reason": "No existe esa visita en su ruta."})


def once(
    engine: Engine,
    agent: Agent,
    key: str,
    visit_id: int,
    kind: str,
    operation: Callable[[Session, FieldVisit], Answer],
    received_at: datetime | None = None,
) -> Answer:
    """Run `operation` on the agent's visit unless `key` was seen: then its first answer.
    The key is kept with `received_at` (the console's clock at the receipt): when the
    server learnt of the act, which the supervisors' notices go by (field/day.py), as
    an act queued offline is filed at its own, earlier, time."""
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise BadKey("La clave de la operación debe tener 16 a 64 letras, cifras, '-' o '_'.")
    for _ in range(2):
        try:
            with transaction(engine) as session:
                seen = session.get(FieldSyncKey, key)
                if seen is not None:
                    if (seen.agent_id, seen.visit_id, seen.kind) != (agent.id, visit_id, kind):
                        return Answer(409, {"ok": False,
                                            "reason": "Esa clave ya se usó para otra operación."})  # fmt: skip
                    return Answer(seen.status, dict(seen.response), replayed=True)
                visit = session.get(FieldVisit, visit_id)
                if visit is None or visit.agent_id != agent.id:
                    return _not_found()  # not stored: another agent's id tells nothing
                answer = operation(session, visit)
                session.add(FieldSyncKey(key=key, agent_id=agent.id, visit_id=visit_id,
                                         kind=kind, status=answer.status, response=answer.body,
                                         created_at=received_at or datetime.now(UTC)))  # fmt: skip
                session.flush()
                return answer
        except IntegrityError:
            continue  # the same key committed meanwhile (two syncs at once): read it back
    raise RuntimeError("sync key neither stored nor found")  # pragma: no cover


def check_in(
    engine: Engine,
    agent: Agent,
    visit_id: int,
    key: str,
    fix: Fix,
    check: VisitCheck,
    rules: CheckinRules = DEFAULT_RULES,
    *,
    received_at: datetime,
    device: DeviceClock | None = None,
) -> Answer:
    """A check-in judged at an instant the server trusts (field/visit_time.py): the
    receipt when sent as the agent acted, else the phone's time when its clock is
    consistent; `fix.at` is only what the phone's clock said."""
    clock = device or DeviceClock()

    def operation(session: Session, visit: FieldVisit) -> Answer:
        # Cancelled while the agent was on the way (offline): the arrival is evidence.
        late = visit.status == VisitStatus.cancelled.value and visit.attempt_id is None
        if visit.status != VisitStatus.planned.value and not late:
            return _state_conflict(visit)
        if _kept_after_refusal(session, visit):
            # Its door contact is kept already (the agent was told not to repeat it):
            # an arrival now would be a second contact on a visit made, never planned.
            return Answer(409, {"ok": False, "reason": KEPT_CHECKIN_MESSAGE,
                                "status": visit.status, "evidence": "recorded"})  # fmt: skip
        account = session.get(Account, visit.account_id)
        assert account is not None
        instant = judge_instant(fix.at, clock, received_at, _aware(visit.created_at))
        times = {"device_at": fix.at, "received_at": received_at, "time_source": instant.source}
        if instant.at is None:
            audit.append(session, "visit_checkin_refused",
                         {"visit_id": visit.id, "reason": CLOCK_UNSURE, "why": instant.why,
                          **times, **clock.as_dict()},
                         actor=agent.actor, subject=f"account:{account.id}")  # fmt: skip
            return Answer(422, {"ok": False, "reason": CLOCK_UNSURE_MESSAGE,
                                "refusal": CLOCK_UNSURE, "why": instant.why,
                                "device_at": fix.at.isoformat(),
                                "received_at": received_at.isoformat()},
                          facts={"country": account.country, "refused": [CLOCK_UNSURE]})  # fmt: skip
        at = instant.at

        def refuse(reason: str, status: int, words: str, kept: dict[str, Any],
                   told: dict[str, Any] | None = None) -> Answer:  # fmt: skip
            # Where and when the phone was is kept in the audit (`kept` beside it): a
            # result recorded there is kept as evidence with it (record_result,
            # _refused_arrival), the door contact never lost.
            audit.append(session, "visit_checkin_refused",
                         {"visit_id": visit.id, "reason": reason, "accuracy_m": fix.accuracy_m,
                          "lat": fix.lat, "lon": fix.lon, "at": at, **kept, **times},
                         actor=agent.actor, subject=f"account:{account.id}")  # fmt: skip
            return Answer(status, {"ok": False, "reason": words, "refusal": reason, **(told or {})},
                          facts={"country": account.country, "refused": [reason]})  # fmt: skip

        if account.latitude is None or account.longitude is None:
            # Taken off the account since the plan: nothing to measure the fix against.
            return refuse(NO_COORDINATES, 409, NO_COORDINATES_MESSAGE, {})
        zone = debtor_zone(account)
        verdict = judge((account.latitude, account.longitude), fix, rules)
        distance = round(verdict.distance_m)
        if zone is None:
            # The debtor's zone became unreadable since the plan: neither the visit's
            # day nor the law's hours can be judged (fail closed), the fix is kept.
            return refuse(ZONE_UNKNOWN, 409, ZONE_UNKNOWN_MESSAGE, {"distance_m": distance})
        if at.astimezone(zone).date() != visit.day:
            # Made on another day than planned (a route cached offline past midnight):
            # kept in the audit like a far fix, so a result recorded there is kept too.
            return refuse(OTHER_DAY, 409, OTHER_DAY_MESSAGE,
                          {"distance_m": distance, "day": visit.day})  # fmt: skip
        if not verdict.accepted:
            # A far fix proves no door, but a result recorded there is kept with the
            # distance beside the contact.
            limit = rules.max_accuracy_m if verdict.reason == "inaccurate" else rules.radius_m
            return refuse(str(verdict.reason), 422, far_message(verdict.reason, distance, limit),
                          {"distance_m": distance},
                          {"distance_m": distance, "limit_m": limit})  # fmt: skip
        decision = check(session, account, at)
        row = record_decision(session, account, decision, STAGE_CHECKIN, agent.actor)
        attempt = CallAttempt(
            account_id=account.id, phone_e164=None, address=account.address,
            campaign_id=account.campaign_id,
            decision_id=row.id, agent_id=agent.id, direction="outbound", source="field",
            started_at=at, debtor_local_time=decision.local_time,
            channel=ContactChannel.visit.value,
            details={"visit_id": visit.id, "lat": fix.lat, "lon": fix.lon,
                     "accuracy_m": fix.accuracy_m, "distance_m": distance,
                     "device_at": fix.at.isoformat(), "time_source": instant.source,
                     **({"evidence_only": EVIDENCE_ONLY} if late else {})},
        )  # fmt: skip
        # A live visit the law refuses now is not made (blocked). A cancelled one was
        # made already, whatever the law's check says now (the visit cap counting the
        # agent it was given to since, say): kept, with the refusal beside it.
        refused = list(decision.reasons) if not decision.allowed else []
        if refused and late:
            attempt.details = {**(attempt.details or {}), "refused": refused}
        elif refused:
            attempt.result, attempt.ended_at = "blocked", at
        session.add(attempt)
        session.flush()
        if refused and not late:
            return Answer(403, {"ok": False, "reasons": list(decision.reasons),
                                "reason": compliance_message(decision.reasons),
                                "distance_m": distance},
                          facts={"country": account.country, "refused": list(decision.reasons)})  # fmt: skip
        visit.checked_in_at, visit.attempt_id = at, attempt.id
        if not late:
            visit.status = VisitStatus.checked_in.value
        evidence = ({"evidence_only": EVIDENCE_ONLY, "cancelled_at": visit.ended_at,
                     **({"refused": refused} if refused else {})} if late else {})  # fmt: skip
        audit.append(session, "attempt",
                     {"attempt_id": attempt.id, "channel": "visit", "visit_id": visit.id,
                      "account_id": account.id, "decision_id": row.id, "distance_m": distance,
                      "accuracy_m": fix.accuracy_m, "at": at, **times, **evidence},
                     actor=agent.actor, subject=f"account:{account.id}")  # fmt: skip
        body: dict[str, Any] = {"ok": True, "distance_m": distance, "attempt_id": attempt.id}
        if late:
            body.update(evidence_only=True, notice=CANCELLED_CHECKIN_MESSAGE)
            if refused:
                body["refused"] = refused
        return Answer(200, body)

    return once(engine, agent, key, visit_id, "checkin", operation, received_at)


def record_result(
    engine: Engine,
    agent: Agent,
    visit_id: int,
    key: str,
    data: object,
    now: datetime,
    *,
    acted_at: datetime | None = None,
    device: DeviceClock | None = None,
) -> Answer:
    """A visit's result, received at `now`. The instant it is filed at (the visit's end,
    the day its promise is bounded from) is the phone's time of the act (`acted_at`)
    when its clock report makes it trustworthy (field/visit_time.py), kept between
    the check-in and the receipt; else the receipt. Never refused for the clock (the
    visit was judged at its check-in): both times and the source are in the audit."""

    def operation(session: Session, visit: FieldVisit) -> Answer:
        # No arrival accepted: a refused one may be the door's. A visit cancelled meanwhile
        # too: its arrival refused as far or on an untrusted clock (the law's refusal
        # does not undo an arrival on a cancelled visit) left its result nowhere.
        waiting = (VisitStatus.planned.value, VisitStatus.cancelled.value)
        if visit.status in waiting and visit.attempt_id is None:
            refusal = _refused_arrival(session, agent, visit)
            if refusal is not None:
                return _refused_result(session, agent, visit, refusal, data, now)
        # Cancelled after an arrival kept as evidence: its result is evidence too.
        late = visit.status == VisitStatus.cancelled.value and visit.attempt_id is not None
        if not late and (visit.status != VisitStatus.checked_in.value or visit.attempt_id is None):
            return _state_conflict(visit)
        account = session.get(Account, visit.account_id)
        attempt = session.get(CallAttempt, visit.attempt_id)
        assert account is not None and attempt is not None
        if late and attempt.ended_at is not None:
            return Answer(409, {"ok": False, "reason": "La visita ya tiene resultado.",
                                "status": visit.status})  # fmt: skip
        campaign = session.get(Campaign, account.campaign_id) if account.campaign_id else None
        times = _result_times(visit, acted_at, device or DeviceClock(), now)
        at = times["at"]
        try:
            result = parse_answers(data, _terms(account, campaign, at))
        except AnswerErrors as exc:
            return Answer(422, {"ok": False, "errors": exc.errors,
                                "reason": "Revise las respuestas marcadas."})  # fmt: skip
        # The result is what happened at the door and is kept whatever changed since
        # the check-in; what it would set going (a promise to chase) is not, when the
        # account no longer admits collection (reported deceased, disputed, paid...
        # while the phone was offline): recorded with the reasons, said in the answer.
        barred = _barred(session, account)
        _apply(session, agent, visit, account, attempt, result, at, barred, times,
               EVIDENCE_ONLY if late else None)  # fmt: skip
        zone = debtor_zone(account)
        door = visit.checked_in_at or at
        facts = {"country": account.country, "region": account.region,
                 "local": door.astimezone(zone) if zone else None, "outcome": result.outcome.code,
                 "door": result.party != "nadie", "rpc": result.right_party_contact}  # fmt: skip
        body: dict[str, Any] = {"ok": True, "visit_id": visit.id, "outcome": result.outcome.code}
        if barred:
            body["barred"] = list(barred)
            if result.promise_amount is not None:
                body["notice"] = BARRED_PROMISE_MESSAGE
        if late:
            body.update(evidence_only=True, notice=CANCELLED_RESULT_MESSAGE)
        return Answer(200, body, facts=facts)

    return once(engine, agent, key, visit_id, "result", operation, now)


@dataclass(frozen=True)
class Refusal:
    """A check-in of the agent's on a visit still planned that the server refused."""

    reasons: tuple[str, ...]  # the law's reasons, (CLOCK_UNSURE,), or ("too_far",) ...
    at: datetime | None  # the trusted instant of the arrival (None: the clock was not)
    decision_id: int | None
    local_time: str | None  # the debtor's, as the law's check saw it
    details: dict[str, Any]  # where the phone was (lat, lon, accuracy, distance...)


def _refused_arrival(session: Session, agent: Agent, visit: FieldVisit) -> Refusal | None:
    """The agent's latest check-in on `visit` refused by the law's check (its attempt
    written `blocked`), for a clock the server could not trust, or too far from the
    address or on too rough a fix (their audit entries); None when there is none.
    A far fix proves no door, but a result recorded with it says a contact happened
    (what the debtor asked there binds, the caps must count it): kept, the distance
    beside it."""
    found: list[tuple[datetime, Refusal]] = []
    blocked = session.scalars(
        select(CallAttempt).where(
            CallAttempt.account_id == visit.account_id,
            CallAttempt.agent_id == agent.id,
            CallAttempt.channel == ContactChannel.visit.value,
            CallAttempt.result == "blocked",
        )
    )
    for attempt in blocked:
        details = dict(attempt.details or {})
        if details.get("visit_id") != visit.id:
            continue
        row = session.get(Decision, attempt.decision_id) if attempt.decision_id else None
        reasons = tuple(row.reasons or ()) if row is not None else ("blocked",)
        at = _aware(attempt.started_at)
        found.append((at, Refusal(reasons, at, attempt.decision_id, attempt.debtor_local_time,
                                  {**details, "blocked_attempt_id": attempt.id})))  # fmt: skip
    entries = session.scalars(
        select(AuditEntry).where(
            AuditEntry.kind == "visit_checkin_refused",
            AuditEntry.subject == f"account:{visit.account_id}",
            AuditEntry.actor == agent.actor,
        )
    )
    for entry in entries:
        payload = json.loads(entry.payload)
        reason = payload.get("reason")
        if payload.get("visit_id") != visit.id:
            continue
        if reason == CLOCK_UNSURE:
            keep = {k: payload.get(k) for k in ("device_at", "received_at", "why")}
            found.append((_aware(entry.created_at), Refusal((CLOCK_UNSURE,), None, None, None,
                                                             {"visit_id": visit.id, **keep})))  # fmt: skip
        elif reason in PLACE_OR_DAY:
            # Judged at a trusted instant before the distance was: the arrival's time.
            judged = _parse_at(payload.get("at"))
            keep = {k: payload[k] for k in ("distance_m", "accuracy_m", "lat", "lon", "device_at",
                                            "received_at", "time_source") if k in payload}  # fmt: skip
            found.append((judged or _aware(entry.created_at),
                          Refusal((reason,), judged, None, None, {"visit_id": visit.id, **keep})))  # fmt: skip
    if not found:
        return None
    return max(found, key=lambda f: f[0])[1]


def _kept_after_refusal(session: Session, visit: FieldVisit) -> bool:
    """Whether a result recorded at `visit`'s door after a refused arrival is kept
    (EVIDENCE_REFUSED): the visit was made, though it stays planned (or cancelled)."""
    kept = session.scalars(
        select(CallAttempt.details).where(
            CallAttempt.account_id == visit.account_id,
            CallAttempt.channel == ContactChannel.visit.value,
            CallAttempt.result.is_not(None),
            CallAttempt.result != "blocked",
        )
    )
    return any((details or {}).get("visit_id") == visit.id
               and (details or {}).get("evidence_only") == EVIDENCE_REFUSED for details in kept)  # fmt: skip


def _refused_result(
    session: Session,
    agent: Agent,
    visit: FieldVisit,
    refusal: Refusal,
    data: object,
    now: datetime,
) -> Answer:
    """A result recorded at the door after a check-in the server refused: the contact
    happened, so it is kept as evidence (EVIDENCE_REFUSED): an attempt in the contact
    ledger (the caps count it) with the refusal beside it, the disposition, the note
    and the audit entries; nothing the refusal forbids is set going (no promise, no
    hold for one, no number added, the visit stays planned, or cancelled when the
    supervisor cancelled it meanwhile). What the debtor asked at the door to restrict
    contact (a dispute, a stop, a payment to check) holds."""
    cancelled = visit.status == VisitStatus.cancelled.value
    account = session.get(Account, visit.account_id)
    assert account is not None
    if _kept_after_refusal(session, visit):
        return Answer(409, {"ok": False, "reason": "La visita ya tiene resultado.",
                            "status": visit.status})  # fmt: skip
    campaign = session.get(Campaign, account.campaign_id) if account.campaign_id else None
    # The law's refusal judged the arrival at a trusted instant; an untrusted clock
    # leaves only the receipt (later than the door: the caps count it no shorter).
    at = refusal.at or now
    times: dict[str, Any] = {"received_at": now, "at": at,
                             "time_source": "checkin" if refusal.at else "receipt"}  # fmt: skip
    try:
        result = parse_answers(data, _terms(account, campaign, at))
    except AnswerErrors as exc:
        return Answer(422, {"ok": False, "errors": exc.errors,
                            "reason": "Revise las respuestas marcadas."})  # fmt: skip
    refused = list(refusal.reasons)
    zone = debtor_zone(account)
    attempt = CallAttempt(
        account_id=account.id, phone_e164=None, address=account.address,
        campaign_id=account.campaign_id, decision_id=refusal.decision_id, agent_id=agent.id,
        direction="outbound", source="field", started_at=at,
        debtor_local_time=refusal.local_time,
        channel=ContactChannel.visit.value,
        details={**refusal.details, "visit_id": visit.id, "evidence_only": EVIDENCE_REFUSED,
                 "refused": refused},
    )  # fmt: skip
    session.add(attempt)
    session.flush()
    audit.append(session, "attempt",
                 {"attempt_id": attempt.id, "channel": "visit", "visit_id": visit.id,
                  "account_id": account.id, "decision_id": refusal.decision_id, "at": at,
                  "evidence_only": EVIDENCE_REFUSED, "refused": refused, **times,
                  **({"cancelled_at": _aware(visit.ended_at)} if cancelled and visit.ended_at
                     else {})},
                 actor=agent.actor, subject=f"account:{account.id}")  # fmt: skip
    barred = _barred(session, account)
    _apply(session, agent, visit, account, attempt, result, at, barred,
           {**times, "refused": refused}, EVIDENCE_REFUSED)  # fmt: skip
    body: dict[str, Any] = {"ok": True, "visit_id": visit.id, "outcome": result.outcome.code,
                            "evidence_only": True, "refused": refused,
                            "refused_facts": refused_facts(refusal.details),
                            # Cancelled: nothing to repeat, the cancel's own words.
                            "notice": CANCELLED_RESULT_MESSAGE if cancelled
                            else REFUSED_RESULT_MESSAGE}  # fmt: skip
    if barred:
        body["barred"] = list(barred)
    facts = {"country": account.country, "region": account.region,
             "local": at.astimezone(zone) if zone else None, "outcome": result.outcome.code,
             "door": result.party != "nadie", "rpc": result.right_party_contact}  # fmt: skip
    return Answer(200, body, facts=facts)


def skip(
    engine: Engine,
    agent: Agent,
    visit_id: int,
    key: str,
    reason: str,
    here: tuple[float, float] | None,
    now: datetime,
) -> Answer:
    """The agent cannot make this visit: off the day, the rest re-routed from `here`."""

    def operation(session: Session, visit: FieldVisit) -> Answer:
        if visit.status != VisitStatus.planned.value:
            return _state_conflict(visit)
        visit.status, visit.ended_at = VisitStatus.skipped.value, now
        route = reroute(session, agent.id, visit.day, here)
        audit.append(session, "visit_skipped",
                     {"visit_id": visit.id, "reason": reason[:MAX_SKIP_REASON],
                      "route_m": round(route.length_m)},
                     actor=agent.actor, subject=f"account:{visit.account_id}")  # fmt: skip
        account = session.get(Account, visit.account_id)
        return Answer(200, {"ok": True, "route": route.keys, "route_m": round(route.length_m)},
                      facts={"country": account.country if account else None,
                             "outcome": "skipped"})  # fmt: skip

    return once(engine, agent, key, visit_id, "skip", operation, now)


def _result_times(
    visit: FieldVisit, acted_at: datetime | None, clock: DeviceClock, received_at: datetime
) -> dict[str, Any]:
    """When a result is filed (`at`) and what it was judged from (kept in the audit)."""
    times: dict[str, Any] = {"device_at": acted_at, "received_at": received_at}
    checked_in = _aware(visit.checked_in_at) if visit.checked_in_at else None
    if acted_at is None or checked_in is None:
        return {**times, "at": received_at, "time_source": "receipt"}
    instant = judge_instant(acted_at, clock, received_at, checked_in)
    if instant.at is None:
        return {**times, "at": received_at, "time_source": "receipt", "why": instant.why}
    # Never before the arrival it follows, never after the server got it.
    at = min(max(instant.at, checked_in), received_at)
    return {**times, "at": at, "time_source": instant.source}


def _barred(session: Session, account: Account) -> tuple[str, ...]:
    """What on the account now forbids collecting on it (compliance's account reasons:
    a protected person, on this account or another of theirs; a dispute; a stop asked
    for; a debt paid or closed); () when nothing. An unreadable link fails closed."""
    reasons: list[str] = []
    if account.status in CLOSED_STATUSES or account.balance <= 0:
        reasons.append("not_delinquent")
    elif account.status in ("disputed", "cease_contact"):
        reasons.append(account.status)
    elif account.status != "active":
        reasons.append("not_delinquent")
    protection = account.protection
    if not (protection or "").strip():
        try:
            numbers = tuple(p.number_e164 for p in account.phones)
            protection = linked_protection(session.get_bind(), account.id, numbers)  # type: ignore[arg-type]
        except SQLAlchemyError:
            protection = "unknown"
    protected = protection_reason(protection)
    if protected is not None:
        reasons.append(protected)
    return tuple(reasons)


def _aware(at: datetime) -> datetime:
    """A stored instant as aware UTC (SQLite hands back naive UTC)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _state_conflict(visit: FieldVisit) -> Answer:
    reason = {
        VisitStatus.checked_in.value: "La visita ya tiene registro de llegada.",
        VisitStatus.done.value: "La visita ya tiene resultado.",
        VisitStatus.skipped.value: "La visita se omitió.",
        VisitStatus.cancelled.value: "El supervisor canceló esta visita.",
        VisitStatus.planned.value: "Primero registre la llegada al domicilio.",
    }.get(visit.status, "La visita no admite esta operación.")
    return Answer(409, {"ok": False, "reason": reason, "status": visit.status})


def _parse_at(raw: object) -> datetime | None:
    """An instant as the audit log wrote it ("...Z"); None when absent or unreadable."""
    if not isinstance(raw, str):
        return None
    try:
        return _aware(datetime.fromisoformat(raw.replace("Z", "+00:00")))
    except ValueError:
        return None


def _distance_words(metres: float, lang: str) -> str:
    """1 234 m as "1,2 km" in Spanish, "1.2 km" in English; under a km in metres."""
    if metres < 1000:
        return f"{round(metres)} m"
    return f"{metres / 1000:.1f} km".replace(".", "." if lang == "en" else ",")


def far_message(
    reason: str | None,
    distance: float,
    limit: float,
    translate: Callable[[str], str] = str,
    lang: str = "es",
) -> str:
    """The geofence's refusal of a check-in (`limit`: the radius, or for `inaccurate`
    the worst accuracy accepted), in the reader's language (`translate`, `lang`)."""
    where = _distance_words(distance, lang)
    if reason == "inaccurate":
        return (
            translate(INACCURATE_MESSAGE)
            .replace("{precision}", f"{limit:g}")
            .replace("{distancia}", where)
        )
    return translate(FAR_MESSAGE).replace("{distancia}", where).replace("{radio}", f"{limit:g}")


def refused_facts(details: dict[str, Any]) -> dict[str, Any]:
    """What the words of a refused arrival need from its evidence: the distance and
    accuracy of the fix (a far or rough one); {} for the law's or the clock's."""
    return {k: details[k] for k in ("distance_m", "accuracy_m") if details.get(k) is not None}


def refusal_words(
    reasons: Iterable[str],
    facts: dict[str, Any],
    translate: Callable[[str], str] = str,
    lang: str = "es",
) -> str:
    """Why an arrival was refused, with no advice: shown beside REFUSED_RESULT_MESSAGE
    once the result recorded at the door is kept (so the two never disagree, as the
    check-in's own refusal, told before any result, could)."""
    reasons = list(reasons)
    if reasons == [CLOCK_UNSURE]:
        return translate(CLOCK_REFUSED_WORDS)
    if reasons == ["too_far"]:
        where = _distance_words(float(facts.get("distance_m") or 0), lang)
        return translate(FAR_REFUSED_WORDS).replace("{distancia}", where)
    if reasons == [OTHER_DAY]:
        return translate(OTHER_DAY_WORDS)
    if reasons == [NO_COORDINATES]:
        return translate(NO_COORDINATES_WORDS)
    if reasons == [ZONE_UNKNOWN]:  # the law's check fails closed on it alike
        return translate(ZONE_UNKNOWN_WORDS)
    if reasons == ["inaccurate"]:
        rough = float(facts.get("accuracy_m") or 0)
        return translate(INACCURATE_REFUSED_WORDS).replace("{precision}", f"{round(rough)}")
    return compliance_message(reasons, translate)


def compliance_message(reasons: Iterable[str], translate: Callable[[str], str] = str) -> str:
    """The refusal the agent reads, each reason in words; `translate` the console's gettext."""
    said = [translate(COMPLIANCE_LABELS.get(r, OTHER)) for r in reasons]
    words = "; ".join(w[:1].lower() + w[1:] for w in said)
    return translate(COMPLIANCE_MESSAGE).replace("{motivos}", words)


def _terms(account: Account, campaign: Campaign | None, now: datetime) -> AccountTerms:
    config = (campaign.config or {}) if campaign else {}
    return AccountTerms(
        country=account.country,
        currency=account.currency,
        balance=account.balance,
        stage=account.stage,
        # The earliest of the debtor's dates (their candidate zones, else their
        # country's), as the portal, the assistant and the agent's form read a
        # promise's bounds: the first zone's date refused a promise for the debtor's
        # today in a zone still on the day before (and allowed a day more at the
        # horizon), and UTC's was tomorrow from 18:00 in Mexico City.
        today=account_day(now, account),
        promise_max_days=campaign_limits.limit(config, "promise_max_days"),
    )


def _apply(
    session: Session,
    agent: Agent,
    visit: FieldVisit,
    account: Account,
    attempt: CallAttempt,
    result: VisitResult,
    now: datetime,
    barred: tuple[str, ...] = (),
    times: dict[str, Any] | None = None,
    evidence: str | None = None,
) -> None:
    """The result's effects, as a call's disposition has them; on an account `barred`
    from collection since the check-in, the promise is evidence only (no promise row,
    nothing scheduled on it). `evidence`: all of it is evidence only (EVIDENCE_ONLY:
    the visit was cancelled meanwhile and stays so; EVIDENCE_REFUSED: its check-in
    was refused and it stays planned, untouched), no promise nor number added, but
    what restricts contact (a dispute, a stop, a payment claimed) holds."""
    late = evidence is not None
    someone = result.party != "nadie"
    attempt.result = "contact" if someone else "no_answer"
    attempt.answered_at = (visit.checked_in_at or attempt.started_at) if someone else None
    attempt.ended_at = now
    attempt.right_party_contact = result.right_party_contact
    if not late:
        visit.status = VisitStatus.done.value
    if evidence != EVIDENCE_REFUSED:  # a planned visit keeps no answers: its own are to come
        visit.ended_at, visit.answers = now, result.answers
        visit.photo, visit.photo_type = result.photo, result.photo_type
    elif result.photo is not None and visit.photo is None:
        # The photo taken at the door is evidence too, and lives nowhere else (the
        # answers are in the audit entry); a result of the visit itself replaces it.
        visit.photo, visit.photo_type = result.photo, result.photo_type
    session.add(Disposition(attempt_id=attempt.id, account_id=account.id, agent_id=agent.id,
                            party=result.party, outcome=result.outcome.code,
                            notes=result.notes, created_at=now))  # fmt: skip
    if result.notes:
        tag = {EVIDENCE_ONLY: "[visita cancelada]", EVIDENCE_REFUSED: "[llegada rechazada]"}.get(
            evidence or "", "[visita]"
        )
        session.add(Note(account_id=account.id, author_id=agent.id,
                         text=f"{tag} {result.notes}", created_at=now))  # fmt: skip
    payload: dict[str, Any] = {"attempt_id": attempt.id, "account_id": account.id,
                               "channel": "visit", "visit_id": visit.id,
                               "party": result.party, "outcome": result.outcome.code,
                               "right_party_contact": result.right_party_contact,
                               "answers": result.answers, **(times or {})}  # fmt: skip
    hold = None
    if barred:
        payload["barred"] = list(barred)
    if late:
        payload["evidence_only"] = evidence
    if (barred or late) and result.promise_amount is not None and result.promise_date is not None:
        payload["promise_not_recorded"] = {"amount": result.promise_amount,
                                           "due_date": result.promise_date}  # fmt: skip
    elif result.promise_amount is not None and result.promise_date is not None:
        session.add(Promise(account_id=account.id, attempt_id=attempt.id, agent_id=agent.id,
                            amount=result.promise_amount, currency=account.currency,
                            due_date=result.promise_date, created_at=now))  # fmt: skip
        payload["promise"] = {"amount": result.promise_amount, "due_date": result.promise_date}
        zones = date_zones(account.timezone, account.country, account.region, None)
        hold = promise_hold_until(result.promise_date, zones)
    elif result.outcome.stop_account:
        hold = now + timedelta(days=PAID_CLAIM_HOLD_DAYS)
    if hold is not None and account.later_than_its_date(hold):
        account.next_attempt_at, account.hopper_since = hold, None
        payload["hold_until"] = hold
    if result.outcome.account_status is not None:
        account.status = result.outcome.account_status
        audit.append(session, "account_change",
                     {"account_id": account.id, "status": account.status, "by": "visit"},
                     actor=agent.actor, subject=f"account:{account.id}")  # fmt: skip
    if result.new_phone:
        payload["new_phone"] = (
            "not_added" if late else _add_phone(session, account, result.new_phone, agent, now)
        )
    session.flush()
    # Written in this transaction, the status and holds bind every dialer's final
    # check at once; a queued hopper entry is blocked there (no command is sent).
    audit.append(session, "disposition", payload, actor=agent.actor,
                 subject=f"account:{account.id}")  # fmt: skip


def _add_phone(session: Session, account: Account, e164: str, agent: Agent, now: datetime) -> str:
    """A number the debtor gave at the door: on the account, without consent (so never
    dialed until consent is recorded). Returns what happened."""
    have = session.scalar(
        select(Phone.id).where(Phone.account_id == account.id, Phone.number_e164 == e164)
    )
    if have is not None:
        return "known"
    position = (session.scalar(
        select(func.max(Phone.position)).where(Phone.account_id == account.id)) or 0) + 1  # fmt: skip
    session.add(Phone(account_id=account.id, position=position, number_e164=e164,
                      phone_type="mobile", consent=False, updated_at=now))  # fmt: skip
    audit.append(session, "account_change",
                 {"account_id": account.id, "phones": [{"change": "added", "by": "visit"}]},
                 actor=agent.actor, subject=f"account:{account.id}")  # fmt: skip
    return "added"
