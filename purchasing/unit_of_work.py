"""Transactions and pages: what every service does the same way.

A use case runs in one transaction: ``with transaction(session): ...`` commits once at the
end and rolls back on any failure, so a refused request leaves nothing half-done.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

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
