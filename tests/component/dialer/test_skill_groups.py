"""`cobrador skill-group ...` and `cobrador campaign skill-group` as an operator runs
them, and inbound routing reading the groups they write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from support.inbound_support import DID, Pops, wire_inbound

from cobrador.cli import main
from compliance.transparency.verify import verify
from dialer.agent_state import AgentState
from dialer.inbound.skills import add_agents, create_group, member_ids, set_campaign_group
from store.db import make_engine
from store.models import AuditEntry, Campaign, User


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> Engine:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert main(["campaign", "create", "mx", "--country", "MX"]) == 0
    assert main(["campaign", "create", "co", "--country", "CO"]) == 0
    engine = make_engine(database_url)
    with Session(engine) as s, s.begin():
        s.add_all([User(username="ana", role="agent", password_hash="-"),
                   User(username="beto", role="agent", password_hash="-"),
                   User(username="ida", role="agent", password_hash="-", active=False),
                   User(username="olga", role="auditor", password_hash="-")])  # fmt: skip
    return engine


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err


def _group_of(engine: Engine, campaign: str) -> str | None:
    with Session(engine) as s:
        row = s.scalar(select(Campaign).where(Campaign.name == campaign))
        assert row is not None
        return ((row.config or {}).get("inbound") or {}).get("skill_group")


def _changes(engine: Engine, kind: str) -> list[dict[str, object]]:
    with Session(engine) as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.kind == kind).order_by(AuditEntry.id))
        return [json.loads(r.payload) for r in rows]


def _ids(engine: Engine, *names: str) -> set[int]:
    with Session(engine) as s:
        return set(s.scalars(select(User.id).where(User.username.in_(names))))


def test_given_a_group_when_agents_added_and_named_on_a_campaign_then_routing_sees_them_and_all_is_audited(
    env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    assert main(["skill-group", "create", "mora-temprana", "--description", "tempranos"]) == 0
    assert main(["skill-group", "add", "mora-temprana", "ana", "beto", "ida"]) == 0
    assert "3 agent(s) added" in capsys.readouterr().out
    assert main(["skill-group", "add", "mora-temprana", "ana"]) == 0
    assert "already in it: ana" in capsys.readouterr().out
    assert main(["campaign", "skill-group", "mx", "mora-temprana"]) == 0
    assert main(["campaign", "skill-group", "co", "mora-temprana"]) == 0
    assert _group_of(env, "mx") == "mora-temprana"
    # An inactive agent never takes a call.
    assert member_ids(env, "mora-temprana") == _ids(env, "ana", "beto")
    assert main(["skill-group", "remove", "mora-temprana", "beto"]) == 0
    assert member_ids(env, "mora-temprana") == _ids(env, "ana")
    capsys.readouterr()
    assert main(["skill-group", "list"]) == 0
    listing = capsys.readouterr().out
    assert "mora-temprana\ttempranos" in listing
    assert "agents: ana, ida" in listing and "campaigns: co, mx" in listing
    assert main(["campaign", "skill-group", "mx", "--none"]) == 0
    assert _group_of(env, "mx") is None

    groups = _changes(env, "skill_group_change")
    assert [g.get("created") or g.get("added") or g.get("removed") for g in groups] == [
        True, ["ana", "beto", "ida"], ["beto"]
    ]  # fmt: skip
    campaigns = [c for c in _changes(env, "campaign_change") if "skill_group" in c]
    assert [(c["campaign"], c["skill_group"], c["previous_skill_group"]) for c in campaigns] == [
        ("mx", "mora-temprana", None), ("co", "mora-temprana", None),
        ("mx", None, "mora-temprana"),
    ]  # fmt: skip
    assert verify(env).ok


def test_given_a_group_named_by_campaigns_when_deleted_then_refused_unless_forced_and_cleared(
    env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["skill-group", "create", "legal"]) == 0
    assert main(["skill-group", "add", "legal", "ana"]) == 0
    assert main(["campaign", "skill-group", "mx", "legal"]) == 0
    capsys.readouterr()
    assert main(["skill-group", "delete", "legal"]) == 2
    err = _err(capsys)
    assert "named by campaign(s) mx" in err and "--force" in err
    assert _group_of(env, "mx") == "legal" and member_ids(env, "legal") == _ids(env, "ana")

    assert main(["skill-group", "delete", "legal", "--force"]) == 0
    assert "campaign mx no longer names a skill group" in capsys.readouterr().out
    assert _group_of(env, "mx") is None
    assert member_ids(env, "legal") == set()
    deleted = _changes(env, "skill_group_change")[-1]
    assert deleted == {"group": "legal", "deleted": True, "agents": ["ana"],
                       "cleared_campaigns": ["mx"]}  # fmt: skip
    assert _changes(env, "campaign_change")[-1]["previous_skill_group"] == "legal"
    # A group nobody names goes without --force.
    assert main(["skill-group", "create", "spare"]) == 0
    assert main(["skill-group", "delete", "spare"]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["skill-group", "create", "Mora Temprana"], "lower-case letters"),
        (["skill-group", "create", "g"], "already exists"),
        (["skill-group", "add", "nope", "ana"], "no skill group named 'nope'; existing: g"),
        (["skill-group", "add", "g", "ana", "zoe", "yoli"], "unknown agent(s): zoe, yoli"),
        (["skill-group", "add", "g", "olga"], "not agents, only agents take calls: olga (auditor)"),
        (["skill-group", "remove", "g", "beto"], "not in skill group 'g': beto"),
        (["skill-group", "remove", "g", "zoe"], "unknown agent(s): zoe"),
        (["skill-group", "delete", "nope"], "no skill group named 'nope'"),
        (["campaign", "skill-group", "nope", "g"], "no campaign named 'nope'"),
        (["campaign", "skill-group", "mx", "nope"], "no skill group named 'nope'"),
    ],
)
def test_given_bad_input_then_clear_error_and_nothing_changes(
    env: Engine, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["skill-group", "create", "g"]) == 0
    assert main(["skill-group", "add", "g", "ana"]) == 0
    capsys.readouterr()
    before = len(_changes(env, "skill_group_change")) + len(_changes(env, "campaign_change"))
    assert main(argv) == 2
    assert message in _err(capsys)
    after = len(_changes(env, "skill_group_change")) + len(_changes(env, "campaign_change"))
    assert after == before
    assert member_ids(env, "g") == _ids(env, "ana")
    assert _group_of(env, "mx") is None


def test_given_campaign_rules_naming_an_unknown_group_then_create_refused(
    env: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[inbound]\nskill_group = "fantasma"\n')
    assert main(["campaign", "create", "pe", "--country", "PE", "--rules", str(rules)]) == 2
    assert "inbound.skill_group: no skill group named 'fantasma'" in _err(capsys)
    bad = tmp_path / "bad.toml"
    bad.write_text('[inbound]\nverification = ["shoe_size"]\n')
    assert main(["campaign", "create", "pe", "--country", "PE", "--rules", str(bad)]) == 2
    assert "unknown prompts" in _err(capsys)
    assert main(["skill-group", "create", "fantasma"]) == 0
    assert main(["campaign", "create", "pe", "--country", "PE", "--rules", str(rules)]) == 0
    assert _group_of(env, "pe") == "fantasma"


async def test_given_campaign_names_a_group_when_a_debtor_calls_then_the_group_agent_of_another_campaign_takes_it(
    make_floor, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    floor = await make_floor(accounts=1, agents=2)
    wire_inbound(floor)
    with Session(engine) as s, s.begin():
        other = Campaign(name="co-other", country="CO", profile="CO", dial_mode="progressive",
                         status="stopped", caller_ids=[], config={})  # fmt: skip
        s.add(other)
        s.flush()
        s.add(User(username="gina", role="agent", password_hash="-", campaign_id=other.id))
    create_group(engine, "especial")
    add_agents(engine, "especial", ["gina"])
    set_campaign_group(engine, "mx-test", "especial")
    gina = _ids(engine, "gina").pop()
    # The campaign's own agents have been ready longer: without the group they would win.
    await floor.agents.login(gina, "co-other")
    await floor.agents.set_ready(gina)
    pops = Pops(floor.redis)
    await pops.start()
    floor.pbx.inbound_call(DID, next(iter(floor.numbers.values())))
    pop = await pops.next()
    assert pop["type"] == "inbound" and pop["agent_id"] == gina
    assert (await floor.agents.get(gina)).state is AgentState.talking
    await pops.close()
