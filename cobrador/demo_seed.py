"""Synthetic but realistic demo data: accounts in Mexico (several time zones),
Colombia and Peru, consents with evidence ids, some references, a sample REUS
list, contact history, campaigns and users. Written as CSV files and loaded
through the real imports, so the demo exercises the same paths as production."""

from __future__ import annotations

import csv
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from compliance import caller_ids
from compliance.debtor_time import debtor_day
from compliance.registry_import import import_registry
from console import break_admin
from console.users import CurrentUser, create_user
from field import plans
from field.visit_rules import VisitCheck
from store import audit
from store.importing.accounts import import_accounts
from store.importing.attempts import import_attempts
from store.models import Account, AccountStatus, CallAttempt, Campaign

FIRST = ["María", "José", "Juan", "Guadalupe", "Luis", "Ana", "Carlos", "Sofía", "Jorge", "Lucía",
         "Miguel", "Fernanda", "Andrés", "Valentina", "Diego", "Camila", "Ricardo", "Paola"]  # fmt: skip
LAST = ["Hernández", "García", "Martínez", "López", "González", "Rodríguez", "Pérez", "Sánchez",
        "Ramírez", "Torres", "Flores", "Quispe", "Mamani", "Gómez", "Díaz", "Castillo", "Vargas"]  # fmt: skip
# Region -> national prefixes of valid numbers there (mobile first).
REGIONS = {
    "MX": [("MX-CMX", "55"), ("MX-JAL", "33"), ("MX-NLE", "81"), ("MX-SON", "662"), ("MX-ROO", "998"),
           ("MX-BCN", "664"), ("MX-CHH", "614"), ("MX-YUC", "999"), ("MX-SIN", "667")],
    "CO": [("CO-DC", "310"), ("CO-ANT", "311"), ("CO-VAC", "315"), ("CO-ATL", "300")],
    "PE": [("PE-LIM", "9"), ("PE-ARE", "9"), ("PE-LAL", "9")],
}  # fmt: skip
CURRENCY = {"MX": "MXN", "CO": "COP", "PE": "PEN"}
BALANCE = {"MX": (800, 90_000), "CO": (200_000, 25_000_000), "PE": (150, 15_000)}
COUNTRY_MIX = ["MX"] * 6 + ["CO"] * 2 + ["PE"] * 2
CAMPAIGNS = {
    "MX": ("cobranza-mx", "predictive", "525550001000", "Banco Ejemplo, S.A.",
           "Pague en cualquier sucursal o por SPEI a la CLABE 012180001234567891 con su número de "
           "cuenta como referencia. El gestor no puede recibir pagos."),
    "CO": ("cobranza-co", "progressive", "576015550100", "Financiera Ejemplo S.A.S.",
           "Pague por PSE o en corresponsales bancarios con su número de obligación."),
    "PE": ("cobranza-pe", "progressive", "5115550100", "Caja Ejemplo",
           "Pague en agentes o por banca por internet con su código de cliente."),
}  # fmt: skip
# Who calls (the opening of every call and the mandatory identification).
AGENCIES = {
    "MX": {"agency": "Despacho Ejemplo, S.C.", "agency_phone": "55 5000 1000",
           "agency_address": "Av. Paseo de la Reforma 100, Ciudad de México"},
    "CO": {"agency": "Gestión Ejemplo S.A.S.", "agency_phone": "601 555 0100",
           "agency_address": "Calle 72 # 10-20, Bogotá"},
    "PE": {"agency": "Cobranzas Ejemplo S.A.C.", "agency_phone": "01 555 0100",
           "agency_address": "Av. Javier Prado 100, Lima"},
}  # fmt: skip

# The staged strategy every demo campaign runs (docs/outreach.md): messages on the
# simulated gateways, calls through the hopper; never into legal.
DEMO_STRATEGY = {"stages": {
    "friendly": {"steps": [
        {"day": 0, "channel": "sms", "template": "recordatorio"},
        {"day": 2, "channel": "email", "template": "recordatorio"},
        {"day": 4, "channel": "call"},
        {"event": "promise_made", "channel": "sms", "template": "confirmacion_promesa"},
        {"event": "promise_due", "days_before": 1, "channel": "whatsapp",
         "template": "recordatorio_promesa"},
        {"event": "promise_broken", "channel": "sms", "template": "promesa_incumplida"},
    ]},
    "firm": {"enter_days_past_due": 30, "enter_after_days": 14, "steps": [
        {"day": 0, "channel": "whatsapp", "template": "aviso_firme"},
        {"day": 3, "channel": "email", "template": "aviso_firme"},
        {"day": 5, "channel": "call"},
        {"event": "promise_made", "channel": "sms", "template": "confirmacion_promesa"},
    ]},
    "prelegal": {"enter_days_past_due": 90, "steps": [
        {"day": 0, "channel": "email", "template": "aviso_prejudicial"},
        {"day": 2, "channel": "call"},
        {"event": "promise_made", "channel": "email", "template": "confirmacion_promesa"},
    ]},
}}  # fmt: skip


def demo_messages(country: str) -> dict[str, object]:
    agency = AGENCIES[country]
    # SMS shows an 11-character sender ID, not the agency's full name.
    return {"sender": agency["agency"], "sms_sender": "COBRADOR", "phone": agency["agency_phone"],
            "portal_url": "https://pagos.cobrador.demo/p"}  # fmt: skip


@dataclass
class SeedResult:
    accounts: int
    passwords: dict[str, str]
    campaigns: list[str]


def _number(rng: random.Random, country: str, prefix: str) -> str:
    if country == "MX":
        return prefix + "".join(str(rng.randrange(10)) for _ in range(10 - len(prefix)))
    if country == "CO":
        return prefix + "".join(str(rng.randrange(10)) for _ in range(7))
    return "9" + "".join(str(rng.randrange(1, 10)) for _ in range(8))


def write_accounts_csv(
    path: Path, n: int, now: datetime, rng: random.Random
) -> tuple[list[str], list[str]]:
    """Returns (MX numbers for the sample REUS list, refs for contact history)."""
    header = ["external_ref", "debtor_name", "country", "region", "balance", "currency", "due_date",
              "status", "stage", "phone_1", "phone_1_type", "phone_1_consent", "phone_1_consent_ref",
              "phone_2", "phone_2_type", "phone_2_consent", "phone_2_consent_ref", "producto",
              "phone_1_channels", "email", "email_consent", "email_consent_ref",
              "address", "latitude", "longitude"]  # fmt: skip
    reus: list[str] = []
    history: list[str] = []
    geo = random.Random(20261205)  # its own stream: the rest of the seed stays as it was
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for i in range(n):
            country = COUNTRY_MIX[i % len(COUNTRY_MIX)]
            region, prefix = rng.choice(REGIONS[country])
            lo, hi = BALANCE[country]
            due = (
                now - timedelta(days=rng.choice([8, 15, 25, 40, 60, 75, 100, 130, 170, 210]))
            ).date()
            status = rng.choices(["active", "disputed", "cease_contact", "paid"], [94, 2, 2, 2])[0]
            stage = "legal" if rng.random() < 0.02 else ""
            p1 = _number(rng, country, prefix)
            consent = rng.random() < 0.88
            evidence = (
                rng.choice(["GRAB", "CONTRATO", "WEB-OPTIN", "APP"])
                + f"-{rng.randrange(10**6):06d}"
            )
            p2 = p2_type = p2_consent = p2_ref = ""
            if rng.random() < 0.35:
                p2 = _number(rng, country, prefix)
                p2_type = rng.choice(["guarantor", "reference", "work", "home"])
                if p2_type != "reference" and rng.random() < 0.7:
                    p2_consent, p2_ref = "yes", f"CONTRATO-{rng.randrange(10**6):06d}"
            ref = f"{country}-{100000 + i}"
            w.writerow([ref, f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.choice(LAST)}", country,
                        region, f"{rng.randrange(lo, hi)}.{rng.randrange(100):02d}", CURRENCY[country],
                        due.isoformat(), status, stage, p1, "mobile", "yes" if consent else "no",
                        evidence if consent else "", p2, p2_type, p2_consent, p2_ref,
                        rng.choice(["tarjeta", "préstamo personal", "crédito auto", "nómina"]),
                        *_channel_cells(i, consent),
                        *(_cdmx_address(geo, i) if region == "MX-CMX" else ("", "", ""))])  # fmt: skip
            if country == "MX" and rng.random() < 0.06:
                reus.append("+52" + p1)
            if rng.random() < 0.2:
                history.append(f"{ref},{p1}")
    return reus, history


def _channel_cells(i: int, consent: bool) -> list[str]:
    """What the debtor authorised besides calls (docs/channels.md): from the row's
    index, not the random stream, so the rest of the seed stays as it was."""
    channels = ("call;sms;whatsapp" if i % 3 else "call;sms") if consent else ""
    if i % 2:
        return [channels, "", "", ""]
    return [channels, f"deudor{i}@example.com", "yes", f"WEB-OPTIN-MAIL-{i:06d}"]


# Mexico City neighbourhoods (colonia, alcaldía, postal code, centre lat, lon) and
# streets: the demo's Mexico City debtors live within a kilometre of one of them.
COLONIAS = [
    ("Roma Norte", "Cuauhtémoc", "06700", 19.4194, -99.1617),
    ("Condesa", "Cuauhtémoc", "06140", 19.4118, -99.1737),
    ("Del Valle Centro", "Benito Juárez", "03100", 19.3857, -99.1670),
    ("Narvarte Poniente", "Benito Juárez", "03020", 19.3967, -99.1560),
    ("Coyoacán Centro", "Coyoacán", "04000", 19.3500, -99.1617),
    ("Portales Norte", "Benito Juárez", "03300", 19.3680, -99.1480),
    ("Lindavista", "Gustavo A. Madero", "07300", 19.4890, -99.1320),
    ("Santa María la Ribera", "Cuauhtémoc", "06400", 19.4500, -99.1580),
    ("Escandón", "Miguel Hidalgo", "11800", 19.4030, -99.1800),
    ("Iztacalco", "Iztacalco", "08000", 19.3960, -99.0970),
]
STREETS = ["Calle Orizaba", "Calle Durango", "Av. Insurgentes Sur", "Calle Tlacotalpan",
           "Calle Amores", "Calle Pitágoras", "Calle Londres", "Calle Sabino", "Av. Cuauhtémoc",
           "Calle Manzanillo", "Calle Zacatecas", "Calle Vértiz"]  # fmt: skip


def _cdmx_address(rng: random.Random, i: int) -> tuple[str, str, str]:
    """A plausible Mexico City address and its coordinates (within ~1 km of a colonia's
    centre, inside Mexico's bounds): what the field map and the field app show."""
    colonia, alcaldia, cp, lat, lon = COLONIAS[i % len(COLONIAS)]
    street = rng.choice(STREETS)
    address = (
        f"{street} {rng.randrange(10, 400)}, Col. {colonia}, {alcaldia}, {cp} Ciudad de México"
    )
    return (address, f"{lat + rng.uniform(-0.009, 0.009):.6f}",
            f"{lon + rng.uniform(-0.009, 0.009):.6f}")  # fmt: skip


def write_history_csv(path: Path, rows: list[str], now: datetime, rng: random.Random) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("external_ref,phone,started_at,result\n")
        for row in rows:
            for _ in range(rng.randrange(1, 4)):
                when = now - timedelta(days=rng.randrange(2, 20), minutes=rng.randrange(600))
                result = rng.choice(["no_answer", "no_answer", "busy", "machine", "contact"])
                fh.write(f"{row},{when.isoformat(timespec='seconds')},{result}\n")


def write_reus(path: Path, numbers: list[str]) -> None:
    path.write_text("\n".join(numbers or ["+525500000000"]) + "\n", encoding="utf-8")


FIELD_AGENT = "campo1"
FIELD_VISITS = 6  # planned for the field agent on the demo's first day


def seed(engine: Engine, redis_client: redis.Redis, data_dir: Path, *, accounts: int, agents: int,
         bots: int, now: datetime, progress: Callable[[str], None],
         visit_check: VisitCheck | None = None, field_zone: str = "") -> SeedResult:  # fmt: skip
    """`visit_check` and `field_zone` (the zone of the console's field day): the field
    agent's visits planned for today through the planning service; without them none is."""
    rng = random.Random(20261124)
    data_dir.mkdir(parents=True, exist_ok=True)
    progress(f"generating {accounts} accounts in Mexico, Colombia and Peru")
    reus, history = write_accounts_csv(data_dir / "accounts.csv", accounts, now, rng)
    write_history_csv(data_dir / "history.csv", history, now, rng)
    write_reus(data_dir / "reus.txt", reus)
    progress("importing accounts (the same validation as `cobrador import accounts`)")
    result = import_accounts(engine, data_dir / "accounts.csv", actor="demo",
                             debtor_day=debtor_day, clock=lambda: now)  # fmt: skip
    if not result.written:
        raise RuntimeError(f"demo accounts did not import: {result.errors[:3]}")
    progress("importing contact history")
    import_attempts(
        engine, data_dir / "history.csv", actor="demo", clock=lambda: now, skip_invalid=True
    )
    load_reus(engine, redis_client, data_dir, now)
    progress("creating campaigns and users")
    names = []
    with Session(engine) as s, s.begin():
        for country, (name, mode, caller_id, creditor, instructions) in CAMPAIGNS.items():
            # The registered set a campaign shows its caller ID from (CONDUSEF/REDECO).
            caller_ids.add(s, caller_id, country, f"DEMO-{country}-0001", actor="demo")
            campaign = Campaign(name=name, country=country, profile=country, dial_mode=mode,
                                status="running", caller_ids=[caller_id],
                                config={"creditor": creditor, "payment_instructions": instructions,
                                        **AGENCIES[country], "strategy": DEMO_STRATEGY,
                                        "messages": demo_messages(country)})  # fmt: skip
            s.add(campaign)
            s.flush()
            # In their first stage since the demo's (simulated) now: day 0 of the strategy.
            s.execute(
                update(Account).where(Account.country == country)
                .values(campaign_id=campaign.id, stage_entered_at=now)
            )  # fmt: skip
            audit.append(s, "campaign_change", {"campaign": name, "created": True, "mode": mode},
                         actor="demo", subject=f"campaign:{campaign.id}")  # fmt: skip
            names.append(name)
    passwords: dict[str, str] = {}
    roles: list[tuple[str, str, str | None]] = [
        (f"agente{i}", "agent", "cobranza-mx") for i in range(1, agents + 1)
    ]
    roles += [(f"bot{i}", "agent", bot_campaign(i)) for i in range(1, bots + 1)]
    roles += [
        (FIELD_AGENT, "field", None),
        ("supervisor", "supervisor", None),
        ("auditor", "auditor", None),
        ("admin", "admin", None),
    ]
    users: dict[str, CurrentUser] = {}
    for username, role, campaign_name in roles:
        password = secrets.token_urlsafe(9)
        users[username] = create_user(
            engine, username, role, password, display_name=username.capitalize(),
            campaign=campaign_name, actor="demo",
            territory="CDMX" if role == "field" else None,
        )  # fmt: skip
        if not username.startswith("bot"):
            passwords[username] = password
    if visit_check is not None and field_zone:
        plan_field_day(engine, users[FIELD_AGENT].id, users["supervisor"].id,
                       now.astimezone(ZoneInfo(field_zone)), visit_check, progress)  # fmt: skip
    plan_breaks(engine, [users[f"agente{i}"].id for i in range(1, agents + 1)],
                users["supervisor"], now, progress)  # fmt: skip
    return SeedResult(accounts=result.created, passwords=passwords, campaigns=names)


def plan_field_day(engine: Engine, agent_id: int, planner_id: int, now: datetime,
                   check: VisitCheck, progress: Callable[[str], None]) -> plans.PlanOutcome:  # fmt: skip
    """A few visits for the field agent on `now`'s day (`now` in the field day's zone)
    through the normal planning service: compliance decides each (a decision row and
    its audit entry); a refused one is not planned."""
    day = now.date()
    with Session(engine) as s:
        ids = list(s.scalars(
            select(Account.id).where(Account.country == "MX", Account.latitude.is_not(None),
                                     Account.status == AccountStatus.active.value)
            .order_by(Account.id).limit(FIELD_VISITS)
        ))  # fmt: skip
    if not ids:
        return plans.PlanOutcome()
    outcome = plans.assign(engine, planner_id, "demo", agent_id, day, ids, check, now)
    progress(f"planned {len(outcome.planned)} field visits for {day.isoformat()} "
             f"({len(outcome.refused)} refused by compliance)")  # fmt: skip
    return outcome


EVERY_DAY = frozenset(range(7))  # the demo may be started on any day (`--at`)
SHORT_BREAK = ("break", 15)  # reason, minutes: soon after the demo's start
LUNCH = ("comida", 60)
LUNCH_AT = (14 * 60, 15 * 60)  # local minutes, alternating: half the floor at a time


def plan_breaks(engine: Engine, agent_ids: list[int], planner: CurrentUser, now: datetime,
                progress: Callable[[str], None]) -> int:  # fmt: skip
    """Each demo agent's break plan, through the supervisors' service (checked and
    audited), in the floor's zone: a short break within the first hour of the demo's
    clock, staggered a quarter of an hour per agent, and a lunch at 14:00 or 15:00.
    The bots get none: their floor keeps moving. A break that would overlap another
    (a start near lunch) moves an hour on."""
    planned = 0
    for n, agent_id in enumerate(agent_ids):
        zone = break_admin.plan_of(engine, planner, agent_id).default_zone
        local = now.astimezone(ZoneInfo(zone))
        # The next half hour at least 20 minutes ahead, then this agent's quarter.
        soon = local.hour * 60 + local.minute + 20
        soon = (soon + 29) // 30 * 30 + 15 * (n % 4)
        wanted = [(LUNCH, LUNCH_AT[n % 2]), (SHORT_BREAK, soon)]
        for (reason, minutes), start in wanted:
            for shift in range(4):
                new = break_admin.NewBreak((start + 60 * shift) % (24 * 60), minutes, EVERY_DAY,
                                           reason, zone)  # fmt: skip
                try:
                    break_admin.add_break(engine, planner, agent_id, new, now)
                except break_admin.BreakInputError:
                    continue
                planned += 1
                break
    progress(f"planned {planned} scheduled breaks for {len(agent_ids)} agents (/supervisor/breaks)")
    return planned


def bot_campaign(i: int) -> str:
    """Bots work Mexico mostly, and keep the smaller campaigns moving too."""
    return ["cobranza-mx", "cobranza-co", "cobranza-pe", "cobranza-mx"][(i - 1) % 4]


def load_reus(engine: Engine, redis_client: redis.Redis, data_dir: Path, now: datetime) -> None:
    """The sample REUS list, loaded at every start: a real center loads a fresh one daily."""
    import_registry(engine, redis_client, name="reus", path=data_dir / "reus.txt", country="MX",
                    actor="demo", now=now)  # fmt: skip


def seeded(engine: Engine) -> bool:
    with Session(engine) as s:
        return s.execute(select(Campaign.id).limit(1)).first() is not None


def latest_attempt_at(engine: Engine) -> datetime | None:
    """When the data's last contact attempt started (the demo's clock wrote it), UTC."""
    with Session(engine) as s:
        latest = s.scalar(select(func.max(CallAttempt.started_at)))
    if latest is None:
        return None
    return latest if latest.tzinfo else latest.replace(tzinfo=UTC)
