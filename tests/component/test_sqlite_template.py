"""The SQLite template the `engine` tests copy (tests/support/sqlite_template.py): a
build interrupted halfway leaves no template, and the next test builds a whole one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from support.sqlite_template import SqliteDatabases

from store.migrate import upgrade


class Interrupted(BaseException):
    """As pytest-timeout's failure (pytest's Failed): not an Exception."""


def half_then(error: BaseException) -> Callable[[Engine], None]:
    """A migration that creates one table, then stops with `error`."""

    def migrate(engine: Engine) -> None:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE accounts (id INTEGER PRIMARY KEY)"))
        raise error

    return migrate


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.parametrize("error", [Interrupted(), RuntimeError("disk full")])
def test_given_a_build_interrupted_halfway_when_the_next_test_asks_then_a_whole_template(
    tmp_path: Path, error: BaseException
) -> None:
    root = tmp_path / "schema"
    root.mkdir()
    databases = SqliteDatabases(root, migrate=half_then(error))
    with pytest.raises(type(error)):
        databases.create(True, tmp_path / "first.sqlite3")
    assert databases.template is None and list(root.iterdir()) == []  # no half template left
    databases.migrate = upgrade
    url = databases.create(True, tmp_path / "second.sqlite3")
    assert {"accounts", "decisions", "alembic_version"} <= tables(url)
    assert url in databases.migrated and [p.name for p in root.iterdir()] == ["template.sqlite3"]
    # Built once: the next test copies it without migrating again.
    databases.migrate = half_then(RuntimeError("not called"))
    assert "decisions" in tables(databases.create(True, tmp_path / "third.sqlite3"))


def test_given_no_engine_then_an_empty_file_and_no_template_built(tmp_path: Path) -> None:
    databases = SqliteDatabases(tmp_path, migrate=half_then(RuntimeError("not called")))
    url = databases.create(False, tmp_path / "empty.sqlite3")
    assert url == f"sqlite:///{tmp_path / 'empty.sqlite3'}" and databases.template is None
