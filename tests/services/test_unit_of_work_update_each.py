"""Many rows changed each its own way: one executemany UPDATE, the rows as the unit of
work would write them, and nothing left for it to write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from purchasing.events import DomainEvent
from purchasing.unit_of_work import update_each

FIRST = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SECOND = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


def _events(session, count: int) -> list[DomainEvent]:
    events = [
        DomainEvent(kind="invoice.issued", entity="invoice", entity_id=str(n), payload={})
        for n in range(count)
    ]
    session.add_all(events)
    session.commit()
    return events


def _rows(session) -> dict[int, tuple[str, datetime | None]]:
    rows = session.execute(select(DomainEvent.id, DomainEvent.kind, DomainEvent.consumed_at))
    return {event_id: (kind, consumed_at) for event_id, kind, consumed_at in rows}


def _writes(session) -> list[tuple[str, int]]:
    """The writes the session's connection sends: (verb, rows) each."""
    seen: list[tuple[str, int]] = []

    def count(_conn, _cursor, statement, parameters, _context, executemany) -> None:
        # Writes only: the tests' sessions open savepoints of their own.
        if statement.split()[0] in ("INSERT", "UPDATE", "DELETE"):
            seen.append((statement.split()[0], len(parameters) if executemany else 1))

    event.listen(session.get_bind(), "before_cursor_execute", count)
    return seen


def test_each_row_gets_its_own_values_by_one_statement_and_nothing_is_left_to_flush(session):
    events = _events(session, 4)
    writes = _writes(session)

    update_each(
        session,
        [
            (events[1], {"kind": "invoice.aided", "consumed_at": FIRST}),
            (events[2], {"kind": "credit_note.aided", "consumed_at": SECOND}),
        ],
    )
    assert writes == [("UPDATE", 2)]
    # Held as written, without reading them back.
    assert (events[1].kind, events[2].consumed_at) == ("invoice.aided", SECOND)
    session.flush()
    assert writes == [("UPDATE", 2)]  # nothing left for the unit of work
    session.commit()

    ids = [event.id for event in events]
    assert _rows(session) == {
        ids[0]: ("invoice.issued", None),
        ids[1]: ("invoice.aided", FIRST),
        ids[2]: ("credit_note.aided", SECOND),
        ids[3]: ("invoice.issued", None),
    }


def test_a_rollback_takes_the_change_back_from_the_rows_and_the_objects(session):
    events = _events(session, 2)
    update_each(session, [(event, {"consumed_at": FIRST}) for event in events])
    session.rollback()
    assert [event.consumed_at for event in events] == [None, None]
    assert {consumed for _kind, consumed in _rows(session).values()} == {None}


def test_a_pending_change_of_an_attribute_written_is_refused_and_nothing_written(session):
    events = _events(session, 2)
    events[0].consumed_at = SECOND  # would be overwritten behind the session's back
    with pytest.raises(ValueError, match="already changed"):
        update_each(session, [(event, {"consumed_at": FIRST}) for event in events])
    session.rollback()
    assert {consumed for _kind, consumed in _rows(session).values()} == {None}


def test_rows_setting_different_attributes_are_refused(session):
    events = _events(session, 2)
    with pytest.raises(ValueError, match="the same attributes"):
        update_each(session, [(events[0], {"consumed_at": FIRST}), (events[1], {"kind": "other"})])


def test_a_row_gone_from_the_table_raises(session):
    events = _events(session, 2)
    session.execute(DomainEvent.__table__.delete().where(DomainEvent.id == events[1].id))
    with pytest.raises(RuntimeError, match="2 rows to update, 1 found"):
        update_each(session, [(event, {"consumed_at": FIRST}) for event in events])
