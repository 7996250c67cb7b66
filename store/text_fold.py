"""Case- and accent-insensitive text search that gives the same answer on SQLite and
PostgreSQL: "juarez" finds "Av. Juárez 12", "CONSTRUCTOR" finds "Col. Crédito Constructor".

Both sides of a comparison are folded by one explicit table (A-Z and the accented
letters of Spanish and Portuguese, either case, to plain lower case), never by the
database's lower(): SQLite's folds ASCII only, and PostgreSQL's depends on the
database's locale (a "C" database leaves "Á" alone). PostgreSQL folds a column with
translate(); SQLite with the same table as a Python function, registered on every
connection by store/db.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

_ACCENTED = "ÁÀÂÄÃÅáàâäãåÉÈÊËéèêëÍÌÎÏíìîïÓÒÔÖÕóòôöõÚÙÛÜúùûüÑñÇç"
_PLAIN = "aaaaaaaaaaaaeeeeeeeeiiiiiiiioooooooooouuuuuuuunncc"
FOLD_FROM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + _ACCENTED
FOLD_TO = "abcdefghijklmnopqrstuvwxyz" + _PLAIN
assert len(FOLD_FROM) == len(FOLD_TO)
_TABLE = str.maketrans(FOLD_FROM, FOLD_TO)
SQLITE_FUNCTION = "cobrador_fold"


def fold(text: str | None) -> str | None:
    """``text`` as the database's ``folded(column)`` sees it (None stays None)."""
    return None if text is None else text.translate(_TABLE)


class folded(FunctionElement[str]):  # lower case: it reads as SQL, folded(column)
    """A column's text folded as ``fold`` folds a Python string."""

    type = String()
    inherit_cache = True
    name = "folded"


@compiles(folded)
def _translate(element: folded, compiler: Any, **kw: Any) -> str:
    # The table holds letters only: no quote can end the literal.
    return f"translate({compiler.process(element.clauses, **kw)}, '{FOLD_FROM}', '{FOLD_TO}')"


@compiles(folded, "sqlite")
def _sqlite(element: folded, compiler: Any, **kw: Any) -> str:
    return f"{SQLITE_FUNCTION}({compiler.process(element.clauses, **kw)})"


def register_sqlite(dbapi_conn: Any) -> None:
    """Make ``folded(...)`` work on this SQLite connection."""
    dbapi_conn.create_function(SQLITE_FUNCTION, 1, fold, deterministic=True)
