"""The annex "délibérations et marchés" of an issued invoice, read back from its PDF.

Each line cites the deliberation that set its price and the market lot it is bought under,
as the order line kept them on the order date: a delivered one-off item through the
order line it bills, a service through its subscription. The Factur-X XML is unchanged
and still valid.
"""

from __future__ import annotations

from datetime import date

import pytest

from purchasing.billing import run, services
from purchasing.billing.facturx import validate_facturx_xml
from purchasing.billing.legal_basis import legal_bases
from purchasing.billing.models import InvoiceLine
from purchasing.catalog.deliberations import Deliberation
from purchasing.catalog.pricing import Billing
from tests.documents import embedded_xml, pdf_text
from tests.factories import make_member, make_order, make_product
from tests.factories.billing import ISSUE_DATE, billing_settings
from tests.factories.catalog import make_lot, make_market, make_supplier

VIDEO_TARIFF = Deliberation("2024-17", date(2024, 3, 12))
SERVICES_TARIFF = Deliberation("DEL-2023-02", date(2023, 2, 7))
FEBRUARY = run.periods.month(2026, 2)


@pytest.fixture
def invoice(session):
    """A camera delivered and a monthly module commissioned, each under its own market."""
    video = make_lot(
        session,
        supplier=make_supplier(session),
        market=make_market(session, number="MAR-2022-03"),
        number="1",
    )
    digital = make_lot(
        session,
        supplier=make_supplier(session),
        market=make_market(session, number="MAR-2023-01"),
        number="2",
    )
    camera = make_product(
        session,
        name="Caméra dôme",
        billing=Billing.ONE_OFF,
        price="480.00",
        lot=video,
        deliberation=VIDEO_TARIFF,
    )
    module = make_product(
        session, name="Messagerie", price="12.00", lot=digital, deliberation=SERVICES_TARIFF
    )
    member = make_member(session)
    make_order(session, member=member, lines=[(camera, 2), (module, 5)], status="delivered")
    (invoice,) = run.invoice_member(
        session,
        member.id,
        FEBRUARY,
        settings=billing_settings(),
        issued_by=None,
        issue_date=ISSUE_DATE,
    )
    return invoice


def test_the_pdf_ends_with_the_annex_citing_each_lines_deliberation_and_market(invoice):
    text = " ".join(pdf_text(invoice.document.pdf).split())

    assert "Annexe : délibérations et marchés" in text
    annex = text[text.index("Annexe : délibérations et marchés") :]
    positions = {line.designation: line.position for line in invoice.lines}
    camera, module = positions["Caméra dôme"], positions["Messagerie"]
    assert (
        f"Ligne {camera} : tarif fixé par la délibération 2024-17 du 12/03/2024, "
        "au titre du marché MAR-2022-03 lot 1"
    ) in annex
    assert (
        f"Ligne {module} : tarif fixé par la délibération DEL-2023-02 du 07/02/2023, "
        "au titre du marché MAR-2023-01 lot 2"
    ) in annex


def test_the_factur_x_xml_of_an_invoice_with_an_annex_still_validates(invoice):
    xml = invoice.document.xml
    validate_facturx_xml(xml)
    assert embedded_xml(invoice.document.pdf) == xml


def test_a_subscription_line_cites_the_order_line_it_comes_from(session, invoice):
    (billed,) = [line for line in invoice.lines if line.subscription_id is not None]
    # A line reached through its subscription alone (an issued line never changes).
    line = InvoiceLine(id=billed.id, order_line_id=None, subscription_id=billed.subscription_id)

    basis = legal_bases(session, [line])[billed.id]

    assert (basis.deliberation_reference, basis.deliberation_date) == (
        "DEL-2023-02",
        date(2023, 2, 7),
    )
    assert basis.market_reference == "MAR-2023-01 lot 2"


def test_a_credit_note_cites_what_the_lines_it_credits_cite(session, invoice):
    note = services.create_credit_note(
        session,
        invoice.id,
        reason="Erreur de quantité",
        settings=billing_settings(),
        issued_by=None,
    )

    text = " ".join(pdf_text(note.document.pdf).split())
    assert "Annexe : délibérations et marchés" in text
    assert "délibération 2024-17 du 12/03/2024, au titre du marché MAR-2022-03 lot 1" in text


def test_lines_citing_nothing_give_no_annex(session):
    product = make_product(session, billing=Billing.ONE_OFF, price="120.00")
    member = make_member(session)
    order = make_order(session, member=member, lines=[(product, 1)], status="delivered")
    # An order line placed before markets and deliberations were kept.
    for line in order.lines:
        line.market_lot = None
        line.deliberation_reference = line.deliberation_date = None
    session.commit()

    (invoice,) = run.invoice_member(
        session,
        member.id,
        FEBRUARY,
        settings=billing_settings(),
        issued_by=None,
        issue_date=ISSUE_DATE,
    )

    assert "Annexe" not in pdf_text(invoice.document.pdf)
