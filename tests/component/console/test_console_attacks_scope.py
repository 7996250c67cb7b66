"""Attacks by a supervisor tied to one campaign: what the console tells them about the
accounts of another campaign when they type its reference."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from console_fixtures import Seed, login
from sqlalchemy import Engine
from test_supervisor_scope import tie

FORMS = {
    "protection": ("/supervisor/protection", {"protection": "minor"}),
    "third_party_number": ("/supervisor/third-party-number", {"number": "55 1234 0001"}),
}


@pytest.mark.parametrize("form", FORMS)
async def test_given_another_campaigns_reference_then_answered_as_one_that_does_not_exist(
    client: TestClient, engine: Engine, seed: Seed, form: str
) -> None:
    """The protection forms said "a campaign you do not supervise" (403) for a reference
    of another campaign and "does not exist" (404) for one of none: a supervisor tied to
    one campaign learnt which references the others hold, and typed names' outcomes."""
    tie(engine, "sofia", "co-demo")
    token = await login(client, "sofia")
    path, fields = FORMS[form]
    answers = []
    for ref in ("MX-0001", "MX-9999"):  # MX-0001 is mx-demo's, MX-9999 nobody's
        resp = await client.post(path, data={"_csrf": token, "account": ref, **fields},
                                 allow_redirects=False)  # fmt: skip
        page = (await resp.text()).replace(ref, "REF")
        answers.append((resp.status, page))
    assert answers[0][0] == 404
    assert answers[0] == answers[1]
