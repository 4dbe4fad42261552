"""Billing periods and proration by day (pure: no database).

Monthly services are billed per calendar month, yearly services per calendar year. A
partial first or last period is prorated by day (``purchasing.money.line_amount`` with
``days`` of ``period_days``); when the quantity changes within a period, each stretch of
constant quantity is its own line, so every figure on the invoice is checkable.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

_PERIOD = re.compile(r"^(?P<year>[1-9]\d{3})-(?P<month>0[1-9]|1[0-2])$")


class InvalidPeriod(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Period:
    """Days from ``start`` to ``end``, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidPeriod(f"period ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def intersect(self, other: Period) -> Period | None:
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Period(start, end) if start <= end else None

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end


def month(year: int, month_number: int) -> Period:
    last = calendar.monthrange(year, month_number)[1]
    return Period(date(year, month_number, 1), date(year, month_number, last))


def year(year_number: int) -> Period:
    return Period(date(year_number, 1, 1), date(year_number, 12, 31))


def parse_month(text: str) -> Period:
    """``"2026-11"`` -> the month of November 2026."""
    match = _PERIOD.match(text.strip())
    if match is None:
        raise InvalidPeriod(f"{text!r} is not a month written YYYY-MM")
    return month(int(match["year"]), int(match["month"]))


def served(period: Period, start: date, end: date | None) -> Period | None:
    """The part of ``period`` during which a service running from start to end (inclusive,
    None while it runs) was provided."""
    return period.intersect(Period(start, end or period.end)) if start <= period.end else None
