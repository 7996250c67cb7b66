"""The portal's pages through the console app: nothing about the debt before the
identity check, forged/expired links and locked gates refused with a reason, every
action's bad input a 4xx with nothing written, PII views audited."""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session
from support.dialer_floor import load_reus
from support.selfservice_seed import (
    DIGITS,
    IDENTITY_KEY,
    LINK_SECRET,
    NOW,
    PHONE,
    PortalSeed,
    seed_portal,
)

from cobrador.ground.settings import Settings
from console.app import init_app
from outreach.links import LinkSigner
from selfservice import debtor_actions as da
from selfservice import identity as idc
from store.models import (
    Account,
    AuditEntry,
    CallAttempt,
    Callback,
    ContactOptOut,
    PaymentPlan,
    Phone,
    PortalGate,
    PortalSession,
    Promise,
    SupervisorTask,
    User,
)

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
SIGNER = LinkSigner("https://pagos.example.mx/p", LINK_SECRET)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def seeded(engine: Engine) -> PortalSeed:
    return seed_portal(engine)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def portal_settings(settings: Settings) -> Settings:
    return settings.with_overrides(
        portal_link_secret=base64.b64encode(LINK_SECRET).decode(),
        portal_identity_key=base64.b64encode(IDENTITY_KEY).decode(),
    )


@pytest.fixture
async def web(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seeded: PortalSeed, clock: Clock,
) -> TestClient:  # fmt: skip
    return await aiohttp_client(init_app(portal_settings(settings), engine, aredis, clock=clock))


def token(account_id: int, at: datetime = NOW) -> str:
    return SIGNER.token(account_id, at)


async def csrf(client: TestClient, path: str) -> str:
    resp = await client.get(path)
    match = CSRF.search(await resp.text())
    assert match, path
    return match.group(1)


async def enter(client: TestClient, account_id: int, digits: str = DIGITS) -> Any:
    tok = token(account_id)
    form = {"digits": digits, "_csrf": await csrf(client, f"/p/{tok}")}
    return await client.post(f"/p/{tok}", data=form, allow_redirects=False)


async def post(client: TestClient, path: str, **form: str) -> Any:
    form["_csrf"] = await csrf(client, "/p/cuenta")
    return await client.post(path, data=form, allow_redirects=False)


def rows(engine: Engine, model: Any) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def pii_views(engine: Engine) -> int:
    with Session(engine) as s:
        return int(
            s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.kind == "pii_view")) or 0
        )


# ---- the way in --------------------------------------------------------------------


async def test_given_a_valid_link_when_opened_then_only_the_identity_question(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    resp = await web.get(f"/p/{token(seeded.account_id)}")
    text = await resp.text()
    assert resp.status == 200 and 'name="digits"' in text
    for secret in ("María", "6,000", "6000", seeded.ref, "Pague en BBVA"):
        assert secret not in text
    assert resp.headers["Cache-Control"] == "no-store"
    assert pii_views(engine) == 0


@pytest.mark.parametrize("bad", ["A" * 39, token(1)[:-2] + "AA"])
async def test_given_a_forged_link_when_opened_then_400_with_a_reason(
    web: TestClient, seeded: PortalSeed, bad: str
) -> None:
    resp = await web.get(f"/p/{bad}")
    assert resp.status == 400 and "no es válido" in await resp.text()


async def test_given_an_expired_link_when_opened_then_410_and_the_reference_way_offered(
    web: TestClient, seeded: PortalSeed
) -> None:
    old = token(seeded.account_id, NOW - timedelta(days=4))
    resp = await web.get(f"/p/{old}")
    assert resp.status == 410 and 'href="/p"' in await resp.text()
    resp = await web.post(f"/p/{old}", data={"digits": DIGITS, "_csrf": "x"})
    assert resp.status in (403, 410)


async def test_given_the_right_digits_when_entered_then_the_account_and_a_pii_view(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    resp = await enter(web, seeded.account_id)
    assert resp.status == 303 and resp.headers["Location"] == "/p/cuenta"
    page = await web.get("/p/cuenta")
    text = await page.text()
    assert page.status == 200 and "$6,000.00" in text and "María" in text
    assert "Pague en BBVA" in text and "Capital" in text
    assert pii_views(engine) == 1
    with Session(engine) as s:
        [entry] = s.scalars(select(CallAttempt)).all()
    assert entry.details == {"debtor_action": "identified", "gate": "link:"}
    english = await (await web.get("/p/cuenta?lang=en")).text()
    assert "Promise a payment" in english and "Balance" in english


async def test_given_three_wrong_answers_when_entered_then_the_link_locks(
    web: TestClient, seeded: PortalSeed
) -> None:
    first = await enter(web, seeded.account_id, "0000")
    assert first.status == 400 and "2" in await first.text()
    assert (await enter(web, seeded.account_id, "0001")).status == 400
    assert (await enter(web, seeded.account_id, "0002")).status == 403
    assert (await enter(web, seeded.account_id, DIGITS)).status == 403
    assert (await web.get(f"/p/{token(seeded.account_id)}")).status == 403
    assert (await web.get("/p/cuenta", allow_redirects=False)).status == 303


async def test_given_two_links_of_one_account_when_guessed_then_three_answers_in_all(
    web: TestClient, seeded: PortalSeed
) -> None:
    """Each link the account was sent gave three answers of its own at the same four
    digits: wrong answers through any link count on the account's shared row."""
    first, second = token(seeded.account_id), token(seeded.account_id, NOW - timedelta(hours=1))
    assert first != second

    async def answer(tok: str, digits: str) -> Any:
        form = {"digits": digits, "_csrf": await csrf(web, f"/p/{tok}")}
        return await web.post(f"/p/{tok}", data=form, allow_redirects=False)

    assert (await answer(first, "0000")).status == 400
    assert (await answer(first, "0001")).status == 400
    third = await answer(second, "0002")
    # A new link would not help: the page says the account's access is locked, call us.
    assert third.status == 403 and "acceso en línea a su cuenta" in await third.text()
    page = await web.get(f"/p/{first}")
    assert page.status == 403 and "Llámenos: lo desbloqueamos" in await page.text()
    assert (await answer(second, DIGITS)).status == 403
    form = {"ref": seeded.ref, "digits": DIGITS, "_csrf": await csrf(web, "/p")}
    assert (await web.post("/p", data=form, allow_redirects=False)).status == 403
    assert (await web.get("/p/cuenta", allow_redirects=False)).status == 303


async def test_given_a_stranger_guessing_by_reference_then_that_way_locks_and_the_debtors_link_stays_open(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    """The reference is printed on every letter: three wrong answers at /p locked the
    account's shared row, and with it for a day every link the debtor was sent and the
    agents' document check (nine: until a supervisor). The anonymous way in now counts
    on its own row: the guesser is stopped there (the right digits refused too), the
    debtor's own link still opens the account."""

    async def by_reference(digits: str) -> int:
        form = {"ref": seeded.ref, "digits": digits, "_csrf": await csrf(web, "/p")}
        return (await web.post("/p", data=form, allow_redirects=False)).status

    assert [await by_reference(d) for d in ("0000", "0001", "0002", DIGITS)] == [403] * 4
    assert not idc.gate_locked(engine, idc.reference_gate(seeded.account_id), NOW)
    page = await web.get(f"/p/{token(seeded.account_id)}")
    assert page.status == 200 and 'name="digits"' in await page.text()
    assert (await enter(web, seeded.account_id)).status == 303
    assert (await web.get("/p/cuenta", allow_redirects=False)).status == 200


def spellings(tok: str) -> list[str]:
    """The other spellings of a token's bytes: its last base64 character carries two
    bits no byte uses, and a lax decoder reads all four alike."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(tok[-1])
    return [tok[:-1] + alphabet[index ^ low] for low in (1, 2, 3)]


async def test_given_a_locked_link_when_its_last_character_is_respelled_then_still_refused(
    web: TestClient, seeded: PortalSeed
) -> None:
    """An attacker holding a link must not get three fresh guesses per spelling of it."""
    tok = token(seeded.account_id)
    for digits in ("0000", "0001", "0002"):
        form = {"digits": digits, "_csrf": await csrf(web, f"/p/{tok}")}
        await web.post(f"/p/{tok}", data=form, allow_redirects=False)
    assert (await web.get(f"/p/{tok}")).status == 403
    for other in spellings(tok):
        assert (await web.get(f"/p/{other}")).status == 400, other
        form = {"digits": DIGITS, "_csrf": await csrf(web, "/p")}
        resp = await web.post(f"/p/{other}", data=form, allow_redirects=False)
        assert resp.status == 400 and "no es válido" in await resp.text(), other
    assert (await web.get("/p/cuenta", allow_redirects=False)).status == 303


@pytest.mark.parametrize(("digits", "status"), [("12", 400), ("abcd", 400), ("1" * 3000, 413)])
async def test_given_a_malformed_or_oversized_answer_when_entered_then_4xx_not_counted(
    web: TestClient, seeded: PortalSeed, digits: str, status: int
) -> None:
    assert (await enter(web, seeded.account_id, digits)).status == status
    assert (await enter(web, seeded.account_id, DIGITS)).status == 303


async def test_given_no_csrf_when_posting_then_403(web: TestClient, seeded: PortalSeed) -> None:
    resp = await web.post(f"/p/{token(seeded.account_id)}", data={"digits": DIGITS})
    assert resp.status == 403


async def test_given_the_reference_way_when_wrong_or_unknown_then_the_same_answer(
    web: TestClient, seeded: PortalSeed
) -> None:
    answers = []
    for ref, digits in ((seeded.ref, "0000"), ("MX-NOPE", DIGITS), ("x" * 500, DIGITS)):
        form = {"ref": ref, "digits": digits, "_csrf": await csrf(web, "/p")}
        resp = await web.post("/p", data=form, allow_redirects=False)
        answers.append((resp.status, "no coinciden" in await resp.text()))
    assert answers == [(403, True)] * 3
    form = {"ref": seeded.ref, "digits": DIGITS, "_csrf": await csrf(web, "/p")}
    resp = await web.post("/p", data=form, allow_redirects=False)
    assert resp.status == 303


async def test_given_a_guesser_rotating_ipv6_addresses_of_one_64_then_throttled_as_one(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seeded: PortalSeed, clock: Clock,
) -> None:  # fmt: skip
    """Behind the operator's proxy, one IPv6 subscriber (a /64) writing a fresh source
    address for every guess at references is one client to the throttle."""
    proxied = portal_settings(settings).with_overrides(trusted_proxies="127.0.0.1, ::1")
    client = await aiohttp_client(init_app(proxied, engine, aredis, clock=clock))
    statuses = []
    for i in range(idc.ADDRESS_FAILURES + 1):
        form = {"ref": f"MX-GUESS-{i}", "digits": "0000", "_csrf": await csrf(client, "/p")}
        resp = await client.post("/p", data=form, allow_redirects=False,
                                 headers={"X-Forwarded-For": f"2001:db8:1:2::{i + 1:x}"})  # fmt: skip
        statuses.append(resp.status)
    assert statuses == [403] * idc.ADDRESS_FAILURES + [429]
    # Another subscriber is not held back by it.
    form = {"ref": seeded.ref, "digits": DIGITS, "_csrf": await csrf(client, "/p")}
    resp = await client.post("/p", data=form, allow_redirects=False,
                             headers={"X-Forwarded-For": "2001:db8:9:9::1"})  # fmt: skip
    assert resp.status == 303


async def test_given_no_session_or_an_old_one_when_the_account_is_asked_then_back_to_the_way_in(
    web: TestClient, seeded: PortalSeed, clock: Clock
) -> None:
    assert (await web.get("/p/cuenta", allow_redirects=False)).headers["Location"] == "/p?ended=1"
    await enter(web, seeded.account_id)
    clock.now = NOW + timedelta(minutes=21)
    resp = await web.get("/p/cuenta", allow_redirects=False)
    assert resp.status == 303


async def test_given_a_debtor_who_keeps_using_the_portal_then_the_session_goes_on_up_to_an_hour(
    web: TestClient, seeded: PortalSeed, clock: Clock
) -> None:
    await enter(web, seeded.account_id)
    for minute in (15, 30, 45, 59):  # a page every 15 minutes: never 20 idle
        clock.now = NOW + timedelta(minutes=minute)
        assert (await web.get("/p/cuenta", allow_redirects=False)).status == 200, minute
    clock.now = NOW + timedelta(minutes=61)  # an hour after the check: over, used or not
    resp = await web.get("/p/cuenta", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/p?ended=1"


async def test_given_only_the_chat_poll_then_the_session_ends_after_20_idle_minutes(
    web: TestClient, seeded: PortalSeed, clock: Clock
) -> None:
    await enter(web, seeded.account_id)
    for minute in (5, 10, 15, 19):  # the page left open: its poll is not the debtor
        clock.now = NOW + timedelta(minutes=minute)
        assert (await web.get("/p/cuenta/chat/mensajes?c=0&after=0")).status == 200
    # A count str.isdigit() takes and int() refuses was a 500: read as none.
    assert (await web.get("/p/cuenta/chat/mensajes?c=²&after=²")).status == 200
    clock.now = NOW + timedelta(minutes=21)
    assert (await web.get("/p/cuenta/chat/mensajes?c=0&after=0")).status == 401
    resp = await web.get("/p/cuenta", allow_redirects=False)
    assert resp.headers["Location"] == "/p?ended=1"


async def test_given_a_copied_cookie_when_the_debtor_leaves_then_the_copy_stops_at_once(
    web: TestClient, seeded: PortalSeed, engine: Engine, clock: Clock
) -> None:
    """Leaving ("Salir") ends the session server-side: a cookie copied before (a shared computer,
    a stolen phone's backup) is refused on its next request, long before the idle limit."""
    assert (await enter(web, seeded.account_id)).status == 303
    copied = {cookie.key: cookie.value for cookie in web.session.cookie_jar}
    resp = await post(web, "/p/salir")
    assert resp.status == 303 and resp.headers["Location"] == "/p?ended=1"
    web.session.cookie_jar.update_cookies(copied)  # the thief's browser
    clock.now = NOW + timedelta(minutes=1)
    resp = await web.get("/p/cuenta", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/p?ended=1"
    web.session.cookie_jar.update_cookies(copied)
    assert (await web.get("/p/cuenta/chat/mensajes?c=0&after=0")).status == 401
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(PortalSession)
                        .where(PortalSession.ended_at.is_(None))) == 0  # fmt: skip


async def test_given_a_second_check_in_one_browser_then_the_first_session_ends(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    await enter(web, seeded.account_id)
    await enter(web, seeded.account_id)
    with Session(engine) as s:
        live = s.scalars(select(PortalSession).where(PortalSession.ended_at.is_(None))).all()
    assert len(live) == 1


async def test_given_no_portal_secrets_when_opened_then_503(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, engine: Engine,
    aredis: aioredis.Redis, seeded: PortalSeed,
) -> None:  # fmt: skip
    client = await aiohttp_client(init_app(settings, engine, aredis, clock=Clock()))
    assert (await client.get(f"/p/{token(seeded.account_id)}")).status == 503


# ---- actions -----------------------------------------------------------------------


async def test_given_a_plan_option_when_chosen_then_promises_and_the_page_says_so(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    await enter(web, seeded.account_id)
    resp = await post(web, "/p/cuenta/plan", option="monthly-3")
    assert resp.status == 303
    page = await (await web.get(resp.headers["Location"])).text()
    assert "quedó registrado" in page
    assert rows(engine, Promise) == 3


@pytest.mark.parametrize(
    "form",
    [
        {"option": "monthly-13"},
        {
            "option": "custom",
            "instalments": "13",
            "interval": "monthly",
            "first_date": "2026-12-01",
        },
        {"option": "custom", "instalments": "3", "interval": "weekly", "first_date": "2026-12-01"},
        {"option": "custom", "instalments": "3", "interval": "monthly", "first_date": "2026-01-01"},
        {
            "option": "custom",
            "instalments": "-3",
            "interval": "monthly",
            "first_date": "2026-12-01",
        },
        {"option": "custom", "instalments": "3", "interval": "monthly", "first_date": "mañana"},
        # Digits to str.isdigit, not to int(): "²" was a ValueError, a 500.
        {"option": "custom", "instalments": "²", "interval": "monthly", "first_date": "2026-12-01"},
        {"option": "monthly-²"},
    ],
)
async def test_given_a_plan_outside_the_rules_when_posted_then_400_and_nothing(
    web: TestClient, seeded: PortalSeed, engine: Engine, form: dict[str, str]
) -> None:
    await enter(web, seeded.account_id)
    resp = await post(web, "/p/cuenta/plan", **form)
    assert resp.status == 400 and 'role="alert"' in await resp.text()
    assert rows(engine, PaymentPlan) == 0


async def test_given_a_plan_above_the_automatic_limit_when_chosen_then_it_waits(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    await enter(web, seeded.account_id)
    resp = await post(web, "/p/cuenta/plan", option="monthly-12")
    page = await (await web.get(resp.headers["Location"])).text()
    assert "supervisor" in page and rows(engine, Promise) == 0


@pytest.mark.parametrize(("status", "shown"), [("rejected", "Rechazado"), ("kept", "Cumplido"),
                                               ("broken", "Incumplido")])  # fmt: skip
async def test_given_a_plan_decided_when_the_debtor_looks_then_its_state_in_words_never_the_code(
    web: TestClient, seeded: PortalSeed, engine: Engine, status: str, shown: str
) -> None:
    await enter(web, seeded.account_id)
    await post(web, "/p/cuenta/plan", option="monthly-12")
    with Session(engine) as session, session.begin():
        session.execute(PaymentPlan.__table__.update().values(status=status))
    page = await (await web.get("/p/cuenta")).text()
    plans = page[page.index('id="plans"') :].split("</ul>")[0]
    assert shown in plans and status not in plans


@pytest.mark.parametrize(
    ("form", "status"),
    [({"amount": "0", "due": "2026-11-30"}, 400), ({"amount": "100", "due": "2027-11-30"}, 400),
     ({"amount": "100", "due": ""}, 400), ({"amount": "9" * 3000, "due": "2026-11-30"}, 413)],
)  # fmt: skip
async def test_given_a_bad_promise_when_posted_then_4xx_and_nothing(
    web: TestClient, seeded: PortalSeed, engine: Engine, form: dict[str, str], status: int
) -> None:
    await enter(web, seeded.account_id)
    assert (await post(web, "/p/cuenta/promesa", **form)).status == status
    assert rows(engine, Promise) == 0


async def test_given_a_callback_outside_the_window_when_posted_then_400_inside_303(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    await enter(web, seeded.account_id)
    for bad in (
        "2026-11-25T03:00:00-06:00",
        "2026-11-25T03:00",
        "ayer",
        "2026-11-24T10:00:00-06:00",
    ):
        assert (await post(web, "/p/cuenta/llamada", when=bad)).status == 400, bad
    assert rows(engine, Callback) == 0
    resp = await post(web, "/p/cuenta/llamada", when="2026-11-24T14:00:00-06:00")
    assert resp.status == 303 and rows(engine, Callback) == 1
    page = await (await web.get("/p/cuenta")).text()  # the debtor sees what they asked for
    assert "Le llamaremos: mar 24 de nov, 14:00 (hora de Ciudad de México)" in page


async def test_given_the_account_when_shown_then_dates_and_times_in_the_debtors_locale(
    web: TestClient, seeded: PortalSeed
) -> None:
    await enter(web, seeded.account_id)
    page = await (await web.get("/p/cuenta")).text()
    assert "1 de septiembre de 2026" in page and "2026-09-01" not in page  # the due date
    assert "desde 1 de diciembre de 2026" in page  # the plans offered
    assert "Hora (hora de Ciudad de México)" in page  # the callback slots, their zone named
    assert ">mar 24 de nov, 12:00</option>" in page
    assert 'placeholder="dd/mm/aaaa"' in page  # a browser without a date picker
    english = await (await web.get("/p/cuenta?lang=en")).text()
    assert "September 1, 2026" in english and "Time (Mexico City time)" in english
    assert ">Tue, Nov 24, 12:00</option>" in english


@pytest.mark.parametrize(
    ("lang", "typed", "status", "says"),
    [
        ("es", "2026-12-05", 303, ""),  # what a date picker posts
        ("es", "05/12/2026", 303, ""),  # typed where there is no picker: day first
        ("es", "12/05/2026", 400, "La fecha no puede estar en el pasado."),  # 12 May, not 5 Dec
        ("es", "12/25/2026", 400, "no es una fecha: escríbala como dd/mm/aaaa"),
        ("es", "5/12/26", 400, "cuatro cifras"),
        ("es", "", 400, "Elija una fecha."),
        ("en", "05/12/2026", 400, "could be December 5, 2026 or May 12, 2026"),
        ("en", "2026-12-05", 303, ""),
    ],
)
async def test_given_a_typed_promise_date_when_posted_then_read_as_one_day_or_refused(
    web: TestClient, seeded: PortalSeed, engine: Engine, lang: str, typed: str, status: int,
    says: str,
) -> None:  # fmt: skip
    await enter(web, seeded.account_id)
    await web.get(f"/p/cuenta?lang={lang}")
    resp = await post(web, "/p/cuenta/promesa", amount="500.00", due=typed)
    assert resp.status == status
    if says:
        assert says in (await resp.text()).replace("&#34;", '"').replace("&#39;", "'")
    with Session(engine) as s:
        due = s.scalars(select(Promise.due_date)).all()
    assert [d.isoformat() for d in due] == (["2026-12-05"] if status == 303 else [])


async def test_given_a_dispute_when_posted_then_disputed_task_and_documents(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    doc = da.attach_document(engine, seeded.ref, "Contrato firmado", "contrato.pdf",
                             "application/pdf", b"%PDF-1.4 contrato", "operator", NOW)  # fmt: skip
    other = da.attach_document(engine, "MX-P002", "Otro", "otro.pdf", "application/pdf",
                               b"%PDF other", "operator", NOW)  # fmt: skip
    await enter(web, seeded.account_id)
    assert (await web.get(f"/p/cuenta/documentos/{doc}")).status == 404  # not before a dispute
    assert (await post(web, "/p/cuenta/disputa", kind="hack", text="")).status == 400
    assert (await post(web, "/p/cuenta/disputa", kind="denies", text="x" * 2001)).status == 413
    resp = await post(web, "/p/cuenta/disputa", kind="denies", text="No es mía")
    assert resp.status == 303
    page = await (await web.get("/p/cuenta")).text()
    assert "Contrato firmado" in page and 'id="promise"' not in page
    assert "(17 bytes)" in page  # a few bytes are bytes, not "0.0 KB"
    download = await web.get(f"/p/cuenta/documentos/{doc}")
    assert download.status == 200 and await download.read() == b"%PDF-1.4 contrato"
    assert "attachment" in download.headers["Content-Disposition"]
    for bad in (str(other), "abc", "9" * 30, "²", "١"):  # isdigit() but not int(): a 500
        assert (await web.get(f"/p/cuenta/documentos/{bad}")).status == 404
    with Session(engine) as s:
        assert s.get(Account, seeded.account_id).status == "disputed"  # type: ignore[union-attr]
        assert s.scalar(select(func.count(SupervisorTask.id))) == 1


async def test_given_an_sms_opt_out_when_posted_then_recorded_and_shown(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    await enter(web, seeded.account_id)
    assert (await post(web, "/p/cuenta/canales", channel="fax")).status == 400
    resp = await post(web, "/p/cuenta/canales", channel="sms")
    assert resp.status == 303
    page = await (await web.get("/p/cuenta")).text()
    assert 'id="stop-sms"' not in page and 'id="stop-whatsapp"' in page
    assert rows(engine, ContactOptOut) == 1


async def test_given_a_portal_opt_out_when_authorised_again_then_allowed_and_a_foreign_stop_stays(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    await enter(web, seeded.account_id)
    await post(web, "/p/cuenta/canales", channel="sms")
    page = await (await web.get("/p/cuenta")).text()
    assert 'id="allow-sms"' in page
    for bad in ("fax", "whatsapp"):  # unknown; never stopped
        assert (await post(web, "/p/cuenta/canales/autorizar", channel=bad)).status == 400
    resp = await post(web, "/p/cuenta/canales/autorizar", channel="sms")
    assert resp.status == 303 and "ok=opt_in" in resp.headers["Location"]
    page = await (await web.get("/p/cuenta?ok=opt_in")).text()
    assert "Registramos su autorización" in page and 'id="stop-sms"' in page
    # A stop the operator recorded: no button; asking anyway is refused with a reason.
    with Session(engine) as s, s.begin():
        from compliance.opt_outs import record_opt_out

        record_opt_out(s, channel="email", source="operator", evidence={"note": "carta"},
                       actor="cli", account_id=seeded.account_id, at=NOW)  # fmt: skip
    page = await (await web.get("/p/cuenta")).text()
    assert 'id="allow-email"' not in page and "Para autorizarlo de nuevo, llámenos." in page
    resp = await post(web, "/p/cuenta/canales/autorizar", channel="email")
    assert resp.status == 400 and "llámenos" in await resp.text()
    with Session(engine) as s:
        assert (
            s.scalars(select(Account.opted_out).where(Account.id == seeded.account_id)).one()
            == "email"
        )


def channel_states(page: str) -> dict[str, str]:
    """Each channel's word on the portal ("autorizado", "no autorizado", "no se usa")."""
    found = re.findall(r'data-channel="(\w+)"><span>[^:<]*:\s*(?:<strong>)?([^<]+?)\s*<', page)
    return dict(found)


def blocked_lines(page: str) -> dict[str, str]:
    return dict(re.findall(r'id="blocked-(\w+)">([^<]*)<', page))


async def test_given_a_number_on_reus_when_the_account_is_shown_then_each_channel_says_why_not(
    web: TestClient, seeded: PortalSeed, engine: Engine, redis_url: str, tmp_path: Path
) -> None:
    load_reus(engine, redis_url, tmp_path, [PHONE], NOW)
    await enter(web, seeded.account_id)
    lines = blocked_lines(await (await web.get("/p/cuenta")).text())
    assert lines["call"] == ("No le llamaremos: su número está en el REUS. Para dejar de estar "
                             "inscrito, pídalo a la CONDUSEF (condusef.gob.mx).")  # fmt: skip
    assert lines["sms"].startswith("No le enviaremos SMS: su número está en el REUS.")
    # Not stopped, not used: never "autorizado" beside "we will not call you".
    assert channel_states(await (await web.get("/p/cuenta")).text())["call"] == "no se usa"
    english = blocked_lines(await (await web.get("/p/cuenta?lang=en")).text())
    assert english["call"].startswith("We will not call you: your number is on REUS.")
    # A channel the debtor stopped says so already: no second line for it.
    await web.get("/p/cuenta?lang=es")
    await post(web, "/p/cuenta/canales", channel="sms")
    lines = blocked_lines(await (await web.get("/p/cuenta")).text())
    assert "sms" not in lines and "call" in lines


async def test_given_a_clean_number_when_the_account_is_shown_then_no_call_line_and_none_at_night(
    web: TestClient, seeded: PortalSeed, engine: Engine, redis_url: str, tmp_path: Path,
    clock: Clock,
) -> None:  # fmt: skip
    load_reus(engine, redis_url, tmp_path, [], NOW)
    clock.now = NOW.replace(hour=7)  # 01:00 in Mexico City: outside hours is not a standing block
    await enter(web, seeded.account_id)
    page = await (await web.get("/p/cuenta")).text()
    lines = blocked_lines(page)
    assert "call" not in lines and "sms" not in lines and "whatsapp" not in lines
    states = channel_states(page)
    assert states["call"] == states["sms"] == states["whatsapp"] == "autorizado"


async def test_given_a_listed_reference_or_a_second_number_when_shown_then_no_line(
    web: TestClient, seeded: PortalSeed, engine: Engine, redis_url: str, tmp_path: Path
) -> None:
    # A reference's number (not the debtor's fact) and the debtor's second number are on
    # REUS; the debtor's first number is not: calls still reach the debtor there.
    with Session(engine) as s, s.begin():
        s.add_all([
            Phone(account_id=seeded.account_id, number_e164="+525512349901", position=2,
                  phone_type="reference", consent=True, consent_ref="f-2", channels="call"),
            Phone(account_id=seeded.account_id, number_e164="+525512349902", position=3,
                  phone_type="mobile", consent=True, consent_ref="f-3", channels="call"),
        ])  # fmt: skip
    load_reus(engine, redis_url, tmp_path, ["+525512349901", "+525512349902"], NOW)
    await enter(web, seeded.account_id)
    lines = blocked_lines(await (await web.get("/p/cuenta")).text())
    assert "call" not in lines and "sms" not in lines
    # Both of the debtor's numbers closed: the line speaks of them, never of the
    # reference's listing.
    with Session(engine) as s, s.begin():
        first = s.scalars(select(Phone).where(Phone.number_e164 == PHONE)).one()
        first.consent = False
    lines = blocked_lines(await (await web.get("/p/cuenta")).text())
    assert lines["call"] == ("No le llamaremos: su número está en el REUS. Para dejar de estar "
                             "inscrito, pídalo a la CONDUSEF (condusef.gob.mx).")  # fmt: skip
    with Session(engine) as s, s.begin():
        second = s.scalars(select(Phone).where(Phone.number_e164 == "+525512349902")).one()
        second.phone_type = "guarantor"  # the guarantor's number: not the debtor's fact
    lines = blocked_lines(await (await web.get("/p/cuenta")).text())
    assert "REUS" not in lines["call"] and "su autorización" in lines["call"]


async def test_given_a_number_without_consent_or_a_dispute_when_shown_then_that_reason(
    web: TestClient, seeded: PortalSeed, engine: Engine, redis_url: str, tmp_path: Path
) -> None:
    load_reus(engine, redis_url, tmp_path, [], NOW)
    with Session(engine) as s, s.begin():
        for phone in s.scalars(select(Phone).where(Phone.account_id == seeded.account_id)):
            phone.consent = False
    await enter(web, seeded.account_id)
    lines = blocked_lines(await (await web.get("/p/cuenta")).text())
    assert lines["call"].endswith("no tenemos su autorización para contactarle en su número. "
                                  "Para darla, llámenos.")  # fmt: skip
    with Session(engine) as s, s.begin():
        account = s.get(Account, seeded.account_id)
        assert account is not None
        account.status = "disputed"
    lines = blocked_lines(await (await web.get("/p/cuenta")).text())
    # Said once for the whole account, not once per channel.
    assert lines == {"account": "No le contactaremos por ningún medio: su cuenta está en "
                                "disputa mientras la revisamos."}  # fmt: skip
    english = blocked_lines(await (await web.get("/p/cuenta?lang=en")).text())
    assert list(english) == ["account"] and "dispute" in english["account"]


async def test_given_a_supervisor_when_a_dispute_is_open_then_the_task_is_listed_and_closed(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    da.open_dispute(engine, da.Debtor(seeded.account_id), "paid", "Pagué el 3 de octubre", NOW)
    from argon2 import PasswordHasher

    with Session(engine) as s, s.begin():
        s.add(User(username="sofia", display_name="Sofía", role="supervisor",
                   password_hash=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("x" * 12)))  # fmt: skip
    login = {"username": "sofia", "password": "x" * 12, "_csrf": await csrf(web, "/login")}
    assert (await web.post("/login", data=login, allow_redirects=False)).status == 302
    page = await (await web.get("/supervisor/tasks")).text()
    assert "Pagué el 3 de octubre" in page and seeded.ref in page
    # Before the browser says its zone (no JS): UTC, named; the page asks again with it.
    assert "24 nov 2026, 17:00" in page and "Horas en UTC." in page
    assert "/static/local_zone.js" in page
    page = await (await web.get("/supervisor/tasks?tz=America/Mexico_City")).text()
    assert "24 nov 2026, 11:00" in page and "24 nov 2026, 17:00" not in page
    # The zone is said once, by its city, above the list; never its id beside each time.
    assert re.findall(r'id="tasks-zone">([^<]*)<', page) == ["Horas en Ciudad de México."]
    assert re.findall(r"<td>(<time[^>]*>[^<]*</time>)</td>", page) == [
        '<time datetime="2026-11-24T17:00+00:00">24 nov 2026, 11:00</time>']  # fmt: skip
    assert ">America/Mexico_City" not in page and "America/Mexico_City<" not in page
    english = await (await web.get("/supervisor/tasks?tz=America/Mexico_City&lang=en")).text()
    assert "Times in Mexico City." in english and "Nov 24, 2026, 11:00" in english
    await web.get("/supervisor/tasks?lang=es")  # the language sticks to the session
    for bad in ("Mars/Olympus", "../etc/passwd", "x" * 200):
        resp = await web.get("/supervisor/tasks", params={"tz": bad})
        assert resp.status == 400 and "Zona horaria desconocida." in await resp.text(), bad
    task_id = re.search(r'data-task="(\d+)"', page).group(1)  # type: ignore[union-attr]
    token_ = CSRF.search(page).group(1)  # type: ignore[union-attr]
    resp = await web.post(f"/supervisor/tasks/{task_id}/done?tz=America/Mexico_City",
                          data={"_csrf": token_}, allow_redirects=False)  # fmt: skip
    assert resp.status == 303
    assert resp.headers["Location"] == "/supervisor/tasks?tz=America/Mexico_City"
    assert da.open_tasks(engine, None) == []
    assert (
        await web.post(f"/supervisor/tasks/{task_id}/done", data={"_csrf": token_})
    ).status == 404
    for bad in ("²", "١"):  # digits to str.isdigit(); "²" is none to int(): was a 500
        assert (
            await web.post(f"/supervisor/tasks/{bad}/done", data={"_csrf": token_})
        ).status == 404


async def test_given_a_reference_held_after_many_wrong_answers_then_a_supervisor_unlocks_it(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    """Wrong answers from ever new addresses hold the reference (the debtor reads the
    same words as for a wrong answer or an unknown reference, which say to call); a
    supervisor's task opens it again once the debtor has been identified by phone."""
    gate = idc.entry_gate(seeded.account_id)  # the anonymous way in's own row
    with Session(engine) as s, s.begin():
        s.merge(PortalGate(key=gate, account_id=seeded.account_id, failures=0,
                           total_failures=idc.REFERENCE_HOLD_FAILURES - 1, created_at=NOW))  # fmt: skip
    pages = []
    for ref, digits in ((seeded.ref, "0000"), (seeded.ref, DIGITS), ("MX-NOPE", DIGITS)):
        form = {"ref": ref, "digits": digits, "_csrf": await csrf(web, "/p")}
        resp = await web.post("/p", data=form, allow_redirects=False)
        text = await resp.text()
        pages.append((resp.status, "Llámenos: lo desbloqueamos" in text))
    assert pages == [(403, True)] * 3
    from argon2 import PasswordHasher

    with Session(engine) as s, s.begin():
        s.add(User(username="sofia", display_name="Sofía", role="supervisor",
                   password_hash=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("x" * 12)))  # fmt: skip
    login = {"username": "sofia", "password": "x" * 12, "_csrf": await csrf(web, "/login")}
    assert (await web.post("/login", data=login, allow_redirects=False)).status == 302
    page = await (await web.get("/supervisor/tasks")).text()
    assert "Acceso al portal bloqueado" in page and "Desbloquear acceso" in page
    task_id = re.search(r'data-task="(\d+)"', page).group(1)  # type: ignore[union-attr]
    token_ = CSRF.search(page).group(1)  # type: ignore[union-attr]
    resp = await web.post(f"/supervisor/tasks/{task_id}/done", data={"_csrf": token_},
                          allow_redirects=False)  # fmt: skip
    assert resp.status == 303 and da.open_tasks(engine, None) == []
    assert not idc.gate_locked(engine, gate, NOW)
    await web.post("/logout", data={"_csrf": token_}, allow_redirects=False)
    form = {"ref": seeded.ref, "digits": DIGITS, "_csrf": await csrf(web, "/p")}
    assert (await web.post("/p", data=form, allow_redirects=False)).status == 303


async def test_given_a_csrf_token_read_before_the_identity_check_then_refused_inside(
    web: TestClient, seeded: PortalSeed
) -> None:
    """The token changes when the check passes (as the console's login does): a token
    read before it (a page left open on a shared computer, a cookie planted in the
    browser) posts nothing in the debtor's name."""
    tok = token(seeded.account_id)
    before = await csrf(web, f"/p/{tok}")
    resp = await web.post(f"/p/{tok}", data={"digits": DIGITS, "_csrf": before},
                          allow_redirects=False)  # fmt: skip
    assert resp.status == 303
    assert await csrf(web, "/p/cuenta") != before
    stale = await web.post("/p/cuenta/llamada", data={"_csrf": before}, allow_redirects=False)
    assert stale.status == 403


async def test_given_no_postal_address_when_shown_then_the_letter_line_and_a_letter_stop(
    web: TestClient, seeded: PortalSeed, engine: Engine, redis_url: str, tmp_path: Path
) -> None:
    load_reus(engine, redis_url, tmp_path, [], NOW)
    await enter(web, seeded.account_id)
    lines = blocked_lines(await (await web.get("/p/cuenta")).text())
    assert lines["letter"] == ("No le enviaremos cartas: no tenemos su dirección postal. "
                               "Para darnos una, llámenos.")  # fmt: skip
    english = blocked_lines(await (await web.get("/p/cuenta?lang=en")).text())
    assert english["letter"] == ("We will not send you letters: we have no postal address of "
                                 "yours. To give us one, call us.")  # fmt: skip
    await web.get("/p/cuenta?lang=es")
    with Session(engine) as s, s.begin():
        account = s.get(Account, seeded.account_id)
        assert account is not None
        account.address = "Av. Insurgentes Sur 1000, CDMX"
    page = await (await web.get("/p/cuenta")).text()
    assert "letter" not in blocked_lines(page) and 'id="stop-letter"' in page
    resp = await post(web, "/p/cuenta/canales", channel="letter")
    assert resp.status == 303
    page = await (await web.get("/p/cuenta")).text()
    assert 'id="stop-letter"' not in page and 'id="allow-letter"' in page
    with Session(engine) as s:
        assert (
            s.scalars(select(Account.opted_out).where(Account.id == seeded.account_id)).one()
            == "letter"
        )


async def test_given_the_account_page_then_each_date_input_says_its_allowed_days_in_words(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    # NOW is 24 Nov 2026 in Mexico City; promises at most 15 days away (the campaign's
    # rules), a plan's first payment at most 10.
    from store.models import Campaign

    with Session(engine) as s, s.begin():
        campaign = s.get(Campaign, seeded.campaign_id)
        assert campaign is not None
        plans = {**campaign.config["payment_plans"], "max_first_days": 10}
        campaign.config = {**campaign.config, "payment_plans": plans}
    await enter(web, seeded.account_id)
    page = await (await web.get("/p/cuenta")).text()
    due = re.search(r'<input id="due"[^>]*>', page)
    assert due is not None and 'min="2026-11-24" max="2026-12-09"' in due.group(0)
    assert 'aria-describedby="due-hint"' in due.group(0)
    assert re.findall(r'id="due-hint">([^<]*)<', page) == [
        "Elija una fecha entre el 24 de noviembre de 2026 y el 9 de diciembre de 2026."]  # fmt: skip
    first = re.search(r'<input id="first_date"[^>]*>', page)
    assert first is not None and 'min="2026-11-24" max="2026-12-04"' in first.group(0)
    assert 'aria-describedby="first_date-hint"' in first.group(0)
    assert re.findall(r'id="first_date-hint">([^<]*)<', page) == [
        "Elija una fecha entre el 24 de noviembre de 2026 y el 4 de diciembre de 2026."]  # fmt: skip
    english = await (await web.get("/p/cuenta?lang=en")).text()
    assert re.findall(r'id="due-hint">([^<]*)<', english) == [
        "Choose a date between November 24, 2026 and December 9, 2026."]  # fmt: skip
    assert re.findall(r'id="first_date-hint">([^<]*)<', english) == [
        "Choose a date between November 24, 2026 and December 4, 2026."]  # fmt: skip


def delete_account(engine: Engine, account_id: int) -> None:
    with Session(engine) as s:
        s.execute(delete(Account).where(Account.id == account_id))
        s.commit()


async def test_given_a_valid_link_of_an_account_deleted_since_then_410_in_spanish_or_english(
    web: TestClient, seeded: PortalSeed, engine: Engine
) -> None:
    """A link signed for an account deleted since: a page that says so (410), not a
    503 from the gate row's foreign key, never the identity question; no answer
    counted, no session."""
    tok = token(seeded.account_id)
    form = {"digits": DIGITS, "_csrf": await csrf(web, f"/p/{tok}")}
    delete_account(engine, seeded.account_id)
    page = await web.get(f"/p/{tok}")
    text = await page.text()
    assert page.status == 410 and "Cuenta no disponible" in text and 'name="digits"' not in text
    answered = await web.post(f"/p/{tok}", data=form, allow_redirects=False)
    assert answered.status == 410
    assert "ya no está disponible en línea" in await answered.text()
    english = await web.get(f"/p/{tok}?lang=en")
    assert english.status == 410 and "no longer available online" in await english.text()
    assert rows(engine, PortalGate) == 0 and rows(engine, PortalSession) == 0


def deleted_right_after(
    engine: Engine, account_id: int, fn: Callable[..., Any]
) -> Callable[..., Any]:
    """`fn` (a unit of work of the portal's, run by the view) as it is, the account
    deleted just after its first run: the other request that deletes it, injected
    between the view's steps."""
    runs: list[int] = []

    def run(*args: Any) -> Any:
        result = fn(*args)
        if not runs:
            runs.append(1)
            delete_account(engine, account_id)
        return result

    return run


@pytest.mark.parametrize("between", ["existence and identity check", "check and session"])
async def test_given_the_links_account_deleted_while_the_answer_is_checked_then_410_not_503(
    web: TestClient, seeded: PortalSeed, engine: Engine, monkeypatch: pytest.MonkeyPatch,
    between: str,
) -> None:  # fmt: skip
    """The account still existed when the answer's view looked it up and is gone when
    it writes the gate row (or the session, after the right digits): the same 410
    page as a link whose account was deleted before, not the 503 'inténtelo de nuevo'
    of the rows' foreign key. No session, and the browser holds none."""
    from console import portal_views

    tok = token(seeded.account_id)
    form = {"digits": DIGITS, "_csrf": await csrf(web, f"/p/{tok}")}
    step = "_account_exists" if between == "existence and identity check" else "_check"
    real = getattr(portal_views, step)
    monkeypatch.setattr(portal_views, step, deleted_right_after(engine, seeded.account_id, real))

    answered = await web.post(f"/p/{tok}", data=form, allow_redirects=False)

    assert answered.status == 410
    assert "ya no está disponible en línea" in await answered.text()
    assert rows(engine, PortalSession) == 0
    with Session(engine) as s:
        assert s.get(Account, seeded.account_id) is None  # the injection did delete it
    assert (await web.get("/p/cuenta", allow_redirects=False)).status == 303


async def test_given_the_referenced_account_deleted_while_the_answer_is_checked_then_the_no_match_page(
    web: TestClient, seeded: PortalSeed, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By reference the page never says whether an account exists: one deleted after
    its reference was looked up is answered as an unknown reference (403), not 503."""
    from console import portal_views

    form = {"ref": seeded.ref, "digits": DIGITS, "_csrf": await csrf(web, "/p")}
    real = portal_views._account_by_ref
    monkeypatch.setattr(portal_views, "_account_by_ref",
                        deleted_right_after(engine, seeded.account_id, real))  # fmt: skip

    answered = await web.post("/p", data=form, allow_redirects=False)

    assert answered.status == 403 and "Los datos no coinciden" in await answered.text()
    assert rows(engine, PortalSession) == 0
