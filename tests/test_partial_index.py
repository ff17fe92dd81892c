"""db.partial_index gives PostgreSQL and SQLite the same condition: a dialect left
without it would build a full index there, and a unique one would refuse rows the rule
lets in (a second signup after a cancelled one)."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex

from volunteer_hub.signups.models import Signup


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()])
def test_both_databases_get_the_condition(dialect):
    (index,) = [i for i in Signup.__table__.indexes if i.name == "uq_signup_active_person_shift"]
    ddl = str(CreateIndex(index).compile(dialect=dialect))
    assert ddl.startswith("CREATE UNIQUE INDEX uq_signup_active_person_shift")
    assert ddl.endswith("WHERE status <> 'cancelled'")
