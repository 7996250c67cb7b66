"""`cobrador portal identities|attach|unlock` and `cobrador outreach link`: what an
operator runs to open the portal to debtors; bad files exit 2 with nothing stored."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from support.ports import free_port
from support.selfservice_seed import IDENTITY_KEY, LINK_SECRET, PortalSeed, seed_portal

from cobrador.cli import main
from cobrador.ground.kept_keys import PORTAL_IDENTITY, PORTAL_LINK, kept_console_secret, kept_key
from cobrador.ground.settings import Settings
from outreach.links import verify
from selfservice import identity as idc
from store.models import Account, AccountDocument


@pytest.fixture
def seeded(engine: Engine) -> PortalSeed:
    return seed_portal(engine)


def run(monkeypatch: pytest.MonkeyPatch, settings: Settings, *argv: str) -> int:
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("REDIS_URL", settings.redis_url or "")
    monkeypatch.setenv("COBRADOR_PORTAL_IDENTITY_KEY", base64.b64encode(IDENTITY_KEY).decode())
    monkeypatch.setenv("COBRADOR_PORTAL_LINK_SECRET", base64.b64encode(LINK_SECRET).decode())
    return main(list(argv))


def hash_of(engine: Engine, ref: str) -> str | None:
    with Session(engine) as s:
        return s.scalar(select(Account.identity_hash).where(Account.external_ref == ref))


def test_given_an_identity_file_when_imported_then_keyed_hashes_and_bad_files_change_nothing(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine, seeded: PortalSeed,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    before = hash_of(engine, "MX-P002")
    bad = tmp_path / "bad.csv"
    bad.write_text("external_ref,document\nMX-P002,CURP-LOPM800101HDF-5555\nMX-NOPE,1234\n")
    assert run(monkeypatch, settings, "portal", "identities", str(bad)) == 2
    assert "MX-NOPE" in capsys.readouterr().err and hash_of(engine, "MX-P002") == before
    no_header = tmp_path / "nohead.csv"
    no_header.write_text("ref;doc\nMX-P002;1234\n")
    assert run(monkeypatch, settings, "portal", "identities", str(no_header)) == 2
    good = tmp_path / "ids.csv"
    good.write_text("external_ref;document\nMX-P002;CURP-LOPM800101HDF-5555\n")
    assert run(monkeypatch, settings, "portal", "identities", str(good)) == 0
    assert hash_of(engine, "MX-P002") == idc.identity_hash(IDENTITY_KEY, "MX-P002", "5555")
    monkeypatch.setenv("COBRADOR_PORTAL_IDENTITY_KEY", "")
    assert main(["portal", "identities", str(good)]) == 2


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"e" * (2 << 20), "a line over"),  # no line end: never read whole
        (b"external_ref,document\nMX-P\x00002,1234\n", "not printable"),
        (b'external_ref,"' + b"x" * 200_000 + b'"\n', "not a UTF-8 CSV"),
        ("external_ref,document\nMX-P002,1234\n".encode("utf-16"), "not a UTF-8 CSV"),
    ],
)
def test_given_a_hostile_identity_file_then_exit_2_with_the_reason_and_nothing_stored(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine, seeded: PortalSeed,
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, said: str,
) -> None:  # fmt: skip
    before = hash_of(engine, "MX-P002")
    bad = tmp_path / "ids.csv"
    bad.write_bytes(data)
    assert run(monkeypatch, settings, "portal", "identities", str(bad)) == 2
    assert said in capsys.readouterr().err
    assert hash_of(engine, "MX-P002") == before


def test_given_a_document_when_attached_then_stored_and_refused_when_not_a_document(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine, seeded: PortalSeed,
    tmp_path: Path,
) -> None:  # fmt: skip
    pdf = tmp_path / "contrato.pdf"
    pdf.write_bytes(b"%PDF-1.4 contrato")
    assert (
        run(monkeypatch, settings, "portal", "attach", seeded.ref, str(pdf), "--title", "Contrato")
        == 0
    )
    page = tmp_path / "x.html"
    page.write_text("<script>")
    assert (
        run(monkeypatch, settings, "portal", "attach", seeded.ref, str(page), "--title", "x") == 2
    )
    assert run(monkeypatch, settings, "portal", "attach", "NOPE", str(pdf), "--title", "x") == 2
    with Session(engine) as s:
        assert [d.title for d in s.scalars(select(AccountDocument))] == ["Contrato"]


def test_given_a_link_when_printed_then_it_opens_the_account_and_a_lock_can_be_lifted(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine, seeded: PortalSeed,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    args = ("outreach", "link", seeded.ref, "--url", "https://pagos.example.mx/p")
    assert run(monkeypatch, settings, *args) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://pagos.example.mx/p/")
    token = url.rsplit("/", 1)[1]
    assert verify(token, LINK_SECRET, datetime.now(UTC)) == seeded.account_id
    now = datetime.now(UTC)
    for wrong in ("0000", "0001", "0002"):
        idc.check(engine, gate=idc.reference_gate(seeded.account_id), account_id=seeded.account_id,
                  answer=wrong, key=IDENTITY_KEY, client="x", now=now)  # fmt: skip
    assert idc.gate_locked(engine, idc.reference_gate(seeded.account_id), now)
    assert run(monkeypatch, settings, "portal", "unlock", seeded.ref, "--by", "ana") == 0
    assert not idc.gate_locked(engine, idc.reference_gate(seeded.account_id), now)
    assert run(monkeypatch, settings, "portal", "unlock", seeded.ref, "--by", "ana") == 2


def test_given_the_demos_data_dir_when_asking_a_link_then_signed_with_the_key_the_demo_keeps(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, seeded: PortalSeed, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The demo keeps its own link key in its data dir (no portal_link_secret set): the
    command run on that data dir signs with it, so the demo's portal opens the link;
    with no key anywhere it says how to get one."""
    demo_data = tmp_path / "demo-data"
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(demo_data))
    monkeypatch.setenv("COBRADOR_PORTAL_LINK_SECRET", "")
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    args = ["outreach", "link", seeded.ref, "--url", "https://pagos.example.mx/p"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"nor kept in {demo_data / 'portal-link-key'}" in err
    assert "COBRADOR_PORTAL_LINK_SECRET" in err and "COBRADOR_DATA_DIR" in err
    assert not (demo_data / "portal-link-key").exists()  # asking makes no key
    key = base64.b64decode(kept_key(demo_data, PORTAL_LINK))  # as `cobrador demo` does
    assert main(args) == 0
    token = capsys.readouterr().out.strip().rsplit("/", 1)[1]
    assert verify(token, key, datetime.now(UTC)) == seeded.account_id


def test_given_the_demos_data_dir_when_importing_identities_then_hashed_with_the_key_the_demo_keeps(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine, seeded: PortalSeed,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The demo keeps its identity key in its data dir: identities imported on that data
    dir are hashed with it, so the demo's portal accepts their digits; with no key
    anywhere the command says how to get one, makes none and stores nothing."""
    demo_data = tmp_path / "demo-data"
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(demo_data))
    monkeypatch.setenv("COBRADOR_PORTAL_IDENTITY_KEY", "")
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    good = tmp_path / "ids.csv"
    good.write_text("external_ref,document\nMX-P002,CURP-LOPM800101HDF-5555\n")
    before = hash_of(engine, "MX-P002")
    assert main(["portal", "identities", str(good)]) == 2
    err = capsys.readouterr().err
    assert f"nor kept in {demo_data / 'portal-identity-key'}" in err
    assert "COBRADOR_PORTAL_IDENTITY_KEY" in err and "COBRADOR_DATA_DIR" in err
    assert not (demo_data / "portal-identity-key").exists()  # asking makes no key
    assert hash_of(engine, "MX-P002") == before
    key = base64.b64decode(kept_key(demo_data, PORTAL_IDENTITY))  # as `cobrador demo` does
    assert main(["portal", "identities", str(good)]) == 0
    assert hash_of(engine, "MX-P002") == idc.identity_hash(key, "MX-P002", "5555")
    # A key set in settings wins over the one kept.
    monkeypatch.setenv("COBRADOR_PORTAL_IDENTITY_KEY", base64.b64encode(IDENTITY_KEY).decode())
    assert main(["portal", "identities", str(good)]) == 0
    assert hash_of(engine, "MX-P002") == idc.identity_hash(IDENTITY_KEY, "MX-P002", "5555")


class _Served(Exception):
    """Raised in place of the console's app: what `console run` gave it is seen."""


def _console_run_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, data: Path) -> None:
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(data))
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("REDIS_URL", settings.redis_url or "")
    monkeypatch.setenv("COBRADOR_CONSOLE_METRICS_PORT", str(free_port()))


def _served_settings(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """The settings `console run` builds its app with (the app itself is never served)."""
    import console.app

    served: list[Settings] = []

    def init_app(app_settings: Settings, *_: object) -> None:
        served.append(app_settings)
        raise _Served

    monkeypatch.setattr(console.app, "init_app", init_app)
    return served


@pytest.mark.parametrize("set_in_settings", [False, True])
def test_given_the_demos_data_dir_when_the_console_runs_then_it_has_the_keys_the_demo_keeps(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path, set_in_settings: bool
) -> None:
    """`cobrador console run` on the demo's data dir: its portal verifies the links and
    checks the identities with the keys the demo keeps there (before, it had none and
    answered 503), and its cookies are signed with the demo's console secret, so the
    demo's sessions go on (before, each start made a key of its own and every session
    ended); keys set in settings still win."""
    demo_data = tmp_path / "demo-data"
    kept = (kept_key(demo_data, PORTAL_LINK), kept_key(demo_data, PORTAL_IDENTITY),
            kept_console_secret(demo_data))  # fmt: skip
    given = (base64.b64encode(LINK_SECRET).decode(), base64.b64encode(IDENTITY_KEY).decode(),
             base64.urlsafe_b64encode(b"c" * 32).decode())  # fmt: skip
    _console_run_env(monkeypatch, settings, demo_data)
    monkeypatch.setenv("COBRADOR_PORTAL_LINK_SECRET", given[0] if set_in_settings else "")
    monkeypatch.setenv("COBRADOR_PORTAL_IDENTITY_KEY", given[1] if set_in_settings else "")
    monkeypatch.setenv("COBRADOR_CONSOLE_SECRET", given[2] if set_in_settings else "")
    served = _served_settings(monkeypatch)
    with pytest.raises(_Served):
        main(["console", "run", "--host", "127.0.0.1", "--port", str(free_port())])
    [app_settings] = served
    keys = (app_settings.portal_link_secret, app_settings.portal_identity_key,
            app_settings.console_secret)  # fmt: skip
    assert keys == (given if set_in_settings else kept)


@pytest.mark.parametrize(
    ("kept", "given", "where"),
    [("c2hvcnQ=", "", "console-secret"), ("", "c2hvcnQ=", "COBRADOR_CONSOLE_SECRET"),
     ("\x00\x01", "", "console-secret")],
)  # fmt: skip
def test_given_a_console_secret_not_usable_when_the_console_runs_then_exit_2_naming_where(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], kept: str, given: str, where: str,
) -> None:  # fmt: skip
    """A console secret too short (or not base64), kept in the data dir or set: the
    console does not start, and the error names the file or the variable to fix."""
    demo_data = tmp_path / "demo-data"
    demo_data.mkdir()
    if kept:
        (demo_data / "console-secret").write_text(kept)
    _console_run_env(monkeypatch, settings, demo_data)
    monkeypatch.setenv("COBRADOR_CONSOLE_SECRET", given)
    served = _served_settings(monkeypatch)

    assert main(["console", "run", "--host", "127.0.0.1", "--port", str(free_port())]) == 2

    err = capsys.readouterr().err
    assert "console_secret must be 32 bytes or more" in err and where in err, err
    assert served == []
    assert (demo_data / "console-secret").exists() == bool(kept)  # nothing made


@pytest.mark.parametrize(
    ("kept", "reason"),
    [("c2hvcnQ=", "must be 32 bytes or more"), ("\x00\x01", "must be 32 bytes or more")],
)
def test_given_a_kept_identity_key_not_usable_when_importing_then_exit_2_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine, seeded: PortalSeed,
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kept: str, reason: str,
) -> None:  # fmt: skip
    demo_data = tmp_path / "demo-data"
    demo_data.mkdir()
    (demo_data / "portal-identity-key").write_text(kept)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(demo_data))
    monkeypatch.setenv("COBRADOR_PORTAL_IDENTITY_KEY", "")
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    good = tmp_path / "ids.csv"
    good.write_text("external_ref,document\nMX-P002,CURP-LOPM800101HDF-5555\n")
    before = hash_of(engine, "MX-P002")
    assert main(["portal", "identities", str(good)]) == 2
    assert reason in capsys.readouterr().err and hash_of(engine, "MX-P002") == before
