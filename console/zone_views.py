"""GET /api/zone: the reader's own zone (the browser's IANA id, ?tz=) as every page
names a zone (debtor_locale.zone_label: its city, "Ciudad de México"), for the times
the pages word in the browser (common.js Cobrador.when and Cobrador.hour)."""

from __future__ import annotations

from aiohttp import web

from console.day_window import ZoneError, zone_named
from console.debtor_locale import console_locale
from console.i18n import gettext_
from console.webutil import json_error, requires
from store.models import Role


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/zone", zone_name)


@requires(Role.agent, Role.supervisor, Role.auditor, Role.field)
async def zone_name(request: web.Request) -> web.StreamResponse:
    try:
        zone = zone_named(request.query.get("tz"), default="")
    except ZoneError:
        return json_error(400, gettext_("Zona horaria desconocida."), field="tz")
    return web.json_response(
        {"ok": True, "zone": zone.key, "zone_label": console_locale().zone_name(zone)}
    )
