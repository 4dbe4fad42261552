"""Amounts summed in whole cents by the database: exact on both databases.

SQLite keeps numerics as binary floats, whose sum over a million lines may drift by a
cent; a sum of integers never does.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, cast, func

__all__ = ["cents", "cents_sum", "from_cents"]


def cents(column: Any) -> ColumnElement[int]:
    """An amount column as whole cents: 1234.56 -> 123456."""
    return cast(func.round(column * 100), BigInteger)


def cents_sum(column: Any) -> ColumnElement[int]:
    """SUM of an amount column as whole cents; 0 when there is nothing to sum."""
    return func.coalesce(func.sum(cents(column)), 0)


def from_cents(amount: int | None) -> Decimal:
    """Whole cents back to euros: 12345 -> Decimal("123.45")."""
    return Decimal(amount or 0).scaleb(-2)
