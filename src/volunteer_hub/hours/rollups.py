"""Hour roll-ups: verified hours and services by key, kept equal to the records.

A key is (person, team, category, local month). ``recompute_key`` makes the rows of one
key what the records say: the person row (``hours_rollup``) from ``service_record``,
then the team row (``team_hours_rollup``) from the person rows, and clears the key's
dirty mark (``hours.marks``); the hours actors run it for each key a change touched
(``hours.records`` announces them), never adding deltas.
``rebuild_all`` recomputes everything and says what it had to change: nothing, on a
healthy database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select, text

from volunteer_hub.db import dialect_insert
from volunteer_hub.extensions import db
from volunteer_hub.hours import marks
from volunteer_hub.hours.models import HoursRollup, ServiceRecord, TeamHoursRollup


@dataclass(frozen=True)
class KeyResult:
    """What recomputing one key did to the person row and to the team row above it."""

    person_row: str  # "inserted", "updated", "deleted", "unchanged"
    team_row: str


def recompute_key(person_id: int, team_id: int, category_id: int, month: date) -> KeyResult:
    """Make the roll-up rows of one key equal to what the records say: the person row
    from ``service_record``, then the team row from the person rows. Safe to run twice
    or at the same time as another: each key is recomputed under a lock."""
    _lock("person", person_id, team_id, category_id, month)
    key = (person_id, team_id, category_id, month)
    mark_version = marks.version_of(key)  # read before the records: see marks.clear
    counted = db.session.execute(
        select(func.count(), func.coalesce(func.sum(ServiceRecord.minutes), 0)).where(
            ServiceRecord.person_id == person_id,
            ServiceRecord.team_id == team_id,
            ServiceRecord.category_id == category_id,
            ServiceRecord.month == month,
            ServiceRecord.counted_condition(),
        )
    ).one()
    person_row = _store(
        HoursRollup,
        {"person_id": person_id, "team_id": team_id, "category_id": category_id, "month": month},
        {"services": counted[0], "minutes": int(counted[1])},
    )
    _lock("team", team_id, category_id, month)
    team_sum = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(HoursRollup.services), 0),
            func.coalesce(func.sum(HoursRollup.minutes), 0),
        ).where(
            HoursRollup.team_id == team_id,
            HoursRollup.category_id == category_id,
            HoursRollup.month == month,
        )
    ).one()
    team_row = _store(
        TeamHoursRollup,
        {"team_id": team_id, "category_id": category_id, "month": month},
        {"volunteers": team_sum[0], "services": int(team_sum[1]), "minutes": int(team_sum[2])},
    )
    marks.clear(key, mark_version)
    return KeyResult(person_row, team_row)


@dataclass(frozen=True)
class RebuildReport:
    person_rows: dict[str, int]
    team_rows: dict[str, int]

    @property
    def changed(self) -> int:
        return sum(
            n
            for name, n in (*self.person_rows.items(), *self.team_rows.items())
            if name != "unchanged"
        )


def rebuild_all() -> RebuildReport:
    """Recompute every roll-up row from the records (GROUP BY over all of them), and
    change only the rows that differ. Reports inserted / updated / deleted / unchanged."""
    if db.session.get_bind().dialect.name == "postgresql":
        # Roll-up actors wait meanwhile; the records themselves stay writable.
        db.session.execute(text("LOCK TABLE hours_rollup, team_hours_rollup IN EXCLUSIVE MODE"))
    key = (
        ServiceRecord.person_id,
        ServiceRecord.team_id,
        ServiceRecord.category_id,
        ServiceRecord.month,
    )
    expected = {
        tuple(row[:4]): (row[4], int(row[5]))
        for row in db.session.execute(
            select(*key, func.count(), func.sum(ServiceRecord.minutes))
            .where(ServiceRecord.counted_condition())
            .group_by(*key)
        )
    }
    person_rows = _sync(
        HoursRollup,
        ("person_id", "team_id", "category_id", "month"),
        ("services", "minutes"),
        expected,
    )
    db.session.flush()
    team_key = (HoursRollup.team_id, HoursRollup.category_id, HoursRollup.month)
    expected_teams = {
        tuple(row[:3]): (row[3], int(row[4]), int(row[5]))
        for row in db.session.execute(
            select(
                *team_key,
                func.count(),
                func.sum(HoursRollup.services),
                func.sum(HoursRollup.minutes),
            ).group_by(*team_key)
        )
    }
    team_rows = _sync(
        TeamHoursRollup,
        ("team_id", "category_id", "month"),
        ("volunteers", "services", "minutes"),
        expected_teams,
    )
    return RebuildReport(person_rows, team_rows)


# -- internals -------------------------------------------------------------------------


def _sync(model, key_names: Sequence[str], value_names: Sequence[str], expected: dict) -> dict:
    columns = [getattr(model, name) for name in (*key_names, *value_names)]
    current = {
        tuple(row[: len(key_names)]): tuple(row[len(key_names) :])
        for row in db.session.execute(select(*columns))
    }
    counts = {"inserted": 0, "updated": 0, "deleted": 0, "unchanged": 0}
    inserts, updates = [], []
    for key, values in expected.items():
        row = dict(zip((*key_names, *value_names), (*key, *values), strict=True))
        if key not in current:
            inserts.append(row)
        elif current[key] != tuple(values):
            updates.append(row)
        else:
            counts["unchanged"] += 1
    stale = [key for key in current if key not in expected]
    table = model.__table__
    for chunk in _chunks(inserts, 2_000):
        db.session.execute(table.insert(), chunk)
    for row in updates:
        db.session.execute(
            table.update()
            .where(*(table.c[name] == row[name] for name in key_names))
            .values({name: row[name] for name in value_names})
        )
    for key in stale:
        db.session.execute(
            table.delete().where(
                *(table.c[name] == value for name, value in zip(key_names, key, strict=True))
            )
        )
    counts.update(inserted=len(inserts), updated=len(updates), deleted=len(stale))
    return counts


def _chunks(rows: list, size: int) -> Iterable[list]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _store(model, key: dict, values: dict) -> str:
    """Insert, update or delete one roll-up row so that it holds ``values`` (no row when
    nothing is counted); says which it did."""
    table = model.__table__
    where = [table.c[name] == value for name, value in key.items()]
    current = db.session.execute(select(*(table.c[name] for name in values)).where(*where)).first()
    if not values["services"]:
        if current is None:
            return "unchanged"
        db.session.execute(table.delete().where(*where))
        return "deleted"
    if current is not None:
        if tuple(current) == tuple(values.values()):
            return "unchanged"
        db.session.execute(table.update().where(*where).values(values))
        return "updated"
    insert = dialect_insert(db.session, table).values({**key, **values})
    db.session.execute(insert.on_conflict_do_update(index_elements=list(key), set_=values))
    return "inserted"


def _lock(*key: Any) -> None:
    """A transaction-scoped lock on one roll-up key (PostgreSQL; SQLite writers are
    serialised by BEGIN IMMEDIATE already)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    db.session.execute(
        text("SELECT pg_advisory_xact_lock(:key)"),
        {"key": int.from_bytes(digest, "big", signed=True)},
    )
