"""Rows written by PostgreSQL's COPY are the rows an INSERT writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from purchasing.db import copy_rows, reserve_ids
from purchasing.events import DomainEvent

TABLE = DomainEvent.__table__
AT = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)


def _rows(ids: list[int]) -> list[dict]:
    # Types the driver does not take as they are: JSON, a time with its zone, a NULL.
    return [
        {
            "id": row_id,
            "kind": "invoice.issued",
            "entity": "invoice",
            "entity_id": str(index),
            "payload": {"amount": "1234.56", "lines": [index, "é\t\\n"]},
            "occurred_at": AT,
            "consumed_at": None,
        }
        for index, row_id in enumerate(ids)
    ]


def _read(session, ids: list[int]) -> list[tuple]:
    query = select(TABLE).where(TABLE.c.id.in_(ids)).order_by(TABLE.c.id)
    return [tuple(row)[1:] for row in session.execute(query)]


@pytest.mark.postgres
def test_copy_writes_what_an_insert_writes(session):
    inserted_ids = reserve_ids(session, TABLE, 3)
    copied_ids = reserve_ids(session, TABLE, 3)
    session.execute(TABLE.insert(), _rows(inserted_ids))

    assert copy_rows(session, TABLE, _rows(copied_ids)) is True

    copied = _read(session, copied_ids)
    assert len(copied) == 3
    assert copied == _read(session, inserted_ids)
    assert copied[1][3] == {"amount": "1234.56", "lines": [1, "é\t\\n"]}


def test_copy_elsewhere_writes_nothing_and_says_so(session):
    if session.get_bind().dialect.name == "postgresql":
        pytest.skip("SQLite's answer")
    assert copy_rows(session, TABLE, _rows([1, 2])) is False
    assert session.scalars(select(TABLE.c.id)).all() == []


@pytest.mark.postgres
def test_copy_writes_the_columns_named_and_only_them(session):
    inserted_ids = reserve_ids(session, TABLE, 2)
    copied_ids = reserve_ids(session, TABLE, 2)
    session.execute(TABLE.insert(), _rows(inserted_ids))
    # As an object's __dict__ holds its columns beside what is not one.
    rows = [row | {"_sa_instance_state": object()} for row in _rows(copied_ids)]

    assert copy_rows(session, TABLE, rows, columns=list(_rows([0])[0])) is True

    assert _read(session, copied_ids) == _read(session, inserted_ids)
