"""Document numbers: per series and fiscal year, unique, chronological and without gaps.

The counter row is incremented with ``UPDATE ... RETURNING`` inside the caller's
transaction (one statement; the row is created with the first number of a series and
year): the row lock serialises concurrent issuers (PostgreSQL) and a rollback gives
the number back, so a number exists only if the document that carries it was committed.
"""

from __future__ import annotations

from sqlalchemy import Integer, String, bindparam, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from purchasing.db import Base


class NumberSequence(Base):
    __tablename__ = "number_sequences"

    #: e.g. "FA" (invoices), "AV" (credit notes), "BCF" (purchase orders)
    series: Mapped[str] = mapped_column(String(10), primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: last number handed out; the next one is last_value + 1
    last_value: Mapped[int] = mapped_column(default=0)


def next_number(session: Session, series: str, fiscal_year: int) -> int:
    """Reserve the next number of ``series`` for ``fiscal_year`` in the current transaction."""
    return next_numbers(session, series, fiscal_year, 1)[0]


def next_numbers(session: Session, series: str, fiscal_year: int, count: int) -> range:
    """Reserve the next ``count`` numbers of ``series`` for ``fiscal_year`` at once, in the
    current transaction: one statement for a billing run's group of invoices rather than
    one each. The caller must use them all, in order, or roll back."""
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    # Core, on the session's connection: the statement runs on every order and group of
    # invoices, and nothing of the ORM (no flush, no object to synchronise) applies to it.
    connection = session.connection()
    params = {"of_series": series, "of_year": fiscal_year, "count": count}
    last = connection.execute(_COUNTER, params).scalar_one_or_none()
    if last is None:
        # The series' first number of the year: its counter row is created (a concurrent
        # creator wins the key, and we wait for it), then counted on like any other.
        insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
        connection.execute(
            insert(NumberSequence)
            .values(series=series, fiscal_year=fiscal_year, last_value=0)
            .on_conflict_do_nothing()
        )
        last = connection.execute(_COUNTER, params).scalar_one()
    return range(last - count + 1, last + 1)


_SEQUENCES = NumberSequence.__table__
_COUNTER = (
    update(_SEQUENCES)
    .where(
        _SEQUENCES.c.series == bindparam("of_series"),
        _SEQUENCES.c.fiscal_year == bindparam("of_year"),
    )
    .values(last_value=_SEQUENCES.c.last_value + bindparam("count"))
    .returning(_SEQUENCES.c.last_value)
)


def format_number(series: str, fiscal_year: int, value: int) -> str:
    """``format_number("FA", 2026, 123)`` -> ``"FA-2026-000123"``."""
    return f"{series}-{fiscal_year}-{value:06d}"
