"""The adhesion fee schedule: free by default, a yearly amount by population band."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from purchasing.audit.models import AuditRecord
from purchasing.errors import Conflict, ValidationFailed
from purchasing.members import services
from purchasing.members.models import AdhesionFeeBand, MemberKind
from tests.factories import make_member, make_user

#: A peer's grid: 400 EUR for a small EPCI up to 30 000 EUR for a métropole.
PEER_BANDS = [
    {"population_min": 0, "population_max": 9_999, "amount": Decimal("0.00")},
    {"population_min": 10_000, "population_max": 49_999, "amount": Decimal("400.00")},
    {"population_min": 50_000, "population_max": 399_999, "amount": Decimal("4500.00")},
    {"population_min": 400_000, "population_max": None, "amount": Decimal("30000.00")},
]


@pytest.fixture
def admin(session):
    return make_user(session, role="admin")[0]


def set_schedule(session, year: int, bands=PEER_BANDS, actor=None, reference="CS-2025-03"):
    return services.set_fee_schedule(
        session,
        valid_from_year=year,
        deliberation_reference=reference,
        deliberation_date=date(year - 1, 12, 10),
        bands=bands,
        actor=actor,
    )


def test_the_adhesion_is_free_when_no_schedule_was_set(session):
    member = make_member(session, population=120_000)
    assert services.adhesion_fee(session, member, 2025) == Decimal("0.00")


@pytest.mark.parametrize(
    ("population", "fee"),
    [
        (611, "0.00"),
        (9_999, "0.00"),
        (10_000, "400.00"),
        (49_999, "400.00"),
        (101_368, "4500.00"),
        (1_200_000, "30000.00"),
    ],
)
def test_a_member_pays_the_band_its_population_falls_in(session, population, fee):
    set_schedule(session, 2025)
    member = make_member(session, kind=MemberKind.EPCI, population=population)
    assert services.adhesion_fee(session, member, 2025) == Decimal(fee)


def test_a_schedule_stays_in_force_until_a_later_one(session):
    set_schedule(session, 2025)
    cheaper = [{"population_min": 0, "population_max": None, "amount": Decimal("250.00")}]
    set_schedule(session, 2027, bands=cheaper, reference="CS-2026-11")
    member = make_member(session, population=20_000)

    fees = {year: services.adhesion_fee(session, member, year) for year in range(2024, 2029)}

    assert fees == {
        2024: Decimal("0.00"),
        2025: Decimal("400.00"),
        2026: Decimal("400.00"),
        2027: Decimal("250.00"),
        2028: Decimal("250.00"),
    }
    assert [b.amount for b in services.list_fee_bands(session, year=2026)] == [
        Decimal(band["amount"]) for band in PEER_BANDS
    ]
    assert services.list_fee_bands(session, year=2024) == []


def test_a_population_in_a_gap_of_the_schedule_pays_nothing(session):
    set_schedule(session, 2025, bands=[PEER_BANDS[1], PEER_BANDS[3]])
    member = make_member(session, population=60_000)
    assert services.adhesion_fee(session, member, 2025) == Decimal("0.00")


def test_overlapping_bands_are_refused_and_nothing_is_stored(session, admin):
    overlapping = [
        {"population_min": 0, "population_max": 10_000, "amount": Decimal("0.00")},
        {"population_min": 10_000, "population_max": None, "amount": Decimal("400.00")},
    ]
    with pytest.raises(ValidationFailed) as refused:
        set_schedule(session, 2025, bands=overlapping, actor=admin)
    assert refused.value.errors == {"bands": ["bands 0-10000 and 10000+ overlap"]}
    assert session.scalar(select(func.count()).select_from(AdhesionFeeBand)) == 0


def test_a_schedule_is_set_once_per_year(session, admin):
    set_schedule(session, 2025, actor=admin)
    with pytest.raises(Conflict) as refused:
        set_schedule(session, 2025, bands=PEER_BANDS[:1], actor=admin)
    assert list(refused.value.errors) == ["valid_from_year"]
    assert len(services.list_fee_bands(session)) == len(PEER_BANDS)


def test_a_schedule_needs_a_band(session, admin):
    with pytest.raises(ValidationFailed) as refused:
        set_schedule(session, 2025, bands=[], actor=admin)
    assert list(refused.value.errors) == ["bands"]


def test_each_band_set_is_audited(session, admin):
    bands = set_schedule(session, 2025, actor=admin)
    records = session.scalars(
        select(AuditRecord).where(AuditRecord.entity == "adhesion_fee_band")
    ).all()
    assert sorted(int(r.entity_id) for r in records) == sorted(b.id for b in bands)
    assert {(r.action, r.actor_id) for r in records} == {("adhesion_fee_band.created", admin.id)}
    assert records[-1].after["amount"] == "30000.00"
    assert records[-1].after["deliberation_reference"] == "CS-2025-03"


def test_a_schedule_carries_the_reference_and_date_of_its_deliberation(session, admin):
    bands = set_schedule(session, 2025, actor=admin)
    assert {(b.deliberation_reference, b.deliberation_date) for b in bands} == {
        ("CS-2025-03", date(2024, 12, 10))
    }
    assert str(bands[0].deliberation) == "CS-2025-03 du 10/12/2024"


def test_the_deliberation_is_a_required_keyword(session, admin):
    with pytest.raises(TypeError, match="deliberation_date"):
        services.set_fee_schedule(  # type: ignore[call-arg]
            session,
            valid_from_year=2025,
            deliberation_reference="CS-2025-03",
            bands=PEER_BANDS,
            actor=admin,
        )
    assert session.scalar(select(func.count()).select_from(AdhesionFeeBand)) == 0


@pytest.mark.parametrize(
    ("reference", "adopted_on", "field"),
    [
        ("CS-2025-03", None, "deliberation_date"),
        ("  ", date(2024, 12, 10), "deliberation_reference"),
    ],
)
def test_a_schedule_without_its_deliberation_is_refused(
    session, admin, reference, adopted_on, field
):
    with pytest.raises(ValidationFailed) as refused:
        services.set_fee_schedule(
            session,
            valid_from_year=2025,
            deliberation_reference=reference,
            deliberation_date=adopted_on,
            bands=PEER_BANDS,
            actor=admin,
        )
    assert list(refused.value.errors) == [field]
    assert session.scalar(select(func.count()).select_from(AdhesionFeeBand)) == 0


def test_the_band_of_a_member_cites_the_deliberation_of_its_schedule(session):
    set_schedule(session, 2025, reference="CS-2025-03")
    member = make_member(session, population=12_000)
    band = services.adhesion_fee_band(session, member, 2026)
    assert (band.amount, str(band.deliberation)) == (Decimal("400.00"), "CS-2025-03 du 10/12/2024")
    assert services.adhesion_fee_band(session, member, 2024) is None
