"""Registries on real Redis + SQL: import, lookup, atomic swap, bad lines, fail closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from sqlalchemy import Engine, select

from cobrador.cli import main
from compliance.registry import RegistryReader, RegistryWriter, pack_buckets, prefetch
from compliance.registry_import import RegistryImportError, import_registry
from compliance.transparency.verify import verify
from store.db import transaction
from store.models import AuditEntry, RegistryImport

NOW = datetime(2026, 1, 13, 18, 0, tzinfo=UTC)


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def _write(tmp_path: Path, text: str, name: str = "reus.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_given_imported_list_when_looked_up_then_listed_numbers_hit(
    engine: Engine, client: redis.Redis, aredis: aioredis.Redis, tmp_path: Path
) -> None:
    path = _write(tmp_path, "+525512345678\n5598765432\n\n# comment\n+52 1 33 1234 5678\n")
    report = import_registry(engine, client, name="reus", path=path, country="MX", now=NOW)
    assert report.count == 3 and report.replaced is None
    meta, flags = await RegistryReader(aredis).lookup(
        "reus", ["+525512345678", "+525598765432", "+523312345678", "+525500000000", "garbage"]
    )
    assert meta is not None and meta.version == report.version and meta.count == 3
    assert meta.imported_at == NOW
    assert flags == [True, True, True, False, False]
    with transaction(engine) as session:
        row = session.execute(select(RegistryImport)).scalar_one()
        assert (row.name, row.count, row.sha256, row.version) == (
            "reus", 3, report.sha256, report.version,
        )  # fmt: skip
        entry = session.execute(select(AuditEntry)).scalar_one()
        assert entry.kind == "registry_import" and report.sha256 in entry.payload
    assert verify(engine).ok


async def test_given_csv_with_phone_column_when_imported_then_numbers_loaded(
    engine: Engine, client: redis.Redis, aredis: aioredis.Redis, tmp_path: Path
) -> None:
    path = _write(tmp_path, "name,phone\nAna,+573001234567\nLuis,+51912345678\n", "rne.csv")
    import_registry(engine, client, name="rne", path=path, now=NOW)
    _, flags = await RegistryReader(aredis).lookup(
        "rne", ["+573001234567", "+51912345678", "+573001234568"]
    )
    assert flags == [True, True, False]


def test_given_bad_lines_when_imported_then_all_reported_and_nothing_changes(
    engine: Engine, client: redis.Redis, tmp_path: Path
) -> None:
    good = _write(tmp_path, "+525512345678\n", "good.txt")
    first = import_registry(engine, client, name="reus", path=good, country="MX", now=NOW)
    bad = _write(tmp_path, "+525512345678\nhello\n123\n5512345679\n", "bad.txt")
    with pytest.raises(RegistryImportError) as caught:
        import_registry(engine, client, name="reus", path=bad, country="MX", now=NOW)
    assert [(r.line, r.reason) for r in caught.value.rejects] == [
        (2, "not a phone number (digits and an optional leading + only)"),
        (3, "wrong length for +52 (3 digits)"),
    ]
    assert "line 2" in str(caught.value) and "line 3" in str(caught.value)
    assert RegistryWriter(client, "reus").current_version() == first.version
    with transaction(engine) as session:
        assert len(session.execute(select(RegistryImport)).all()) == 1


def test_given_skip_invalid_when_imported_then_good_lines_in_and_rejects_file_written(
    engine: Engine, client: redis.Redis, tmp_path: Path
) -> None:
    path = _write(tmp_path, "+525512345678\nhello\n")
    report = import_registry(
        engine, client, name="reus", path=path, country="MX", skip_invalid=True, now=NOW
    )
    assert report.count == 1 and report.rejects_file == tmp_path / "reus.txt.rejects.csv"
    assert report.rejects_file.read_text().splitlines() == [
        "phone,line,reason",
        "hello,2,not a phone number (digits and an optional leading + only)",
    ]


@pytest.mark.parametrize(
    ("text", "name", "country", "message"),
    [
        ("", "reus", "MX", "no numbers"),
        ("a,b\n1,2\n", "reus", "MX", "no `phone` column"),
        ("+525512345678\n", "REUS list", "MX", "lower-case"),
        ("+525512345678\n", "reus", "XX", "--country"),
        ("5512345678\n", "reus", None, "without --country"),
    ],
)
def test_given_unusable_input_when_imported_then_clear_error(
    engine: Engine,
    client: redis.Redis,
    tmp_path: Path,
    text: str,
    name: str,
    country: str | None,
    message: str,
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(RegistryImportError, match=message):
        import_registry(engine, client, name=name, path=path, country=country, now=NOW)


async def test_given_new_version_loading_when_looked_up_then_old_list_answers_until_swap(
    engine: Engine, client: redis.Redis, aredis: aioredis.Redis, tmp_path: Path
) -> None:
    old = import_registry(
        engine, client, name="reus", path=_write(tmp_path, "+525512345678\n"), now=NOW
    )
    writer = RegistryWriter(client, "reus")
    writer.load(
        "next", pack_buckets([525598765432]), imported_at=NOW, count=1, sha256="x", country="MX"
    )
    reader = RegistryReader(aredis)
    meta, flags = await reader.lookup("reus", ["+525512345678", "+525598765432"])
    assert meta is not None and meta.version == old.version and flags == [True, False]
    assert writer.swap("next") == old.version
    meta, flags = await reader.lookup("reus", ["+525512345678", "+525598765432"])
    assert meta is not None and meta.version == "next" and flags == [False, True]


async def test_given_reimport_when_done_then_old_version_keys_are_gone(
    engine: Engine, client: redis.Redis, aredis: aioredis.Redis, tmp_path: Path
) -> None:
    first = import_registry(
        engine, client, name="reus", path=_write(tmp_path, "+525512345678\n", "a"), now=NOW
    )
    second = import_registry(
        engine,
        client,
        name="reus",
        path=_write(tmp_path, "+525598765432\n", "b"),
        now=NOW + timedelta(seconds=1),
    )
    assert second.replaced == first.version
    keys = {k.decode() for k in client.scan_iter(match="cobrador:reg:{reus}:*")}
    assert not any(first.version in k for k in keys)
    assert any(second.version in k for k in keys)
    _, flags = await RegistryReader(aredis).lookup("reus", ["+525512345678", "+525598765432"])
    assert flags == [False, True]


def test_given_import_running_when_another_starts_then_refused_and_lock_released_after(
    engine: Engine, client: redis.Redis, tmp_path: Path
) -> None:
    path = _write(tmp_path, "+525512345678\n")
    with (
        RegistryWriter(client, "reus").exclusive(),
        pytest.raises(RegistryImportError, match="another import"),
    ):
        import_registry(engine, client, name="reus", path=path, now=NOW)
    assert import_registry(engine, client, name="reus", path=path, now=NOW).count == 1
    assert not client.exists("cobrador:reg:{reus}:lock")


async def test_given_registry_never_imported_when_prefetched_then_unavailable(
    aredis: aioredis.Redis,
) -> None:
    regs = await prefetch(RegistryReader(aredis), ["reus"], ["+525512345678"])
    assert not regs.answer("reus", "+525512345678").available


async def test_given_redis_down_when_prefetched_then_unavailable() -> None:
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    regs = await prefetch(RegistryReader(dead), ["reus"], ["+525512345678"])
    assert not regs.answer("reus", "+525512345678").available
    await dead.aclose()


def test_given_cli_when_importing_good_and_bad_files_then_exit_0_and_2(
    engine: Engine, database_url: str, redis_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    good = _write(tmp_path, "+525512345678\n", "good.txt")
    assert main(["registry", "import", "--name", "reus", "--country", "MX", str(good)]) == 0
    assert "1 numbers" in capsys.readouterr().out
    bad = _write(tmp_path, "oops\n", "bad.txt")
    assert main(["registry", "import", "--name", "reus", str(bad)]) == 2
    assert "line 1" in capsys.readouterr().err
    assert main(["registry", "import", "--name", "reus", str(tmp_path / "none.txt")]) == 2


def test_given_imported_registry_when_status_then_version_in_force(
    engine: Engine, database_url: str, redis_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import json

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert main(["registry", "status"]) == 0
    good = _write(tmp_path, "+525512345678\n", "good.txt")
    assert main(["registry", "import", "--name", "reus", str(good)]) == 0
    capsys.readouterr()
    assert main(["registry", "status"]) == 0
    line = json.loads(capsys.readouterr().out.splitlines()[0])
    assert line["name"] == "reus" and line["count"] == 1 and line["in_force"] is True
