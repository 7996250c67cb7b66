"""Values no form of the console sends, typed into its parameters by hand: each is a
4xx with its reason, never a 5xx."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from console_fixtures import Seed, login

# The browser's zone (?tz=): the zone database holds folders too ("America/Argentina"),
# and ZoneInfo on one raised IsADirectoryError, an OSError: answered 503, "service not
# available", as if Redis or SQL were down (and logged as such).
ZONE_ROUTES = {
    "ana": ("/api/zone", "/api/agent/figures"),
    "sofia": ("/api/supervisor/agents?campaign=mx-demo", "/supervisor/tasks"),
}
FOLDERS = ("America", "Etc", "America/Argentina", "America/Indiana")


@pytest.mark.parametrize("user", ZONE_ROUTES)
@pytest.mark.parametrize("folder", FOLDERS)
async def test_given_a_folder_of_the_zone_database_as_the_zone_then_400_not_503(
    client: TestClient, seed: Seed, user: str, folder: str
) -> None:
    await login(client, user)
    for path in ZONE_ROUTES[user]:
        joiner = "&" if "?" in path else "?"
        resp = await client.get(f"{path}{joiner}tz={folder}", allow_redirects=False)
        assert resp.status == 400, (path, resp.status)
        assert "Zona horaria desconocida" in await resp.text()
