"""Field agents are users with the `field` role and a territory."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from console.users import UserInputError, create_user
from store.models import AuditEntry, User


def test_given_field_role_and_territory_when_created_then_stored_and_audited(
    engine: Engine,
) -> None:
    user = create_user(engine, "lucia", "field", "a long password", territory=" CDMX-Coyoacán ")
    assert user.role.value == "field"
    with Session(engine) as s:
        assert s.scalars(select(User.territory)).one() == "CDMX-Coyoacán"
        entry = s.scalars(select(AuditEntry).where(AuditEntry.kind == "user_change")).one()
    assert '"territory":"CDMX-Coyoacán"' in entry.payload


@pytest.mark.parametrize(
    ("role", "territory", "message"),
    [
        ("agent", "CDMX", "only field agents"),
        ("field", "x" * 65, "at most 64"),
        ("walker", None, "unknown role"),
    ],
)
def test_given_bad_territory_or_role_when_created_then_refused(
    engine: Engine, role: str, territory: str | None, message: str
) -> None:
    with pytest.raises(UserInputError, match=message):
        create_user(engine, "lucia", role, "a long password", territory=territory)
    with Session(engine) as s:
        assert s.scalars(select(User)).first() is None
