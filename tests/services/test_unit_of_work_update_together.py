"""Many rows changed alike: one UPDATE, the same rows as the unit of work would write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from purchasing.db import any_of
from purchasing.events import DomainEvent
from purchasing.unit_of_work import update_together

AT = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
CONSUMED = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _events(session, count: int) -> list[DomainEvent]:
    events = [
        DomainEvent(kind="invoice.issued", entity="invoice", entity_id=str(n), payload={})
        for n in range(count)
    ]
    session.add_all(events)
    session.commit()
    return events


def _consumed(session) -> dict[int, datetime | None]:
    return dict(session.execute(select(DomainEvent.id, DomainEvent.consumed_at)).all())


class _Writes:
    def __init__(self, session) -> None:
        self.seen: list[str] = []
        event.listen(session.get_bind(), "before_cursor_execute", self._count)

    def _count(self, _conn, _cursor, statement, parameters, _context, executemany) -> None:
        # Writes only: the tests' sessions open savepoints of their own.
        if statement.split()[0] in ("INSERT", "UPDATE", "DELETE"):
            self.seen.extend([statement] * (len(parameters) if executemany else 1))


def test_one_update_writes_every_row_and_leaves_nothing_to_flush(session):
    events = _events(session, 5)
    chosen = events[1:4]
    statements = _Writes(session)

    update_together(session, chosen, "consumed_at", CONSUMED)
    assert [s.split()[0] for s in statements.seen] == ["UPDATE"]
    assert all(event.consumed_at == CONSUMED for event in chosen)  # held without reading
    session.flush()
    assert len(statements.seen) == 1  # nothing left for the unit of work
    session.commit()

    ids = [event.id for event in events]
    assert _consumed(session) == {
        ids[0]: None,
        ids[1]: CONSUMED,
        ids[2]: CONSUMED,
        ids[3]: CONSUMED,
        ids[4]: None,
    }


def test_a_rollback_takes_the_change_back_from_the_rows_and_the_objects(session):
    events = _events(session, 2)
    update_together(session, events, "consumed_at", CONSUMED)
    session.rollback()
    assert [event.consumed_at for event in events] == [None, None]
    assert set(_consumed(session).values()) == {None}


def test_a_pending_change_of_the_attribute_is_refused_and_nothing_written(session):
    events = _events(session, 2)
    events[0].consumed_at = AT  # would be lost: the UPDATE writes one value for all
    with pytest.raises(ValueError, match="unchanged"):
        update_together(session, events, "consumed_at", CONSUMED)
    session.rollback()
    assert set(_consumed(session).values()) == {None}


def test_a_row_gone_from_the_table_raises(session):
    events = _events(session, 2)
    session.execute(DomainEvent.__table__.delete().where(DomainEvent.id == events[1].id))
    with pytest.raises(RuntimeError, match="2 rows to update, 1 found"):
        update_together(session, events, "consumed_at", CONSUMED)


def test_any_of_finds_what_in_finds(session):
    events = _events(session, 6)
    ids = [events[0].id, events[2].id, events[5].id, 10_000]
    query = select(DomainEvent.id).order_by(DomainEvent.id)
    assert session.scalars(query.where(any_of(session, DomainEvent.id, ids))).all() == ids[:3]
    assert session.scalars(query.where(any_of(session, DomainEvent.id, []))).all() == []
    # A set, as callers hold their ids, and a generator are taken as well.
    assert session.scalars(query.where(any_of(session, DomainEvent.id, set(ids)))).all() == ids[:3]
    assert session.scalars(query.where(any_of(session, DomainEvent.id, iter(ids)))).all() == ids[:3]
