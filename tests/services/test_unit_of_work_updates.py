"""Many rows changed alike (one UPDATE) or each its own way (one executemany UPDATE):
the same rows as the unit of work would write, and nothing left for it to write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from purchasing.db import any_of
from purchasing.events import DomainEvent
from purchasing.unit_of_work import update_each, update_together

AT = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
CONSUMED = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


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


def _rows(session) -> dict[int, tuple[str, datetime | None]]:
    rows = session.execute(select(DomainEvent.id, DomainEvent.kind, DomainEvent.consumed_at))
    return {event_id: (kind, consumed_at) for event_id, kind, consumed_at in rows}


class _Writes:
    def __init__(self, session) -> None:
        #: each row written, by its statement
        self.seen: list[str] = []
        #: each statement sent: (verb, rows)
        self.sent: list[tuple[str, int]] = []
        event.listen(session.get_bind(), "before_cursor_execute", self._count)

    def _count(self, _conn, _cursor, statement, parameters, _context, executemany) -> None:
        # Writes only: the tests' sessions open savepoints of their own.
        verb = statement.split()[0]
        if verb in ("INSERT", "UPDATE", "DELETE"):
            rows = len(parameters) if executemany else 1
            self.seen.extend([statement] * rows)
            self.sent.append((verb, rows))


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


def test_each_row_gets_its_own_values_by_one_statement_and_nothing_is_left_to_flush(session):
    events = _events(session, 4)
    statements = _Writes(session)

    update_each(
        session,
        [
            (events[1], {"kind": "invoice.aided", "consumed_at": CONSUMED}),
            (events[2], {"kind": "credit_note.aided", "consumed_at": LATER}),
        ],
    )
    assert statements.sent == [("UPDATE", 2)]
    # Held as written, without reading them back.
    assert (events[1].kind, events[2].consumed_at) == ("invoice.aided", LATER)
    session.flush()
    assert statements.sent == [("UPDATE", 2)]  # nothing left for the unit of work
    session.commit()

    ids = [event.id for event in events]
    assert _rows(session) == {
        ids[0]: ("invoice.issued", None),
        ids[1]: ("invoice.aided", CONSUMED),
        ids[2]: ("credit_note.aided", LATER),
        ids[3]: ("invoice.issued", None),
    }


def test_each_its_own_way_a_rollback_takes_the_change_back(session):
    events = _events(session, 2)
    update_each(session, [(event, {"consumed_at": CONSUMED}) for event in events])
    session.rollback()
    assert [event.consumed_at for event in events] == [None, None]
    assert set(_consumed(session).values()) == {None}


def test_each_its_own_way_a_pending_change_is_refused_and_nothing_written(session):
    events = _events(session, 2)
    events[0].consumed_at = LATER  # would be overwritten behind the session's back
    with pytest.raises(ValueError, match="already changed"):
        update_each(session, [(event, {"consumed_at": CONSUMED}) for event in events])
    session.rollback()
    assert set(_consumed(session).values()) == {None}


def test_each_its_own_way_rows_setting_different_attributes_are_refused(session):
    events = _events(session, 2)
    with pytest.raises(ValueError, match="the same attributes"):
        update_each(
            session, [(events[0], {"consumed_at": CONSUMED}), (events[1], {"kind": "other"})]
        )


def test_each_its_own_way_a_row_gone_from_the_table_raises(session):
    events = _events(session, 2)
    session.execute(DomainEvent.__table__.delete().where(DomainEvent.id == events[1].id))
    with pytest.raises(RuntimeError, match="2 rows to update, 1 found"):
        update_each(session, [(event, {"consumed_at": CONSUMED}) for event in events])


def test_any_of_finds_what_in_finds(session):
    events = _events(session, 6)
    ids = [events[0].id, events[2].id, events[5].id, 10_000]
    query = select(DomainEvent.id).order_by(DomainEvent.id)
    assert session.scalars(query.where(any_of(session, DomainEvent.id, ids))).all() == ids[:3]
    assert session.scalars(query.where(any_of(session, DomainEvent.id, []))).all() == []
    # A set, as callers hold their ids, and a generator are taken as well.
    assert session.scalars(query.where(any_of(session, DomainEvent.id, set(ids)))).all() == ids[:3]
    assert session.scalars(query.where(any_of(session, DomainEvent.id, iter(ids)))).all() == ids[:3]
