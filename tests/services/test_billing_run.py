"""The monthly billing run: prorated periods, one invoice per member, run twice or resumed."""

from __future__ import annotations

import gc
import io
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from purchasing.batch import YOUNG_THRESHOLD
from purchasing.billing import run, services
from purchasing.billing.facturx import validate_facturx_xml
from purchasing.billing.models import BillingRun, Invoice, InvoiceLine
from purchasing.catalog.pricing import Billing
from purchasing.events import DomainEvent
from purchasing.orders import services as order_services
from purchasing.orders import subscriptions
from tests.factories import make_member, make_product
from tests.factories.billing import billing_settings
from tests.factories.orders import make_order

NOV = date(2026, 11, 30)


def _subscribe(
    session, member, *, price="30.00", quantity=2, commissioned_on, billing=Billing.MONTHLY
):
    product = make_product(session, billing=billing, cost="25.00", price=price)
    order = make_order(session, member=member, lines=[(product, quantity)], status="ordered")
    line = order.lines[0]
    order_services.record_commissioning(
        session, order.id, line.id, commissioned_on=commissioned_on, actor=None
    )
    return line.subscription


def _run(session, period="2026-11", **kw):
    return run.run_billing(
        session, period, settings=billing_settings(), started_by=None, issue_date=NOV, **kw
    )


def test_a_subscription_commissioned_mid_month_is_prorated_by_day(session):
    member = make_member(session, name="Commune de Wormhout")
    _subscribe(session, member, commissioned_on=date(2026, 11, 10))

    result = _run(session)

    (invoice,) = result.issued
    (line,) = invoice.lines
    # 2 x 30.00 for 21 days of 30: 42.00
    assert (line.quantity, line.unit_price, line.net_amount) == (
        2,
        Decimal("30.00"),
        Decimal("42.00"),
    )
    assert (line.prorata_days, line.period_days) == (21, 30)
    assert (line.service_start, line.service_end) == (date(2026, 11, 10), date(2026, 11, 30))
    assert invoice.total_net == Decimal("42.00")
    assert invoice.total_vat == Decimal("8.40")
    assert invoice.total_gross == invoice.amount_due == Decimal("50.40")
    assert invoice.number == "FA-2026-000001"
    assert invoice.due_date == date(2026, 12, 30)


def test_the_stored_pdf_carries_the_invoice_and_its_valid_factur_x(session):
    member = make_member(session, name="Commune de Bailleul")
    _subscribe(session, member, commissioned_on=date(2026, 11, 1))
    (invoice,) = _run(session).issued

    stored = invoice.document
    reader = PdfReader(io.BytesIO(stored.pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert invoice.number in text
    assert "Commune de Bailleul" in text
    assert member.siret in text
    assert "72,00" in text  # 60.00 + 20 % VAT
    assert "intérêts moratoires" in text
    validate_facturx_xml(stored.xml)
    assert reader.attachments["factur-x.xml"][0] == stored.xml
    import hashlib

    assert hashlib.sha256(stored.pdf).hexdigest() == stored.pdf_sha256


def test_catch_up_months_and_one_invoice_per_member(session):
    first, second = make_member(session), make_member(session)
    _subscribe(session, first, commissioned_on=date(2026, 10, 1))
    _subscribe(session, first, commissioned_on=date(2026, 11, 1), price="10.00", quantity=1)
    _subscribe(session, second, commissioned_on=date(2026, 11, 16))

    result = _run(session)

    by_member = {invoice.member_id: invoice for invoice in result.issued}
    assert set(by_member) == {first.id, second.id}
    periods = sorted(
        (line.billed_period_start, line.net_amount) for line in by_member[first.id].lines
    )
    # October was never invoiced: the November run catches it up.
    assert periods == [
        (date(2026, 10, 1), Decimal("60.00")),
        (date(2026, 11, 1), Decimal("10.00")),
        (date(2026, 11, 1), Decimal("60.00")),
    ]
    numbers = sorted(invoice.number for invoice in result.issued)
    assert numbers == ["FA-2026-000001", "FA-2026-000002"]


def test_a_quantity_change_splits_the_month(session):
    member = make_member(session)
    subscription = _subscribe(session, member, commissioned_on=date(2026, 2, 1), quantity=2)
    subscriptions.change_subscription_quantity(
        session, subscription.id, quantity=Decimal(5), effective_from=date(2026, 11, 16), actor=None
    )
    _run(session, "2026-10")
    (invoice,) = _run(session).issued
    lines = [(line.quantity, line.prorata_days, line.net_amount) for line in invoice.lines]
    # 2 x 30.00 x 15/30 = 30.00 ; 5 x 30.00 x 15/30 = 75.00
    assert lines == [(2, 15, Decimal("30.00")), (5, 15, Decimal("75.00"))]


def test_running_a_period_twice_invoices_nothing_twice(session):
    member = make_member(session)
    _subscribe(session, member, commissioned_on=date(2026, 11, 1))
    first = _run(session)
    second = _run(session)
    assert len(first.issued) == 1
    assert second.issued == []
    run_row = session.scalar(select(BillingRun).where(BillingRun.period == "2026-11"))
    assert (run_row.attempts, run_row.invoices_issued, run_row.status.value) == (2, 1, "completed")


def test_an_interrupted_run_completes_when_run_again(session):
    members = [make_member(session) for _ in range(4)]
    for member in members:
        _subscribe(session, member, commissioned_on=date(2026, 11, 1))

    def crash_after_two(done, total):
        if done == 2:
            raise KeyboardInterrupt("operator pressed Ctrl-C")

    with pytest.raises(KeyboardInterrupt):
        _run(session, progress=crash_after_two, chunk_members=1)
    assert session.scalar(select(func.count()).select_from(Invoice)) == 2
    stopped = session.scalar(select(BillingRun))
    assert (stopped.status.value, stopped.members_done, stopped.members_total) == ("failed", 2, 4)
    assert stopped.error == "KeyboardInterrupt: operator pressed Ctrl-C"

    _run(session)

    invoices = session.scalars(select(Invoice).order_by(Invoice.sequence)).all()
    assert sorted(i.member_id for i in invoices) == sorted(m.id for m in members)
    assert [i.sequence for i in invoices] == [1, 2, 3, 4]
    assert session.scalar(select(func.count()).select_from(InvoiceLine)) == 4


def test_yearly_items_are_billed_for_the_calendar_year_from_their_start(session):
    member = make_member(session)
    _subscribe(
        session,
        member,
        billing=Billing.YEARLY,
        price="365.00",
        quantity=1,
        commissioned_on=date(2026, 11, 1),
    )
    (invoice,) = _run(session).issued
    (line,) = invoice.lines
    # 61 days of 365, November 1st to December 31st
    assert (line.prorata_days, line.period_days, line.net_amount) == (61, 365, Decimal("61.00"))
    assert _run(session, "2026-12").issued == []


def test_setup_fees_and_deliveries_are_invoiced_once(session):
    member = make_member(session)
    recurring = make_product(
        session,
        billing=Billing.MONTHLY,
        cost="10.00",
        price="12.00",
        setup_fee_cost="40.00",
        setup_fee_price="50.00",
    )
    one_off = make_product(session, billing=Billing.ONE_OFF, cost="90.00", price="100.00")
    make_order(session, member=member, lines=[recurring, (one_off, 3)], status="delivered")

    (invoice,) = _run(session, "2026-02").issued

    designations = sorted(
        (line.designation.split(" :")[0], line.net_amount) for line in invoice.lines
    )
    assert ("Frais de mise en service", Decimal("50.00")) in designations
    assert any(amount == Decimal("300.00") for _d, amount in designations)
    assert _run(session, "2026-03").issued[0].lines[0].billed_period_start == date(2026, 3, 1)


def test_intermediary_lines_are_never_invoiced(session):
    from tests.factories.catalog import make_family

    family = make_family(session, purchase_mode="intermediary")
    product = make_product(session, family=family, billing=Billing.ONE_OFF)
    make_order(session, lines=[product], status="delivered")
    assert _run(session, "2026-02").issued == []


def test_issuing_publishes_the_ledger_event(session):
    member = make_member(session)
    _subscribe(session, member, commissioned_on=date(2026, 11, 1))
    (invoice,) = _run(session).issued
    event = session.scalar(select(DomainEvent).where(DomainEvent.kind == "invoice.issued"))
    assert event.payload["number"] == invoice.number
    assert event.payload["total_gross"] == "72.00"
    assert event.payload["vat"] == [{"rate": "0.2000", "base": "60.00", "amount": "12.00"}]


def test_an_issued_invoice_cannot_be_issued_again(session):
    member = make_member(session)
    _subscribe(session, member, commissioned_on=date(2026, 11, 1))
    (invoice,) = _run(session).issued
    with pytest.raises(services.InvoiceAlreadyIssued):
        services.issue_invoice(session, invoice.id, settings=billing_settings(), issued_by=None)


def test_the_database_layer_refuses_changes_to_an_issued_invoice(session):
    from purchasing.billing.models import IssuedDocumentIsImmutable

    member = make_member(session)
    _subscribe(session, member, commissioned_on=date(2026, 11, 1))
    (invoice,) = _run(session).issued
    for tamper in (
        lambda: setattr(invoice, "total_net", Decimal("1.00")),
        lambda: setattr(invoice.lines[0], "net_amount", Decimal("1.00")),
        lambda: setattr(invoice.document, "pdf", b"%PDF-forged"),
        lambda: session.delete(invoice.lines[0]),
    ):
        tamper()
        with pytest.raises(IssuedDocumentIsImmutable):
            session.flush()
        session.rollback()
    assert session.get(Invoice, invoice.id).total_net == Decimal("60.00")


def test_a_group_of_members_is_read_in_as_many_queries_whatever_its_size(session, engine):
    """What a group bills, its aid and its numbers are read a group at a time: five times
    the members, with aided lines, is not one more SELECT (the writes are batched too)."""
    from sqlalchemy import event

    from purchasing.billing import periods
    from tests.factories.subsidies import make_programme

    aided = make_product(
        session, billing=Billing.MONTHLY, cost="25.00", price="30.00", subsidy_eligible=True
    )
    make_programme(session, products=[aided], envelope="100000.00")

    def members(count: int) -> list[int]:
        ids = []
        for _ in range(count):
            member = make_member(session, population=1200)
            plain = make_product(session, billing=Billing.MONTHLY, cost="25.00", price="30.00")
            order = make_order(
                session, member=member, lines=[(aided, 1), (plain, 2)], status="ordered"
            )
            for line in order.lines:
                order_services.record_commissioning(
                    session, order.id, line.id, commissioned_on=date(2026, 11, 1), actor=None
                )
            ids.append(member.id)
        session.commit()
        return ids

    def selects_to_bill(member_ids: list[int]) -> int:
        statements: list[str] = []

        def seen(_conn, _cursor, statement, *_args):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", seen)
        try:
            issued = run.invoice_members(
                session,
                member_ids,
                periods.month(2026, 11),
                settings=billing_settings(),
                issued_by=None,
                issue_date=NOV,
            )
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert len(issued) == len(member_ids)
        assert all(invoice.total_aid == Decimal("15.00") for invoice in issued)
        return sum(statement.lstrip().upper().startswith("SELECT") for statement in statements)

    few, many = members(2), members(10)
    assert selects_to_bill(many) == selects_to_bill(few) > 0


def test_the_run_works_with_fewer_collector_passes_and_gives_the_setting_back(session):
    for name in ("Commune de Wormhout", "Commune d'Esquelbecq"):
        _subscribe(session, make_member(session, name=name), commissioned_on=date(2026, 11, 1))
    before = gc.get_threshold()
    during = []

    result = _run(
        session, progress=lambda *_: during.append(gc.get_threshold()[0]), chunk_members=1
    )

    assert len(result.issued) == 2
    assert during == [max(before[0], YOUNG_THRESHOLD)] * 2
    assert gc.get_threshold() == before


def test_a_new_line_names_every_column_it_writes():
    # The run writes a line's columns as the line holds them (COPY): none may be left out.
    with pytest.raises(TypeError, match=r"missing: .*net_amount"):
        run._new_line(
            designation="Lien fibre",
            unit="mois",
            quantity=Decimal("1"),
            unit_price=Decimal("30.00"),
            vat_rate=Decimal("0.2000"),
            service_start=date(2026, 11, 1),
            service_end=date(2026, 11, 30),
            order_line_id=1,
            sales_account=None,
            family_code=None,
        )
