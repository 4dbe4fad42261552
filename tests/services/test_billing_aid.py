"""FEDER aid on invoices: shown on the line, deducted from what the member pays, taken
from the envelope at issue and given back by credit notes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from purchasing.audit.models import AuditRecord
from purchasing.billing import run, services
from purchasing.billing.models import InvoiceLine
from purchasing.catalog.pricing import Billing
from purchasing.errors import ValidationFailed
from purchasing.events import DomainEvent
from purchasing.members.models import MemberKind
from purchasing.subsidies.models import SubsidyConsumption, SubsidyProgramme
from tests.documents import pdf_text
from tests.factories import make_member, make_product
from tests.factories.billing import billing_settings
from tests.factories.orders import make_order
from tests.factories.subsidies import make_programme

ISSUED_ON = date(2026, 3, 2)


@pytest.fixture
def small_commune(session):
    return make_member(
        session, kind=MemberKind.COMMUNE, population=611, name="Commune d'Ochtezeele"
    )


def _invoice(session, member, product, *, quantity=2):
    """The invoice of a delivered order of ``quantity`` x ``product`` (one-off)."""
    make_order(session, member=member, lines=[(product, quantity)], status="delivered")
    (invoice,) = run.invoice_member(
        session,
        member.id,
        run.periods.month(2026, 3),
        settings=billing_settings(),
        issued_by=None,
        issue_date=ISSUED_ON,
    )
    return invoice


def _eligible(session, price="120.00"):
    return make_product(
        session, billing=Billing.ONE_OFF, cost="100.00", price=price, subsidy_eligible=True
    )


def test_an_eligible_line_shows_the_aid_and_the_member_pays_the_net(session, small_commune):
    product = _eligible(session)
    programme = make_programme(session, products=[product], envelope="1000.00")

    invoice = _invoice(session, small_commune, product)

    (line,) = invoice.lines
    # 2 x 120.00 = 240.00, 50 % aid = 120.00, kept in the VAT base
    assert (line.net_amount, line.aid_amount) == (Decimal("240.00"), Decimal("120.00"))
    assert invoice.total_vat == Decimal("48.00")
    assert invoice.total_gross == Decimal("288.00")
    assert invoice.amount_due == Decimal("168.00")
    assert invoice.total_aid == Decimal("120.00")
    session.refresh(programme)
    assert programme.consumed == Decimal("120.00")
    text = pdf_text(invoice.document.pdf)
    assert "dont aide FEDER" in text
    event = session.scalar(select(DomainEvent).where(DomainEvent.kind == "invoice.issued"))
    assert event.payload["aid_by_programme"] == [
        {"programme_code": programme.code, "amount": "120.00"}
    ]


def test_a_large_commune_pays_full_price(session):
    product = _eligible(session)
    make_programme(session, products=[product])
    town = make_member(session, kind=MemberKind.COMMUNE, population=41555)
    invoice = _invoice(session, town, product)
    assert invoice.total_aid == Decimal("0.00")
    assert invoice.amount_due == invoice.total_gross == Decimal("288.00")


def test_an_exhausted_envelope_leaves_the_rest_at_full_price(session, small_commune):
    product = _eligible(session)
    programme = make_programme(session, products=[product], envelope="150.00")
    first = _invoice(session, small_commune, product)
    second = _invoice(session, small_commune, product)
    assert first.total_aid == Decimal("120.00")
    assert second.total_aid == Decimal("30.00")  # what was left of the envelope
    third = _invoice(session, small_commune, product)
    assert third.total_aid == Decimal("0.00")
    session.refresh(programme)
    assert programme.consumed == programme.envelope
    told = session.scalars(
        select(DomainEvent).where(DomainEvent.kind == "subsidy.envelope_exhausted")
    ).all()
    assert len(told) == 1


def test_invoices_issued_together_share_the_envelope_in_member_order(session):
    product = _eligible(session)
    programme = make_programme(session, products=[product], envelope="150.00")
    communes = [
        make_member(session, kind=MemberKind.COMMUNE, population=500 + n, name=f"Commune {n}")
        for n in range(3)
    ]
    for commune in communes:
        make_order(session, member=commune, lines=[(product, 2)], status="delivered")

    # One group, one transaction: the aid of the three is written by one flush.
    invoices = run.invoice_members(
        session,
        [commune.id for commune in communes],
        run.periods.month(2026, 3),
        settings=billing_settings(),
        issued_by=None,
        issue_date=ISSUED_ON,
    )

    assert [invoice.member_id for invoice in invoices] == [c.id for c in communes]
    assert [invoice.total_aid for invoice in invoices] == [
        Decimal("120.00"),
        Decimal("30.00"),
        Decimal("0.00"),
    ]
    session.expire_all()
    # The aid as the lines hold it in the database: written ahead of the invoices issued.
    stored = session.execute(
        select(InvoiceLine.invoice_id, InvoiceLine.aid_amount, InvoiceLine.aid_label)
        .where(InvoiceLine.invoice_id.in_([invoice.id for invoice in invoices]))
        .order_by(InvoiceLine.invoice_id)
    ).all()
    label = programme.aid_label
    assert stored == [
        (invoices[0].id, Decimal("120.00"), label),
        (invoices[1].id, Decimal("30.00"), label),
        (invoices[2].id, None, None),
    ]
    assert session.get(SubsidyProgramme, programme.id).consumed == Decimal("150.00")
    consumed = session.execute(
        select(SubsidyConsumption.invoice_id, SubsidyConsumption.amount).order_by(
            SubsidyConsumption.id
        )
    ).all()
    assert consumed == [(invoices[0].id, Decimal("120.00")), (invoices[1].id, Decimal("30.00"))]
    moves = session.scalars(
        select(AuditRecord)
        .where(AuditRecord.action == "subsidy_programme.aid_granted")
        .order_by(AuditRecord.id)
    ).all()
    assert [(m.before["consumed"], m.after["consumed"], m.after["invoice_id"]) for m in moves] == [
        ("0.00", "120.00", invoices[0].id),
        ("120.00", "150.00", invoices[1].id),
    ]
    told = session.scalars(
        select(DomainEvent).where(DomainEvent.kind == "subsidy.envelope_exhausted")
    ).all()
    assert [event.payload["invoice_id"] for event in told] == [invoices[1].id]


def test_a_credit_note_gives_the_aid_back(session, small_commune):
    product = _eligible(session)
    programme = make_programme(session, products=[product], envelope="1000.00")
    invoice = _invoice(session, small_commune, product)

    note = services.create_credit_note(
        session,
        invoice.id,
        reason="Commande annulée",
        settings=billing_settings(),
        issued_by=None,
        issue_date=ISSUED_ON,
    )

    (line,) = note.lines
    assert line.aid_amount == Decimal("120.00")
    assert note.amount_due == invoice.amount_due
    session.expire_all()
    assert session.get(InvoiceLine, line.id).aid_amount == Decimal("120.00")
    session.refresh(programme)
    assert programme.consumed == Decimal("0.00")
    assert session.get(type(invoice), invoice.id).outstanding == Decimal("0.00")


def test_a_price_reduction_programme_takes_the_aid_out_of_the_vat_base(session, small_commune):
    product = _eligible(session)
    make_programme(session, products=[product], envelope="1000.00", aid_in_vat_base=False)

    invoice = _invoice(session, small_commune, product)

    (line,) = invoice.lines
    assert (line.net_amount, line.aid_amount) == (Decimal("120.00"), Decimal("120.00"))
    session.expire_all()
    stored = session.get(InvoiceLine, line.id)
    assert (stored.net_amount, stored.aid_amount) == (Decimal("120.00"), Decimal("120.00"))
    assert invoice.total_vat == Decimal("24.00")
    assert invoice.amount_due == invoice.total_gross == Decimal("144.00")
    assert invoice.aid_in_vat_base is False
    with pytest.raises(ValidationFailed) as refused:
        services.create_credit_note(
            session,
            invoice.id,
            reason="Geste commercial",
            lines=[services.CreditRequest(line.id, Decimal("10.00"))],
            settings=billing_settings(),
            issued_by=None,
            issue_date=ISSUED_ON,
        )
    assert "lines" in refused.value.errors
