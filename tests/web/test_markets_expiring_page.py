"""The purchasing staff's page of the framework markets about to end."""

from __future__ import annotations

from datetime import timedelta

import pytest

from purchasing.fields import today_in_paris
from tests.factories import make_member, make_order, make_product
from tests.factories.catalog import make_lot, make_market, make_supplier


def plain(html: str) -> str:
    """The page's text with no-break spaces as plain ones, as the figures are compared."""
    return html.replace("\u202f", " ").replace("\u00a0", " ").replace("&nbsp;", " ")


@pytest.fixture
def markets(session):
    """A market ending in 30 days (two lots, one with a ceiling partly committed), and one
    ending in 200 days."""
    today = today_in_paris()
    ending = make_market(
        session,
        number="MAR-2022-03",
        title="Vidéoprotection",
        end_date=today + timedelta(days=30),
    )
    cameras = make_lot(
        session,
        market=ending,
        number="2",
        title="Fourniture et pose",
        supplier=make_supplier(session, name="Vigie Sécurité"),
        yearly_ceiling="100000.00",
    )
    make_lot(
        session,
        market=ending,
        number="1",
        title="Études",
        supplier=make_supplier(session, name="Sûreté Conseil"),
    )
    make_market(session, number="MAR-2024-02", end_date=today + timedelta(days=200))
    # Committed this year: 2 x 100,00 € a month for twelve months = 2 400,00 €.
    product = make_product(session, lot=cameras, cost="100.00")
    make_order(session, member=make_member(session), lines=[(product, 2)], status="approved")
    return ending


def test_purchasing_staff_see_the_lots_holders_days_left_and_consumption(pages_as, markets):
    page = pages_as("purchasing").get("/markets/expiring")

    assert page.status_code == 200
    text = plain(page.text)
    assert "Marchés arrivant à échéance" in text
    assert "MAR-2022-03 · Vidéoprotection" in text
    assert "prend fin dans 30 jours" in text
    assert "MAR-2024-02" not in text  # ends in 200 days, beyond the 90 looked at
    assert "Vigie Sécurité" in text and "Sûreté Conseil" in text
    assert "100 000,00 €" in text  # the ceiling of the year
    assert "2 400,00 €" in text  # committed by the approved order
    assert "97 600,00 €" in text  # left
    assert "2,4 %" in text
    assert "sans montant maximum" in text
    # Lots by number.
    assert text.index("Sûreté Conseil") < text.index("Vigie Sécurité")


def test_a_wider_window_shows_the_later_market(pages_as, markets):
    page = pages_as("admin").get("/markets/expiring?within=365")
    assert "MAR-2024-02" in page.text
    assert "prend fin dans 200 jours" in page.text


def test_a_bad_window_is_shown_in_french_and_the_default_applies(pages_as, markets):
    page = pages_as("purchasing").get("/markets/expiring?within=-3")
    assert page.status_code == 200
    assert 'class="error"' in page.text
    assert "MAR-2022-03" in page.text


def test_nothing_ending_says_so(pages_as):
    page = pages_as("purchasing").get("/markets/expiring")
    assert "Aucun marché ne prend fin dans cette période." in page.text


def test_the_home_page_and_menu_link_to_it_for_purchasing_only(pages_as):
    assert 'href="/markets/expiring"' in pages_as("purchasing").get("/").text
    assert 'href="/markets/expiring"' not in pages_as("finance").get("/").text


@pytest.mark.parametrize("role", ["finance", "auditor"])
def test_other_staff_are_refused(pages_as, role):
    assert pages_as(role).get("/markets/expiring").status_code == 403


def test_a_member_agent_is_refused(pages_as, session):
    agent = pages_as("member", member=make_member(session))
    assert agent.get("/markets/expiring").status_code == 403
