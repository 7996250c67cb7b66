"""Test databases as SQLite files (tests/conftest.py): each `engine` test gets a copy of
one file migrated once per session, and that file exists whole or not at all."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.pool import NullPool

from store.db import make_engine
from store.migrate import upgrade

SIDE_FILES = ("-wal", "-shm", "-journal")


class SqliteDatabases:
    """A test that uses `engine` gets a copy of a file migrated once per session."""

    def __init__(self, root: Path, migrate: Callable[[Engine], None] = upgrade) -> None:
        self.root = root
        self.migrate = migrate
        self.template: Path | None = None
        self.migrated: set[str] = set()

    def create(self, migrated: bool, path: Path) -> str:
        url = f"sqlite:///{path}"
        if migrated:
            shutil.copyfile(self._template(), path)
            self.migrated.add(url)
        return url

    def _template(self) -> Path:
        if self.template is None:
            self.template = build_template(self.root / "template.sqlite3", self.migrate)
        return self.template


def build_template(path: Path, migrate: Callable[[Engine], None]) -> Path:
    """Build the file at `path` with `migrate` under a name of its own and rename it to
    `path` once complete: a build interrupted (pytest-timeout, any exception) leaves
    nothing at `path` and no scraps, so the next test builds it again from nothing
    instead of copying half a schema."""
    building = path.with_name(f"{path.stem}-{uuid.uuid4().hex}{path.suffix}")
    try:
        engine = make_engine(f"sqlite:///{building}", poolclass=NullPool)
        try:
            migrate(engine)
            with engine.connect() as conn:  # everything in the main file: it is copied alone
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            engine.dispose()
        building.replace(path)
    finally:
        for leftover in (building, *(building.with_name(building.name + s) for s in SIDE_FILES)):
            leftover.unlink(missing_ok=True)  # after the rename, only side files can remain
    return path
