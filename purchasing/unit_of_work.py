"""Transactions and pages: what every service does the same way.

A use case runs in one transaction: ``with transaction(session): ...`` commits once at the
end and rolls back on any failure, so a refused request leaves nothing half-done.
Rows written in bulk by a Core INSERT join the session as the ORM's own inserts do
(:func:`adopt_inserted`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, event, func, select
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached

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
    for obj in objects:
        make_transient_to_detached(obj)
        session.add(obj)
    if _ADOPTED not in session.info:
        session.info[_ADOPTED] = []
        event.listen(session, "after_soft_rollback", _expunge_rolled_back)
        event.listen(session, "after_commit", _forget_committed)
    session.info[_ADOPTED].append((current, list(objects)))


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
