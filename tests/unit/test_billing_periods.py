from datetime import date

import pytest

from purchasing.billing.periods import (
    InvalidPeriod,
    Period,
    month,
    parse_month,
    served,
    year,
)

NOV = month(2026, 11)


def test_months_and_years():
    assert Period(date(2026, 11, 1), date(2026, 11, 30)) == NOV
    assert month(2028, 2).days == 29
    assert year(2026).days == 365
    assert parse_month("2026-02") == month(2026, 2)


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-11", "novembre", ""])
def test_a_badly_written_month_is_refused(text):
    with pytest.raises(InvalidPeriod):
        parse_month(text)


def test_served_part_of_a_period():
    assert served(NOV, date(2026, 1, 1), None) == NOV
    assert served(NOV, date(2026, 11, 10), None) == Period(date(2026, 11, 10), date(2026, 11, 30))
    assert served(NOV, date(2026, 1, 1), date(2026, 11, 5)) == Period(
        date(2026, 11, 1), date(2026, 11, 5)
    )
    assert served(NOV, date(2026, 12, 1), None) is None
    assert served(NOV, date(2026, 1, 1), date(2026, 10, 31)) is None
