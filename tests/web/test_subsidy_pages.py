"""FEDER programmes from the pages: envelopes, statements, grant receipts and reversals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from purchasing import formats
from purchasing.billing import run
from purchasing.catalog.pricing import Billing
from purchasing.members.models import MemberKind
from purchasing.subsidies import services
from purchasing.subsidies.models import SubsidyReceipt, SubsidyReversal
from tests.documents import euros, pdf_text
from tests.factories import make_member, make_order, make_product
from tests.factories.billing import billing_settings
from tests.factories.subsidies import make_programme

D = Decimal


def fr(amount: str) -> str:
    return formats.euros(D(amount))


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def programme(session):
    """Grant 1 000,00 €: envelope 600,00 €, CDG59 and CDG62 200,00 € each; 50 % aid on an
    item sold 120,00 € HT."""
    product = make_product(session, billing=Billing.ONE_OFF, price="120.00", subsidy_eligible=True)
    return make_programme(
        session, products=[product], code="FEDER-MC-T", name="Mairie connectée test"
    )


@pytest.fixture
def aided(session, programme):
    """An invoice of 2 x 120,00 € HT to a small commune: 120,00 € of aid taken."""
    (product,) = programme.products
    commune = make_member(
        session, kind=MemberKind.COMMUNE, population=611, name="Commune d'Ochtezeele"
    )
    make_order(session, member=commune, lines=[(product, 2)], status="delivered")
    (invoice,) = run.invoice_member(
        session,
        commune.id,
        run.periods.month(2026, 3),
        settings=billing_settings(),
        issued_by=None,
        issue_date=date(2026, 3, 2),
    )
    return invoice


def receive(session, programme, amount, on=date(2026, 4, 1), reference="VIR-1"):
    return services.record_receipt(
        session,
        programme.id,
        received_on=on,
        amount=D(amount),
        reference=reference,
        recorded_by=None,
    )


@pytest.fixture
def finance(pages_as):
    return pages_as("finance")


def test_programmes_show_their_envelope_and_grant_money(finance, session, programme, aided):
    receive(session, programme, "500.00")
    services.record_reversal(
        session,
        programme.id,
        partner="CDG59",
        reversed_on=date(2026, 4, 2),
        amount=D("150.00"),
        reference="MDT-1",
        recorded_by=None,
    )

    page = finance.get("/subsidy-programmes")

    assert page.status_code == 200
    assert "FEDER-MC-T" in page.text and "Mairie connectée test" in page.text
    for amount in ("1000.00", "600.00", "120.00", "480.00", "500.00", "150.00"):
        assert fr(amount) in page.text, amount  # grant, envelope, consumed, left, in, out


def test_a_programme_page_shows_its_partners_and_statement_on_a_day(
    finance, session, programme, aided
):
    receive(session, programme, "300.00", on=date(2026, 4, 1), reference="VIR-1")
    receive(session, programme, "200.00", on=date(2026, 6, 1), reference="VIR-2")

    page = finance.get(f"/subsidy-programmes/{programme.id}?as_of=2026-05-01")

    assert page.status_code == 200
    assert "Centre de gestion du Nord" in page.text and fr("200.00") in page.text
    assert "Commune d&#39;Ochtezeele" in page.text  # the aid it consumed
    assert "VIR-1" in page.text and "VIR-2" not in page.text  # received after that day
    assert fr("700.00") in page.text  # still to receive on 01/05
    assert formats.percent(D("0.5")) in page.text and "3\u202f499 habitants" in page.text
    assert "VIR-2" in finance.get(f"/subsidy-programmes/{programme.id}").text


def test_the_statement_pdf_is_downloaded_in_french(finance, session, programme, aided):
    receive(session, programme, "300.00")

    answer = finance.get(f"/subsidy-programmes/{programme.id}/statement.pdf?as_of=2026-05-01")

    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert "etat-FEDER-MC-T-2026-05-01.pdf" in answer.headers["Content-Disposition"]
    text = pdf_text(answer.data)
    assert "État de la subvention" in text and "FEDER-MC-T" in text
    assert euros("300.00") in text and euros("120.00") in text


def test_finance_records_a_receipt(finance, session, programme):
    answer = finance.post(
        f"/subsidy-programmes/{programme.id}/receipts/new",
        {"received_on": "2026-04-01", "amount": "300,00", "reference": "VIR-2026-1"},
    )

    assert answer.status_code == 302
    (receipt,) = session.scalars(select(SubsidyReceipt))
    assert (receipt.amount, receipt.received_on) == (D("300.00"), date(2026, 4, 1))
    page = finance.get(answer.location)
    assert "Versement VIR-2026-1 enregistré sur FEDER-MC-T." in page.text


def test_a_receipt_beyond_the_grant_is_refused_next_to_the_amount(finance, session, programme):
    receive(session, programme, "900.00")

    answer = finance.post(
        f"/subsidy-programmes/{programme.id}/receipts/new",
        {"received_on": "2026-04-02", "amount": "100,01", "reference": "VIR-2"},
    )

    assert answer.status_code == 422
    assert 'id="amount-error"' in answer.text
    assert f"Au plus {fr('100.00')} peuvent encore être reçus" in answer.text
    assert 'value="100,01"' in answer.text and 'value="VIR-2"' in answer.text
    assert count(session, SubsidyReceipt) == 1


def test_a_receipt_reference_is_recorded_once(finance, session, programme):
    receive(session, programme, "100.00", reference="VIR-1")

    answer = finance.post(
        f"/subsidy-programmes/{programme.id}/receipts/new",
        {"received_on": "2026-04-02", "amount": "50", "reference": "VIR-1"},
    )

    assert answer.status_code == 422
    assert 'id="reference-error"' in answer.text
    assert "La référence VIR-1 est déjà enregistrée sur FEDER-MC-T." in answer.text
    assert count(session, SubsidyReceipt) == 1


def test_finance_records_a_reversal_to_a_partner(finance, session, programme):
    receive(session, programme, "500.00")

    form = finance.get(f"/subsidy-programmes/{programme.id}/reversals/new")
    answer = finance.post(
        f"/subsidy-programmes/{programme.id}/reversals/new",
        {"partner": "CDG62", "reversed_on": "2026-04-05", "amount": "200", "reference": "MDT-7"},
    )

    assert 'value="CDG62"' in form.text and "Centre de gestion du Pas-de-Calais" in form.text
    assert answer.status_code == 302
    (reversal,) = session.scalars(select(SubsidyReversal))
    assert (reversal.partner.code, reversal.amount) == ("CDG62", D("200.00"))
    assert "MDT-7" in finance.get(answer.location).text


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        (
            {"amount": "200,01", "reversed_on": "2026-04-05"},
            "amount",
            f"Au plus {fr('200.00')} peuvent encore être reversés à CDG59",
        ),
        (
            {"amount": "100", "reversed_on": "2026-03-31"},  # before any money came in
            "amount",
            f"Au plus {fr('0.00')} peuvent être reversés au 31/03/2026",
        ),
        ({"amount": "", "reversed_on": "2026-04-05"}, "amount", "Ce champ est obligatoire."),
        ({"amount": "10", "reversed_on": "le 5 avril"}, "reversed_on", "Saisissez une date"),
    ],
)
def test_a_refused_reversal_is_named_next_to_its_field(
    finance, session, programme, typed, field, message
):
    receive(session, programme, "500.00")

    answer = finance.post(
        f"/subsidy-programmes/{programme.id}/reversals/new",
        {"partner": "CDG59", "reference": "MDT-8", **typed},
    )

    assert answer.status_code == 422
    assert f'id="{field}-error"' in answer.text and message in answer.text
    assert 'value="MDT-8"' in answer.text
    assert count(session, SubsidyReversal) == 0


def test_programme_pages_are_finances_only(pages_as, session, programme):
    for role in ("member", "purchasing", "auditor"):
        browser = pages_as(role)
        for path in (
            "/subsidy-programmes",
            f"/subsidy-programmes/{programme.id}",
            f"/subsidy-programmes/{programme.id}/statement.pdf",
            f"/subsidy-programmes/{programme.id}/receipts/new",
        ):
            assert browser.get(path).status_code == 403, (role, path)
    finance = pages_as("admin")
    assert finance.get("/subsidy-programmes/999999").status_code == 404
    assert finance.get("/subsidy-programmes/999999/receipts/new").status_code == 404


def test_without_a_programme_the_list_says_how_to_load_one(finance):
    assert "Aucun programme" in finance.get("/subsidy-programmes").text
