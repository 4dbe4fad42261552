"""Fixtures of the service tests that commit for real (concurrency on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Table, and_, delete, func, select, update

from purchasing.models import metadata


def _parent_keyed(table: Table) -> Table | None:
    """The table whose id keys ``table`` (invoice documents by their invoice's), if any."""
    if "id" in table.c or len(table.primary_key.columns) != 1:
        return None
    (column,) = table.primary_key.columns
    parents = [fk.column.table for fk in column.foreign_keys if "id" in fk.column.table.c]
    return parents[0] if parents else None


def _rows_by_key(conn: Connection, table: Table) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {
        tuple(row[column.name] for column in table.primary_key.columns): dict(row)
        for row in conn.execute(select(table)).mappings()
    }


def _is_key(table: Table, key: tuple[Any, ...]) -> Any:
    columns = table.primary_key.columns
    return and_(*(column == value for column, value in zip(columns, key, strict=True)))


@pytest.fixture
def committed(engine: Engine) -> Iterator[Engine]:
    """The engine; every row committed through it during the test is removed afterwards.

    Rows above the highest id each table had before the test are the test's (a table keyed
    by its parent's id goes with its parent). Tables with natural keys (number series,
    fiscal years) are small: they get back the very rows they had.
    """
    with engine.connect() as conn:
        watermarks = {
            table: conn.scalar(select(func.coalesce(func.max(table.c.id), 0)))
            for table in metadata.sorted_tables
            if "id" in table.c
        }
        snapshots = {
            table: _rows_by_key(conn, table)
            for table in metadata.sorted_tables
            if "id" not in table.c and _parent_keyed(table) is None
        }
    try:
        yield engine
    finally:
        with engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                _remove_rows_added(conn, table, watermarks, snapshots)


def _remove_rows_added(
    conn: Connection,
    table: Table,
    watermarks: dict[Table, int],
    snapshots: dict[Table, dict[tuple[Any, ...], dict[str, Any]]],
) -> None:
    if table in watermarks:
        conn.execute(delete(table).where(table.c.id > watermarks[table]))
    elif (parent := _parent_keyed(table)) is not None:
        (column,) = table.primary_key.columns
        conn.execute(delete(table).where(column > watermarks[parent]))
    else:
        before = snapshots[table]
        for key, row in _rows_by_key(conn, table).items():
            if key not in before:
                conn.execute(delete(table).where(_is_key(table, key)))
            elif row != before[key]:
                conn.execute(update(table).where(_is_key(table, key)).values(before[key]))
