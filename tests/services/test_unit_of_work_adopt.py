"""Rows written by a Core INSERT join the session as the ORM's own inserts do."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from purchasing.events import DomainEvent
from purchasing.unit_of_work import adopt_inserted, insert_returning

AT = datetime(2026, 11, 30, tzinfo=UTC)


def _written(session, *ids: int, kind: str = "invoice.issued") -> list[DomainEvent]:
    """Events with ``ids`` written by a Core INSERT, as objects holding every column."""
    rows = [
        {
            "id": event_id,
            "kind": kind,
            "entity": "invoice",
            "entity_id": str(event_id),
            "payload": {"n": event_id},
            "occurred_at": AT,
            "consumed_at": None,
        }
        for event_id in ids
    ]
    session.execute(DomainEvent.__table__.insert(), rows)
    events = []
    for row in rows:
        event = DomainEvent()
        event.__dict__.update(row)
        events.append(event)
    return events


def _kinds(session) -> dict[int, str]:
    return {
        event_id: kind
        for event_id, kind in session.execute(select(DomainEvent.id, DomainEvent.kind))
    }


def test_an_adopted_object_is_persistent_and_its_changes_are_written(session):
    first, second = _written(session, 1, 2)
    adopt_inserted(session, [first, second])
    assert first in session and second in session
    assert session.get(DomainEvent, 1) is first  # from the identity map, not read again

    first.kind = "invoice.cancelled"
    session.commit()
    assert _kinds(session) == {1: "invoice.cancelled", 2: "invoice.issued"}


def test_a_rollback_takes_the_adopted_objects_out_and_their_ids_may_be_used_again(session):
    (gone,) = _written(session, 1)
    adopt_inserted(session, [gone])
    session.rollback()
    assert gone not in session
    assert _kinds(session) == {}

    # Another row under the same id: the session holds no stale object in its way.
    (again,) = _written(session, 1, kind="order.created")
    adopt_inserted(session, [again])
    session.commit()
    assert session.get(DomainEvent, 1) is again
    assert _kinds(session) == {1: "order.created"}


def test_a_savepoint_rolled_back_takes_out_only_what_was_written_inside_it(session):
    (outside,) = _written(session, 1)
    adopt_inserted(session, [outside])
    savepoint = session.begin_nested()
    (inside,) = _written(session, 2)
    adopt_inserted(session, [inside])
    savepoint.rollback()
    assert outside in session and inside not in session

    outside.kind = "invoice.cancelled"
    session.commit()
    assert _kinds(session) == {1: "invoice.cancelled"}


def test_a_savepoint_released_is_still_rolled_back_with_its_transaction(session):
    with session.begin_nested():
        (inside,) = _written(session, 1)
        adopt_inserted(session, [inside])
    assert inside in session
    session.rollback()
    assert inside not in session
    assert _kinds(session) == {}


def test_what_was_committed_stays_when_a_later_transaction_is_rolled_back(session):
    (kept,) = _written(session, 1)
    adopt_inserted(session, [kept])
    session.commit()
    (later,) = _written(session, 2)
    adopt_inserted(session, [later])
    session.rollback()
    assert kept in session and later not in session
    assert _kinds(session) == {1: "invoice.issued"}


def test_adopting_outside_a_transaction_is_refused(session):
    session.commit()
    with pytest.raises(RuntimeError, match="transaction"):
        adopt_inserted(session, [DomainEvent()])


def _new(kind: str, entity_id: str, **more) -> DomainEvent:
    return DomainEvent(kind=kind, entity="invoice", entity_id=entity_id, payload={}, **more)


def test_insert_returning_gives_each_object_its_own_row_its_id_and_defaults(session):
    events = [_new("invoice.issued", "A"), _new("invoice.cancelled", "B"), _new("x", "C")]
    before = datetime.now(UTC)
    insert_returning(session, events)
    adopt_inserted(session, events)

    ids = [event.id for event in events]
    assert all(isinstance(event_id, int) for event_id in ids) and len(set(ids)) == 3
    # Each object holds its own row: the ids came back in the order the objects were given.
    assert _kinds(session) == dict(
        zip(ids, ["invoice.issued", "invoice.cancelled", "x"], strict=True)
    )
    # The column left unset took its default, and the object holds it without reading.
    assert all(event.occurred_at >= before for event in events)
    assert all(event.consumed_at is None for event in events)
    assert session.get(DomainEvent, ids[1]) is events[1]

    events[2].kind = "invoice.issued"
    session.commit()
    assert _kinds(session)[ids[2]] == "invoice.issued"


def test_insert_returning_one_object(session):
    (event,) = events = [_new("invoice.issued", "A", occurred_at=AT)]
    insert_returning(session, events)
    adopt_inserted(session, events)
    session.commit()
    row = session.execute(select(DomainEvent.__table__).where(DomainEvent.id == event.id)).one()
    assert (row.kind, row.entity_id, row.occurred_at) == ("invoice.issued", "A", AT)


def test_insert_returning_then_a_rollback_leaves_nothing(session):
    events = [_new("invoice.issued", "A"), _new("invoice.issued", "B")]
    insert_returning(session, events)
    adopt_inserted(session, events)
    session.rollback()
    assert _kinds(session) == {}
    assert not any(event in session for event in events)


def test_insert_returning_refuses_objects_set_unalike_and_writes_nothing(session):
    with pytest.raises(ValueError, match="set alike"):
        insert_returning(session, [_new("a", "A"), _new("b", "B", occurred_at=AT)])
    assert _kinds(session) == {}
