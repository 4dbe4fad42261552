"""Credit notes: whole or partial, never beyond the invoice, in their own series."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from purchasing.audit.models import AuditRecord
from purchasing.billing import services
from purchasing.billing.facturx import validate_facturx_xml
from purchasing.billing.models import DocumentKind, Invoice, PaymentStatus
from purchasing.errors import ValidationFailed
from purchasing.events import DomainEvent
from tests.documents import cii, cii_amount, embedded_xml, euros, pdf_text
from tests.factories.billing import billing_settings, make_issued_invoice

D = Decimal
CREDIT_DATE = date(2026, 3, 16)


@pytest.fixture
def invoice(session):
    """FA-2026-000001 of 2026-03-02: 2 x 120.00 at 20 % and 3 x 35.50 at 10 %."""
    return make_issued_invoice(session, lines=[("120.00", 2), ("35.50", 3, "0.1000")])


def credit(session, invoice, *, lines=None, reason="Erreur de facturation", **kw):
    requests = [services.CreditRequest(line_id, amount) for line_id, amount in lines or []]
    return services.create_credit_note(
        session,
        invoice.id,
        reason=reason,
        lines=requests or None,
        settings=billing_settings(),
        issued_by=None,
        issue_date=kw.pop("issue_date", CREDIT_DATE),
        **kw,
    )


def credit_note_count(session) -> int:
    return session.scalar(
        select(func.count()).select_from(Invoice).where(Invoice.kind == DocumentKind.CREDIT_NOTE)
    )


def test_a_whole_credit_note_cancels_every_line_and_settles_the_invoice(session, invoice):
    assert (invoice.total_net, invoice.total_vat, invoice.amount_due) == (
        D("346.50"),
        D("58.65"),  # 48.00 + 10.65
        D("405.15"),
    )

    note = credit(session, invoice, reason="Commande annulée par délibération")

    assert (note.kind, note.number, note.corrected_invoice_id) == (
        DocumentKind.CREDIT_NOTE,
        "AV-2026-000001",
        invoice.id,
    )
    assert [(line.quantity, line.unit_price, line.net_amount) for line in note.lines] == [
        (line.quantity, line.unit_price, line.net_amount) for line in invoice.lines
    ]
    assert [line.credited_line_id for line in note.lines] == [line.id for line in invoice.lines]
    assert (note.total_net, note.total_vat, note.amount_due) == (
        invoice.total_net,
        invoice.total_vat,
        invoice.amount_due,
    )
    assert note.due_date is None
    # Nothing is left to pay: an invoice settled by its credit note counts as paid.
    assert (invoice.amount_credited, invoice.outstanding) == (D("405.15"), D("0.00"))
    assert invoice.payment_status is PaymentStatus.PAID


def test_the_credit_note_pdf_names_the_invoice_it_corrects(session, invoice):
    note = credit(session, invoice, reason="Commande annulée par délibération")

    text = pdf_text(note.document.pdf)
    assert "Avoir" in text and "AV-2026-000001" in text
    assert "Avoir sur la facture n° FA-2026-000001 du 02/03/2026" in text
    assert "émission : 16/03/2026" in text
    assert "Commande annulée par délibération" in text
    assert f"Net à déduire {euros('405.15')}" in text
    assert "Montant déduit de la facture corrigée" in text
    # Payment terms and late-payment penalties belong to invoices only.
    assert "paiement à 30 jours" not in text
    assert "intérêts moratoires" not in text

    xml = note.document.xml
    validate_facturx_xml(xml)
    assert embedded_xml(note.document.pdf) == xml
    assert cii(xml, "//rsm:ExchangedDocument/ram:TypeCode") == ["381"]
    assert cii(xml, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == ["FA-2026-000001"]
    assert cii(xml, "//ram:InvoiceReferencedDocument//qdt:DateTimeString") == ["20260302"]
    assert cii_amount(xml, "DuePayableAmount") == D("405.15")


def test_a_partial_credit_of_an_amount_on_one_line(session, invoice):
    first_line = invoice.lines[0]

    note = credit(session, invoice, lines=[(first_line.id, D("40.00"))])

    (line,) = note.lines
    assert line.designation == f"Régularisation : {first_line.designation}"
    assert (line.quantity, line.unit, line.unit_price, line.net_amount, line.vat_rate) == (
        1,
        "forfait",
        D("40.00"),
        D("40.00"),
        D("0.2000"),
    )
    assert (note.total_vat, note.amount_due) == (D("8.00"), D("48.00"))
    assert invoice.outstanding == D("357.15")  # 405.15 - 48.00
    # Credited but not paid: still open, for less.
    assert invoice.payment_status is PaymentStatus.OPEN
    assert "Régularisation" in pdf_text(note.document.pdf)


def test_partial_credits_add_up_to_the_line_and_never_beyond(session, invoice):
    first_line = invoice.lines[0]
    credit(session, invoice, lines=[(first_line.id, D("100.00"))])

    with pytest.raises(services.CreditExceedsInvoice) as refused:
        credit(session, invoice, lines=[(first_line.id, D("140.01"))])

    assert refused.value.errors == {
        "lines[0].amount": ["at most 140.00 can still be credited on line 1"]
    }
    assert credit_note_count(session) == 1
    assert invoice.amount_credited == D("120.00")
    # The refused credit note took no number: the next one follows without a gap.
    assert credit(session, invoice, lines=[(first_line.id, D("140.00"))]).number == (
        "AV-2026-000002"
    )
    # A whole credit note now takes what is left: the second line only.
    last = credit(session, invoice)
    assert last.number == "AV-2026-000003"
    assert [line.credited_line_id for line in last.lines] == [invoice.lines[1].id]
    assert invoice.outstanding == 0
    with pytest.raises(services.CreditExceedsInvoice, match="already fully credited"):
        credit(session, invoice)
    assert credit_note_count(session) == 3


def test_a_credit_note_is_not_credited(session, invoice):
    note = credit(session, invoice, lines=[(invoice.lines[0].id, D("10.00"))])

    with pytest.raises(services.NotAnInvoice) as refused:
        credit(session, note)

    assert refused.value.status_code == 409
    assert refused.value.errors == {
        "invoice_id": ["AV-2026-000001 is a credit note: only an invoice can be credited"]
    }
    assert credit_note_count(session) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda session, invoice: {"reason": "  "}, "reason"),
        (lambda session, invoice: {"issue_date": date(2026, 3, 1)}, "issue_date"),
        (
            lambda session, invoice: {"lines": [(make_issued_invoice(session).lines[0].id, None)]},
            "lines[0].invoice_line_id",
        ),
        (lambda session, invoice: {"lines": [(invoice.lines[0].id, D("0.00"))]}, "lines[0].amount"),
    ],
    ids=["without-reason", "before-the-invoice", "another-invoices-line", "zero-amount"],
)
def test_a_refused_credit_note_names_the_field_and_changes_nothing(session, invoice, change, field):
    with pytest.raises(ValidationFailed) as refused:
        credit(session, invoice, **change(session, invoice))

    assert set(refused.value.errors) == {field}
    assert credit_note_count(session) == 0
    assert invoice.amount_credited == 0
    published = select(func.count()).where(DomainEvent.kind == "credit_note.issued")
    assert session.scalar(published) == 0


def test_issuing_a_credit_note_publishes_its_event_and_audits_the_invoice(session, invoice):
    note = credit(session, invoice, lines=[(invoice.lines[1].id, None)])

    event = session.scalar(select(DomainEvent).where(DomainEvent.kind == "credit_note.issued"))
    assert (event.entity_id, event.payload["number"]) == (str(note.id), "AV-2026-000001")
    assert event.payload["corrected_invoice_id"] == invoice.id
    assert event.payload["vat"] == [{"rate": "0.1000", "base": "106.50", "amount": "10.65"}]
    assert event.payload["amount_due"] == "117.15"
    audit = session.scalar(select(AuditRecord).where(AuditRecord.action == "invoice.credited"))
    assert audit.entity_id == str(invoice.id)
    # What changed: still open (nothing paid), for 117.15 less.
    assert audit.before == {"amount_credited": "0.00"}
    assert audit.after == {"amount_credited": "117.15", "credit_note": "AV-2026-000001"}
