"""What an issued invoice says for Chorus Pro, its date of supply, and its stored file."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from purchasing.billing import run, services
from purchasing.billing.facturx import validate_facturx_xml
from purchasing.billing.models import InvoiceDocumentFile
from purchasing.catalog.pricing import Billing
from tests.documents import cii, pdf_text
from tests.factories import make_member, make_order, make_product
from tests.factories.billing import ISSUE_DATE, billing_settings, make_issued_invoice

BUYER_REFERENCE = "//ram:ApplicableHeaderTradeAgreement/ram:BuyerReference"
ORDER_REFERENCE = "//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"


@pytest.fixture
def chorus_member(session):
    return make_member(
        session,
        name="Communauté de communes de Flandre intérieure",
        chorus_service_code="SERV-DSI-01",
        chorus_engagement_required=True,
    )


def test_the_chorus_service_code_and_engagement_number_are_printed_and_in_the_xml(
    session, chorus_member
):
    invoice = make_issued_invoice(session, member=chorus_member, engagement_number="EJ-2026-0815")

    assert invoice.engagement_number == "EJ-2026-0815"
    text = pdf_text(invoice.document.pdf)
    assert "Service exécutant (Chorus Pro) SERV-DSI-01" in text
    assert "engagement EJ-2026-0815" in text
    xml = invoice.document.xml
    validate_facturx_xml(xml)
    assert cii(xml, BUYER_REFERENCE) == ["SERV-DSI-01"]
    assert cii(xml, ORDER_REFERENCE) == ["EJ-2026-0815"]

    # The credit note that corrects it carries the same references.
    note = services.create_credit_note(
        session, invoice.id, reason="Doublon", settings=billing_settings(), issued_by=None
    )
    assert cii(note.document.xml, BUYER_REFERENCE) == ["SERV-DSI-01"]
    assert cii(note.document.xml, ORDER_REFERENCE) == ["EJ-2026-0815"]


def test_a_member_without_them_gets_neither(session):
    invoice = make_issued_invoice(session)

    text = pdf_text(invoice.document.pdf)
    assert "Chorus Pro" not in text and "engagement" not in text
    assert cii(invoice.document.xml, BUYER_REFERENCE) == []
    assert cii(invoice.document.xml, ORDER_REFERENCE) == []


def test_one_invoice_per_engagement_number(session, chorus_member):
    product = make_product(session, billing=Billing.ONE_OFF, cost="10.00", price="12.00")
    for engagement in ("EJ-B", "EJ-A"):
        make_order(
            session,
            member=chorus_member,
            lines=[product],
            status="delivered",
            engagement_number=engagement,
        )

    invoices = run.invoice_member(
        session,
        chorus_member.id,
        run.periods.month(2026, 2),
        settings=billing_settings(),
        issued_by=None,
        issue_date=ISSUE_DATE,
    )

    assert [(i.number, i.engagement_number) for i in invoices] == [
        ("FA-2026-000001", "EJ-A"),
        ("FA-2026-000002", "EJ-B"),
    ]
    for invoice in invoices:
        assert cii(invoice.document.xml, ORDER_REFERENCE) == [invoice.engagement_number]


def test_deliveries_of_one_day_give_the_date_of_supply_not_a_period(session):
    invoice = make_issued_invoice(session)  # delivered on 2026-02-01

    text = pdf_text(invoice.document.pdf)
    assert "Date d'exécution de la prestation 01/02/2026" in text
    xml = invoice.document.xml
    assert cii(xml, "//ram:ActualDeliverySupplyChainEvent//udt:DateTimeString") == ["20260201"]
    assert cii(xml, "//ram:ApplicableHeaderTradeSettlement/ram:BillingSpecifiedPeriod") == []


def test_a_stored_pdf_that_no_longer_matches_its_sha256_is_not_served(session):
    invoice = make_issued_invoice(session)
    assert services.stored_document(session, invoice.id, actor=None) is invoice

    session.execute(
        update(InvoiceDocumentFile.__table__)
        .where(InvoiceDocumentFile.invoice_id == invoice.id)
        .values(pdf=invoice.document.pdf + b"%forged")
    )
    session.expire_all()

    with pytest.raises(services.StoredDocumentAltered, match="FA-2026-000001"):
        services.stored_document(session, invoice.id, actor=None)
