from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from purchasing.numbering import NumberSequence, format_number, next_number, next_numbers


def test_numbers_follow_each_other_per_series_and_year(session):
    assert [next_number(session, "FA", 2026) for _ in range(3)] == [1, 2, 3]
    assert next_number(session, "AV", 2026) == 1
    assert next_number(session, "FA", 2027) == 1
    assert next_number(session, "FA", 2026) == 4


def test_a_rolled_back_number_is_handed_out_again(session):
    assert next_number(session, "FA", 2026) == 1
    session.commit()
    nested = session.begin_nested()
    assert next_number(session, "FA", 2026) == 2
    nested.rollback()
    assert next_number(session, "FA", 2026) == 2


def test_a_block_of_numbers_follows_the_last_one_and_goes_back_whole_on_rollback(session):
    assert next_number(session, "FA", 2026) == 1
    session.commit()
    nested = session.begin_nested()
    assert list(next_numbers(session, "FA", 2026, 50)) == list(range(2, 52))
    nested.rollback()
    assert list(next_numbers(session, "FA", 2026, 3)) == [2, 3, 4]
    assert next_number(session, "FA", 2026) == 5


def test_a_block_of_no_number_is_refused(session):
    with pytest.raises(ValueError, match="at least 1"):
        next_numbers(session, "FA", 2026, 0)


def test_format():
    assert format_number("FA", 2026, 123) == "FA-2026-000123"


@pytest.mark.postgres
def test_concurrent_issuers_get_no_gap_and_no_duplicate(engine):
    series, year, workers, per_worker = "TST", 1999, 8, 25

    def take(_: int) -> list[int]:
        taken = []
        for _ in range(per_worker):
            with Session(engine) as session:
                taken.append(next_number(session, series, year))
                session.commit()
        return taken

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            numbers = [n for chunk in pool.map(take, range(workers)) for n in chunk]
        assert sorted(numbers) == list(range(1, workers * per_worker + 1))
    finally:
        with engine.begin() as conn:
            conn.execute(delete(NumberSequence).where(NumberSequence.series == series))
