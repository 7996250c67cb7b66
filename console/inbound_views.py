"""The agent's JSON API for inbound calls: check the caller's identity, search accounts.

Thin: parse, call console.inbound_service, serialise. The pop itself reaches the
agent over the WebSocket (console.pophub -> inbound_service.build_inbound_pop).
"""

from __future__ import annotations

import logging

from aiohttp import web

from console import document_proof as proof
from console import inbound_service as svc
from console.agent_views import _int_param, _live_attempt, read_fields
from console.i18n import gettext_
from console.keys import CLOCK, REDIS, SETTINGS
from console.pophub import VERIFIED_TTL_SECONDS, verified_key
from console.users import CurrentUser
from console.webutil import in_db, json_error, requires, user_of
from store.models import Role

log = logging.getLogger(__name__)


def document_key(request: web.Request) -> bytes | None:
    """The key that checks a debtor's document digits (the portal's), if configured."""
    return proof.document_key(request.app[SETTINGS].portal_identity_key)


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/agent/inbound/verify", verify)
    app.router.add_get("/api/agent/inbound/search", search)


async def _live_call(request: web.Request, user: CurrentUser,
                     attempt_id: int) -> tuple[svc.InboundCall, int | None]:  # fmt: skip
    """The agent's live inbound call (InboundError otherwise) and the live attempt id."""
    live = await _live_attempt(request, user)
    return await in_db(request, svc.load_call, attempt_id, user.id, live), live


@requires(Role.agent)
async def verify(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    fields = await read_fields(request)
    attempt_id = _int_param(fields.get("attempt_id"), "attempt_id")
    account_id = _int_param(fields.get("account_id"), "account_id")
    answers = {k[len("answer_") :]: v for k, v in fields.items() if k.startswith("answer_")}
    try:
        _, live = await _live_call(request, user, attempt_id)
        # Past the call's three wrong answers, 429 (counted in SQL by verify_identity).
        found, named = await in_db(request, svc.searched_accounts, attempt_id)
        allowed = set(await in_db(request, svc.attempt_accounts, attempt_id)) | found
        pop = await in_db(request, svc.verify_identity, user, attempt_id, account_id,
                          answers, request.app[CLOCK](), sorted(allowed), live,
                          named, document_key(request))  # fmt: skip
    except svc.InboundError as exc:
        log.info("agent %s: inbound verify of attempt %s refused: %s", user.id, attempt_id, exc)
        return json_error(exc.status, str(exc))
    # The caller is the titular: the page may show the account on reload too.
    await request.app[REDIS].set(verified_key(attempt_id), "titular", ex=VERIFIED_TTL_SECONDS)
    return web.json_response({"ok": True, "pop": pop})


@requires(Role.agent)
async def search(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    attempt_id = _int_param(request.query.get("attempt_id"), "attempt_id")
    query = request.query.get("q", "")
    try:
        call, live = await _live_call(request, user, attempt_id)
        # Whose call first: another agent's id is the missing id's 404, never a count;
        # past svc.MAX_SEARCHES, 429 (counted in SQL by search_accounts).
        country = await in_db(request, svc.campaign_country, call.campaign_id)
        found = await in_db(request, svc.search_accounts, user, attempt_id, query, country, live,
                            document_key(request))  # fmt: skip
    except svc.InboundError as exc:
        return json_error(exc.status, str(exc))
    # What was found, and how, is in the search's audit entry (svc.searched_accounts).
    for f in found:
        f.pop("by_reference")
    return web.json_response(
        {"ok": True, "accounts": found, "none": gettext_("Sin resultados") if not found else ""}
    )
