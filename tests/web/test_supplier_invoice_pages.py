"""Purchase orders and the supplier invoices matched against them, from the staff's pages."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from purchasing.catalog.pricing import Billing
from purchasing.formats import euros, unit_price
from purchasing.orders.models import SupplierInvoice, SupplierInvoiceStatus
from tests.factories import invoice_in_full, make_member, make_order, make_product, make_supplier

INVOICE_DATE = date(2026, 2, 10).isoformat()


@pytest.fixture
def supplier(session):
    return make_supplier(session, name="Vidéo Nord SARL")


@pytest.fixture
def camera(session, supplier):
    """A one-off item bought 100,00 € (VAT 20 %)."""
    return make_product(
        session, name="Caméra dôme", billing=Billing.ONE_OFF, cost="100.00", supplier=supplier
    )


@pytest.fixture
def sent(session, camera):
    """The purchase order of 2 cameras, sent to the supplier."""
    order = make_order(session, lines=[(camera, 2)], status="ordered")
    return order.purchase_orders[0]


def _invoice_form(purchase_order, **changes):
    """The form as the staff send it: the one line billed, totals of 2 x 100,00 €."""
    (line,) = purchase_order.lines
    box = f"line-{line.id}-"
    values = {
        "invoice_number": "F-2026-0042",
        "invoice_date": INVOICE_DATE,
        f"{box}billed": "on",
        f"{box}quantity": "2",
        f"{box}unit_cost": "100,00",
        f"{box}amount": "200,00",
        f"{box}vat_rate": "0.2000",
        "total_excl_vat": "200,00",
        "total_vat": "40,00",
        "total_incl_vat": "240,00",
    }
    values.update({key.replace("LINE-", box): value for key, value in changes.items()})
    return values


def _invoices(session):
    session.expire_all()
    return session.query(SupplierInvoice).all()


# --- Purchase orders --------------------------------------------------------------------


def test_purchase_orders_list_filters_and_paginates(pages_as, session, camera, supplier):
    orders = [make_order(session, lines=[(camera, 2)], status="ordered") for _ in range(3)]
    issued = make_order(session, lines=[camera], status="approved").purchase_orders[0]
    staff = pages_as("purchasing")

    page = staff.get(f"/purchase-orders?status=sent&supplier_id={supplier.id}&per_page=2")

    assert page.status_code == 200
    assert "Vidéo Nord SARL" in page.text
    assert euros(Decimal("200.00")) in page.text
    assert "3 résultats · page 1 sur 2" in page.text
    assert issued.number not in page.text
    numbers = {order.purchase_orders[0].number for order in orders}
    second = staff.get(f"/purchase-orders?status=sent&supplier_id={supplier.id}&per_page=2&page=2")
    assert {n for n in numbers if n in page.text + second.text} == numbers


def test_a_purchase_order_shows_its_supplier_lines_and_invoices(pages_as, session, sent):
    invoice_in_full(session, sent, number="F-2026-0001")

    page = pages_as("purchasing").get(f"/purchase-orders/{sent.id}")

    assert page.status_code == 200
    assert f"Bon de commande {sent.number}" in page.text
    assert "Vidéo Nord SARL" in page.text
    assert "Caméra dôme" in page.text
    assert euros(Decimal("200.00")) in page.text
    assert "F-2026-0001" in page.text
    assert "Rapprochée" in page.text


def test_an_unsent_purchase_order_takes_no_invoice(pages_as, session, camera):
    issued = make_order(session, lines=[camera], status="approved").purchase_orders[0]
    staff = pages_as("purchasing")

    detail = staff.get(f"/purchase-orders/{issued.id}")
    assert "Enregistrer une facture fournisseur" not in detail.text
    form = staff.get(f"/purchase-orders/{issued.id}/supplier-invoices/new")
    assert "Impossible d'enregistrer une facture" in form.text
    assert 'name="invoice_number"' not in form.text


@pytest.mark.parametrize("role", ["finance", "auditor", "member"])
def test_purchase_orders_are_the_buyers_pages(pages_as, session, sent, role):
    user = pages_as(role, member=make_member(session)) if role == "member" else pages_as(role)
    assert user.get("/purchase-orders").status_code == 403
    assert user.get(f"/purchase-orders/{sent.id}").status_code == 403
    assert (
        user.post(
            f"/purchase-orders/{sent.id}/supplier-invoices/new", _invoice_form(sent)
        ).status_code
        == 403
    )
    assert _invoices(session) == []


# --- Recording a supplier invoice -------------------------------------------------------


def test_the_form_is_filled_in_with_what_remains_to_invoice(pages_as, session, sent):
    (line,) = sent.lines
    form = pages_as("purchasing").get(f"/purchase-orders/{sent.id}/supplier-invoices/new")

    assert form.status_code == 200
    assert f'name="line-{line.id}-quantity" type="text" value="2"' in form.text
    assert f'name="line-{line.id}-amount" type="text" value="200,00"' in form.text


def test_an_invoice_as_ordered_is_recorded_matched(pages_as, session, sent):
    staff = pages_as("purchasing")

    answer = staff.post(f"/purchase-orders/{sent.id}/supplier-invoices/new", _invoice_form(sent))

    assert answer.status_code == 302
    (invoice,) = _invoices(session)
    assert invoice.status is SupplierInvoiceStatus.MATCHED
    assert invoice.total_incl_vat == Decimal("240.00")
    page = staff.get(answer.headers["Location"])
    assert "conforme au bon de commande" in page.text
    assert "Conforme" in page.text
    assert "Décision" not in page.text


def test_an_invoice_that_does_not_add_up_is_refused_next_to_its_total(pages_as, session, sent):
    refused = pages_as("purchasing").post(
        f"/purchase-orders/{sent.id}/supplier-invoices/new",
        _invoice_form(sent, total_excl_vat="210,00", total_incl_vat="250,00"),
    )

    assert refused.status_code == 422
    total = euros(Decimal("200.00"))
    assert f'id="total_excl_vat-error">Les lignes totalisent {total}.' in refused.text
    assert 'value="F-2026-0042"' in refused.text
    assert 'value="210,00"' in refused.text
    assert _invoices(session) == []


def test_a_bad_box_of_a_row_is_named_in_its_row(pages_as, session, sent):
    (line,) = sent.lines

    refused = pages_as("purchasing").post(
        f"/purchase-orders/{sent.id}/supplier-invoices/new",
        _invoice_form(sent, **{"LINE-quantity": "", "LINE-unit_cost": "cent"}),
    )

    assert refused.status_code == 422
    assert f'id="line-{line.id}-quantity-error">Ce champ est obligatoire.' in refused.text
    assert f'id="line-{line.id}-unit_cost-error">Saisissez un nombre.' in refused.text
    assert f'name="line-{line.id}-unit_cost" type="text" value="cent"' in refused.text
    assert _invoices(session) == []


def test_an_invoice_billing_no_line_is_refused(pages_as, session, sent):
    form = {k: v for k, v in _invoice_form(sent).items() if not k.endswith("-billed")}

    refused = pages_as("purchasing").post(f"/purchase-orders/{sent.id}/supplier-invoices/new", form)

    assert refused.status_code == 422
    assert 'id="lines-error">Au moins une ligne.' in refused.text
    assert _invoices(session) == []


def test_a_recurring_row_needs_its_period(pages_as, session, supplier):
    hosting = make_product(session, name="Hébergement", cost="50.00", supplier=supplier)
    order = make_order(session, lines=[hosting], status="delivered")
    purchase_order = order.purchase_orders[0]
    (line,) = purchase_order.lines
    box = f"line-{line.id}-"
    form = {
        "invoice_number": "H-1",
        "invoice_date": INVOICE_DATE,
        f"{box}billed": "on",
        f"{box}quantity": "1",
        f"{box}unit_cost": "50,00",
        f"{box}amount": "50,00",
        f"{box}vat_rate": "0.2000",
        "total_excl_vat": "50,00",
        "total_vat": "10,00",
        "total_incl_vat": "60,00",
    }
    staff = pages_as("purchasing")

    refused = staff.post(f"/purchase-orders/{purchase_order.id}/supplier-invoices/new", form)

    assert refused.status_code == 422
    assert f'id="{box}period_start-error">Obligatoire : ' in refused.text
    assert _invoices(session) == []

    form |= {f"{box}period_start": "2026-02-01", f"{box}period_end": "2026-02-28"}
    answer = staff.post(f"/purchase-orders/{purchase_order.id}/supplier-invoices/new", form)
    assert answer.status_code == 302
    assert _invoices(session)[0].status is SupplierInvoiceStatus.MATCHED


# --- Mismatches and decisions -----------------------------------------------------------


@pytest.fixture
def flagged(pages_as, session, sent):
    """An invoice billing the cameras 110,00 € each: recorded, flagged as a mismatch."""
    answer = pages_as("purchasing").post(
        f"/purchase-orders/{sent.id}/supplier-invoices/new",
        _invoice_form(
            sent,
            **{"LINE-unit_cost": "110,00", "LINE-amount": "220,00"},
            total_excl_vat="220,00",
            total_vat="44,00",
            total_incl_vat="264,00",
        ),
    )
    assert answer.status_code == 302
    (invoice,) = _invoices(session)
    assert invoice.status is SupplierInvoiceStatus.MISMATCH
    return invoice


def test_a_mismatch_is_shown_line_by_line(pages_as, session, flagged):
    page = pages_as("purchasing").get(f"/supplier-invoices/{flagged.id}")

    assert page.status_code == 200
    assert "Écart à traiter" in page.text
    # The stored reason, shown in French with French amounts.
    assert (
        f"Coût unitaire {unit_price(Decimal('110.00'))} différent de celui commandé "
        f"({unit_price(Decimal('100.00'))})." in page.text
    )
    assert "differs from" not in page.text
    assert '<td class="num differs">' + euros(Decimal("110.00")) in page.text
    assert euros(Decimal("264.00")) in page.text
    assert "Accepter l'écart" in page.text and "Rejeter la facture" in page.text


def test_accepting_a_mismatch_needs_a_reason_then_books_it(pages_as, session, flagged):
    staff = pages_as("purchasing")

    refused = staff.post(f"/supplier-invoices/{flagged.id}/accept", {"reason": ""})

    assert refused.status_code == 422
    assert 'id="reason-error">Ce champ est obligatoire.' in refused.text
    assert _invoices(session)[0].status is SupplierInvoiceStatus.MISMATCH

    answer = staff.post(f"/supplier-invoices/{flagged.id}/accept", {"reason": "Hausse notifiée"})

    assert answer.status_code == 302
    (invoice,) = _invoices(session)
    assert invoice.status is SupplierInvoiceStatus.ACCEPTED
    assert invoice.decision_reason == "Hausse notifiée"
    assert "Hausse notifiée" in staff.get(f"/supplier-invoices/{flagged.id}").text


def test_rejecting_a_mismatch_keeps_it_out_of_the_books(pages_as, session, flagged):
    staff = pages_as("purchasing")

    answer = staff.post(f"/supplier-invoices/{flagged.id}/reject", {"reason": "Prix du marché"})

    assert answer.status_code == 302
    assert _invoices(session)[0].status is SupplierInvoiceStatus.REJECTED
    page = staff.get(f"/supplier-invoices/{flagged.id}")
    assert "Jamais en comptabilité" in page.text
    again = staff.post(f"/supplier-invoices/{flagged.id}/accept", {"reason": "Finalement"})
    assert again.status_code == 422
    assert "Impossible de faire passer la facture fournisseur de « rejetée »" in again.text
    assert "cannot go from" not in again.text
    assert _invoices(session)[0].status is SupplierInvoiceStatus.REJECTED


def test_the_list_filters_by_match_status(pages_as, session, flagged, camera):
    other = make_order(session, lines=[camera], status="ordered").purchase_orders[0]
    invoice_in_full(session, other, number="F-OK-1")
    staff = pages_as("purchasing")

    mismatches = staff.get("/supplier-invoices?status=mismatch")

    assert flagged.invoice_number in mismatches.text
    assert "F-OK-1" not in mismatches.text
    everything = staff.get("/supplier-invoices?per_page=1")
    assert "2 résultats · page 1 sur 2" in everything.text


def test_finance_reads_supplier_invoices_but_decides_nothing(pages_as, session, flagged):
    finance = pages_as("finance")

    assert flagged.invoice_number in finance.get("/supplier-invoices").text
    page = finance.get(f"/supplier-invoices/{flagged.id}")
    assert page.status_code == 200
    assert "Accepter" not in page.text
    answer = finance.post(f"/supplier-invoices/{flagged.id}/accept", {"reason": "ok"})
    assert answer.status_code == 403
    assert _invoices(session)[0].status is SupplierInvoiceStatus.MISMATCH


@pytest.mark.parametrize("role", ["member", "auditor"])
def test_other_roles_cannot_open_supplier_invoices(pages_as, session, flagged, role):
    user = pages_as(role, member=make_member(session)) if role == "member" else pages_as(role)
    assert user.get("/supplier-invoices").status_code == 403
    assert user.get(f"/supplier-invoices/{flagged.id}").status_code == 403
