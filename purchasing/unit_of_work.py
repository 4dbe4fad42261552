"""Transactions and pages: what every service does the same way.

A use case runs in one transaction: ``with transaction(session): ...`` commits once at the
end and rolls back on any failure, so a refused request leaves nothing half-done.
Rows written in bulk by a Core INSERT join the session as the ORM's own inserts do
(:func:`insert_returning`, :func:`adopt_inserted`); many rows changed alike are written by
one UPDATE (:func:`update_together`), each its own way by one executemany UPDATE
(:func:`update_each`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    Column,
    Insert,
    Select,
    Table,
    bindparam,
    event,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached
from sqlalchemy.orm.attributes import get_history, set_committed_value

from purchasing.db import any_of

T = TypeVar("T")


@contextmanager
def transaction(session: Session) -> Iterator[None]:
    """Commit once at the end; on any failure roll back, so nothing is left half-done."""
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


#: ``session.info`` key: the objects :func:`adopt_inserted` gave the session, with the
#: transaction each was written in.
_ADOPTED = "centrale.adopted"


def adopt_inserted(session: Session, objects: Sequence[Any]) -> None:
    """Hand ``objects``, whose rows a Core INSERT has just written in the session's
    transaction (every column set on each, its key included), to the session as
    persistent: later changes to them are flushed as usual, and a rollback of that
    transaction takes them out of the session, as it does the objects the ORM inserted
    itself (their ids may then be given to other rows).

    For many rows at once: the ORM's unit of work costs more than the INSERT.
    """
    current = session.get_nested_transaction() or session.get_transaction()
    if current is None:
        raise RuntimeError("adopt_inserted needs the transaction that wrote the rows")
    # All detached before any is added: adding one cascades to the others it refers to,
    # which must then join the session as written rows, not as new ones.
    for obj in objects:
        make_transient_to_detached(obj)
    for obj in objects:
        session.add(obj)
    if _ADOPTED not in session.info:
        session.info[_ADOPTED] = []
        event.listen(session, "after_soft_rollback", _expunge_rolled_back)
        event.listen(session, "after_commit", _forget_committed)
    session.info[_ADOPTED].append((current, list(objects)))


def insert_returning(session: Session, objects: Sequence[Any]) -> None:
    """Write the rows of the new ``objects`` (of one mapped class, each with the same
    attributes set) by one Core ``INSERT ... RETURNING`` in the session's transaction,
    and set every column on them as written, ids included; :func:`adopt_inserted` then
    hands them to the session.

    A column an object leaves unset takes its default and comes back, as in the ORM's own
    insert; the others keep the values the objects hold.
    Relationships are not written: the caller sets the foreign keys, and the rows they
    refer to must exist. For the few rows of a request as for many: the ORM's unit of
    work costs several times the INSERT.
    """
    if not objects:
        return
    cls = type(objects[0])
    mapper = inspect(cls)
    table = mapper.local_table
    attributes = {column.key: mapper.get_property_by_column(column).key for column in table.c}
    rows = [
        {
            column: obj.__dict__[attribute]
            for column, attribute in attributes.items()
            if attribute in obj.__dict__
        }
        for obj in objects
    ]
    for obj, row in zip(objects, rows, strict=True):
        if type(obj) is not cls or row.keys() != rows[0].keys():
            raise ValueError("insert_returning writes objects of one class, set alike")
    unset = tuple(column for column in table.c if column.key not in rows[0])
    statement = _insert_returning(table, unset, len(rows) > 1)
    written = session.connection().execute(statement, rows if len(rows) > 1 else rows[0])
    for obj, row in zip(objects, written.all(), strict=True):
        for column, value in zip(unset, row, strict=True):
            obj.__dict__[attributes[column.key]] = value


def update_together(session: Session, objects: Sequence[Any], key: str, value: Any) -> None:
    """Set attribute ``key`` of the persistent ``objects`` (of one mapped class) to
    ``value`` by one ``UPDATE`` in the session's transaction, and on the objects as
    written: the session has nothing left to write for them.

    For the hundreds of rows of a billing run's group that change alike (set-up fees and
    deliveries marked billed), which the unit of work writes by one ``UPDATE`` a row.
    The caller checks first, by the objects' own rules, that the change is allowed. A row
    missing from the table raises: the caller's transaction is to roll back.
    """
    if not objects:
        return
    cls = type(objects[0])
    mapper = inspect(cls)
    (column,) = mapper.attrs[key].columns
    (primary_key,) = mapper.primary_key
    for obj in objects:
        # get_history reads the one attribute; ``state.attrs`` would build every one's.
        if (
            type(obj) is not cls
            or not inspect(obj).persistent
            or get_history(obj, key).has_changes()
        ):
            raise ValueError(f"update_together sets {key} of persistent objects, unchanged")
    ids = {mapper.primary_key_from_instance(obj)[0] for obj in objects}
    # On the connection: the session's autoflush has nothing of these rows to write first.
    written = session.connection().execute(
        update(mapper.local_table)
        .where(any_of(session, primary_key, ids))
        .values({column.key: value})
    )
    if written.rowcount != len(ids):
        raise RuntimeError(f"{len(ids)} rows to update, {written.rowcount} found")
    for obj in objects:
        set_committed_value(obj, key, value)


def update_each(session: Session, changes: Sequence[tuple[Any, Mapping[str, Any]]]) -> None:
    """Set attributes of persistent objects (of one mapped class), each to its own
    values (the same attributes for all), by one executemany ``UPDATE`` in the session's
    transaction, and on the objects as written: the session has nothing left to write
    for them.

    For changes that must reach the database apart from the session's next flush: the
    aid on the lines of invoices being issued, written ahead of the invoices issued
    (once issued, an invoice's lines never change, and a flush writes an invoice before
    its lines). As with :func:`update_together`, mapper events (``before_update``) are
    not run: the caller checks first, by the objects' own rules, that the change is
    allowed. A row missing from the table raises: the caller's transaction is to roll
    back.
    """
    if not changes:
        return
    cls = type(changes[0][0])
    mapper = inspect(cls)
    (primary_key,) = mapper.primary_key
    keys = tuple(changes[0][1])
    for obj, values in changes:
        if type(obj) is not cls or not inspect(obj).persistent or tuple(values) != keys:
            raise ValueError("update_each sets the same attributes of persistent objects")
        for key in keys:
            if get_history(obj, key).has_changes():
                raise ValueError(f"update_each sets {key}, already changed in the session")
    columns = tuple(mapper.attrs[key].columns[0] for key in keys)
    rows = [
        {
            "_key": mapper.primary_key_from_instance(obj)[0],
            **{column.key: values[key] for key, column in zip(keys, columns, strict=True)},
        }
        for obj, values in changes
    ]
    # On the connection: the session's autoflush has nothing of these rows to write first.
    written = session.connection().execute(
        _update_by_key(mapper.local_table, primary_key, columns), rows
    )
    if session.get_bind().dialect.supports_sane_multi_rowcount and written.rowcount != len(rows):
        raise RuntimeError(f"{len(rows)} rows to update, {written.rowcount} found")
    for obj, values in changes:
        for key, value in values.items():
            set_committed_value(obj, key, value)


@functools.cache
def _update_by_key(table: Table, primary_key: Column, columns: tuple[Column, ...]):
    """Built once per shape, as :func:`_insert_returning`."""
    return (
        update(table)
        .where(primary_key == bindparam("_key"))
        .values({column.key: bindparam(column.key) for column in columns})
    )


@functools.cache
def _insert_returning(table: Table, unset: tuple[Column, ...], many: bool) -> Insert:
    """Built once per shape: the statement's cache key is then computed once."""
    return table.insert().returning(*unset, sort_by_parameter_order=many)


def _expunge_rolled_back(session: Session, rolled_back: SessionTransaction) -> None:
    """The adopted objects written in ``rolled_back`` or in a transaction inside it."""
    kept = []
    for written_in, objects in session.info.get(_ADOPTED, []):
        transaction: SessionTransaction | None = written_in
        while transaction is not None and transaction is not rolled_back:
            transaction = transaction.parent
        if transaction is None:
            kept.append((written_in, objects))
            continue
        for obj in objects:
            if obj in session:
                session.expunge(obj)
    session.info[_ADOPTED] = kept


def _forget_committed(session: Session) -> None:
    """Once the outermost transaction commits, every adopted row is there to stay (a
    savepoint released may still be rolled back with the transaction around it)."""
    if not session.in_nested_transaction():
        session.info[_ADOPTED] = []


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    #: How many items match, over all pages.
    total: int
    page: int
    per_page: int


def paginate(session: Session, query: Select[Any], *, page: int, per_page: int) -> Page[Any]:
    """One page of ``query`` (already ordered) and the count of all its rows."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = session.scalars(query.offset((page - 1) * per_page).limit(per_page))
    return Page(items=list(items), total=total or 0, page=page, per_page=per_page)


def page_of(items: Sequence[T], *, page: int, per_page: int) -> Page[T]:
    """One page of ``items``, a list computed in full (its totals are over all of it)."""
    start = (page - 1) * per_page
    return Page(
        items=list(items[start : start + per_page]), total=len(items), page=page, per_page=per_page
    )
