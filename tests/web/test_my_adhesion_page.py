"""A member agent reads its collectivity's adhesion: status, dates, convention, fee, domains."""

from datetime import date
from decimal import Decimal

import pytest

from purchasing.fields import today_in_paris
from purchasing.members import services
from purchasing.members.models import AdhesionStatus
from tests.factories import make_member


def test_active_adhesion_with_its_convention_deliberation_and_domains(pages_as, session):
    member = make_member(session, name="Commune de Wimille", service_domains=["telecom"])
    adhesion = member.current_adhesion

    page = pages_as("member", member=member).get("/my/adhesion")

    assert page.status_code == 200
    assert "Mon adhésion" in page.text and "Commune de Wimille" in page.text
    assert "Active" in page.text and "Votre collectivité peut commander." in page.text
    assert adhesion.convention_number in page.text
    assert f"{adhesion.deliberation_reference} du 14/02/2023" in page.text
    assert "01/03/2023" in page.text  # in force since
    assert "Télécommunications" in page.text and "Mairie Connectée" not in page.text
    assert "Gratuite" in page.text  # no fee schedule: adhesion is free
    assert "Barème fixé" not in page.text


def test_the_fee_of_the_members_population_band(pages_as, session):
    services.set_fee_schedule(
        session,
        valid_from_year=2024,
        deliberation_reference="2024-03",
        deliberation_date=date(2024, 1, 15),
        bands=[
            {"population_min": 0, "population_max": 2999, "amount": Decimal("400.00")},
            {"population_min": 3000, "population_max": None, "amount": Decimal("1500.00")},
        ],
        actor=None,
    )
    member = make_member(session, population=4200)

    page = pages_as("member", member=member).get("/my/adhesion")

    assert f"Cotisation {today_in_paris().year}" in page.text
    assert "1\u202f500,00\u00a0€" in page.text
    assert "Gratuite" not in page.text
    assert "Barème fixé par la délibération 2024-03 du 15/01/2024" in page.text


@pytest.mark.parametrize(
    ("status", "shown"),
    [(AdhesionStatus.SUSPENDED, "Suspendue"), (AdhesionStatus.REQUESTED, "Demandée")],
)
def test_an_adhesion_not_in_force_says_the_member_cannot_order(pages_as, session, status, shown):
    member = make_member(session, adhesion_status=status)
    page = pages_as("member", member=member).get("/my/adhesion")
    assert shown in page.text
    assert "ne peut pas commander" in page.text


def test_a_member_without_adhesion_is_told_how_to_join(pages_as, session):
    member = make_member(session, adhesion_status=None, service_domains=())
    page = pages_as("member", member=member).get("/my/adhesion")
    assert page.status_code == 200
    assert "pas encore demandé son adhésion" in page.text


def test_a_member_sees_only_its_own_adhesion(pages_as, session):
    mine, theirs = make_member(session), make_member(session)
    page = pages_as("member", member=mine).get("/my/adhesion")
    assert mine.current_adhesion.convention_number in page.text
    assert theirs.current_adhesion.convention_number not in page.text
    assert theirs.name not in page.text


@pytest.mark.parametrize("role", ["purchasing", "finance", "auditor", "admin"])
def test_other_roles_are_refused(pages_as, role):
    assert pages_as(role).get("/my/adhesion").status_code == 403
