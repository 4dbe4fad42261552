"""Pages of the purchasing staff for orders: approval, purchase orders, commissioning,
supplier invoices (see purchasing.pages for what pages share).

The purchasing staff act; finance reads orders and supplier invoices (the menu of
``purchasing.pages.NAVIGATION``). Every action is one service call: a refusal is shown next
to its box (forms) or above the page (buttons), and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from purchasing.auth.access import allow, current_actor
from purchasing.auth.roles import Role
from purchasing.catalog.pricing import Billing, PurchaseMode
from purchasing.catalog.services import list_suppliers
from purchasing.db import get_session
from purchasing.errors import DomainError, NotFound
from purchasing.fields import today_in_paris
from purchasing.members.pages import refuse
from purchasing.members.services import get_member
from purchasing.messages_fr import french_mismatch, french_refusal
from purchasing.money import line_amount
from purchasing.orders import purchase_orders, quote, services, subscriptions
from purchasing.orders.models import (
    DELIVERABLE_STATUSES,
    ORDER_TRANSITIONS,
    QUOTABLE_STATUSES,
    Order,
    OrderLine,
    OrderStatus,
    PurchaseOrder,
    PurchaseOrderStatus,
    SupplierInvoiceStatus,
    plain_quantity,
)
from purchasing.orders.schemas import (
    CommissioningInputSchema,
    DeliveryInputSchema,
    OrderQuerySchema,
    PurchaseOrderQuerySchema,
    ReasonSchema,
    SubscriptionQuerySchema,
    SupplierInvoiceInputSchema,
    SupplierInvoiceLineInputSchema,
    SupplierInvoiceQuerySchema,
)
from purchasing.pages import (
    PageForm,
    form_values,
    query_args,
    refusal_flash,
    refusal_pairs,
    send_document,
)

bp = Blueprint("orders_staff_pages", __name__)

#: Who acts on orders, purchase orders and supplier invoices.
BUYERS = (Role.PURCHASING, Role.ADMIN)
#: Who reads orders and supplier invoices: the buyers, and finance.
READERS = (Role.PURCHASING, Role.FINANCE, Role.ADMIN)
_BOTH = ["GET", "POST"]
_LINE = "/orders/<int:order_id>/lines/<int:line_id>"

ORDER_LABELS = {
    OrderStatus.DRAFT: "Brouillon",
    OrderStatus.SUBMITTED: "À approuver",
    OrderStatus.APPROVED: "Approuvée",
    OrderStatus.ORDERED: "Commandée",
    OrderStatus.PARTLY_DELIVERED: "Partiellement livrée",
    OrderStatus.DELIVERED: "Livrée",
    OrderStatus.CLOSED: "Clôturée",
    OrderStatus.CANCELLED: "Annulée",
}
#: Shortcuts of the orders list, in the order the work is done.
ORDER_TABS = (
    (OrderStatus.SUBMITTED, "À approuver"),
    (OrderStatus.APPROVED, "À envoyer"),
    (OrderStatus.ORDERED, "À livrer"),
    (OrderStatus.PARTLY_DELIVERED, "Partiellement livrées"),
    (OrderStatus.DELIVERED, "À clôturer"),
)
PURCHASE_ORDER_LABELS = {
    PurchaseOrderStatus.ISSUED: "Émis",
    PurchaseOrderStatus.SENT: "Envoyé",
    PurchaseOrderStatus.PARTLY_INVOICED: "Partiellement facturé",
    PurchaseOrderStatus.INVOICED: "Facturé",
    PurchaseOrderStatus.CANCELLED: "Annulé",
}
SUPPLIER_INVOICE_LABELS = {
    SupplierInvoiceStatus.MATCHED: "Rapprochée",
    SupplierInvoiceStatus.MISMATCH: "Écart à traiter",
    SupplierInvoiceStatus.ACCEPTED: "Écart accepté",
    SupplierInvoiceStatus.REJECTED: "Rejetée",
}
BILLING_LABELS = {Billing.ONE_OFF: "Ponctuel", Billing.MONTHLY: "Mensuel", Billing.YEARLY: "Annuel"}
#: After a recurring price: "45,00 € / mois".
PER_PERIOD = {Billing.ONE_OFF: "", Billing.MONTHLY: " / mois", Billing.YEARLY: " / an"}
PURCHASE_MODE_LABELS = {
    PurchaseMode.WHOLESALER: "Achat-revente",
    PurchaseMode.INTERMEDIARY: "Intermédiation",
}
#: The French VAT rates a supplier invoice may carry.
VAT_RATES = (
    (Decimal("0.2000"), "20 %"),
    (Decimal("0.1000"), "10 %"),
    (Decimal("0.0550"), "5,5 %"),
    (Decimal("0.0210"), "2,1 %"),
    (Decimal("0.0000"), "0 %"),
)

_LABELS = {
    "order_labels": ORDER_LABELS,
    "purchase_order_labels": PURCHASE_ORDER_LABELS,
    "supplier_invoice_labels": SUPPLIER_INVOICE_LABELS,
    "billing_labels": BILLING_LABELS,
    "per_period": PER_PERIOD,
    "purchase_mode_labels": PURCHASE_MODE_LABELS,
}


def _render(template: str, **context: Any) -> str:
    actor = current_actor()
    return render_template(
        f"orders/staff/{template}",
        can_act=actor is not None and actor.role in BUYERS,
        **_LABELS,
        **context,
    )


def _supplier_names() -> dict[int, str]:
    return {supplier.id: supplier.name for supplier in list_suppliers(get_session())}


def _french_decimal(value: Decimal) -> str:
    """An amount or a rate as a French user types it: "100,00" (the boxes read it back)."""
    return format(value, "f").replace(".", ",")


def _french_quantity(value: Decimal) -> str:
    """A quantity as a French user types it: "2", "1,5"."""
    return plain_quantity(value).replace(".", ",")


# --- Orders -----------------------------------------------------------------------------


@bp.get("/orders")
@allow(*READERS)
def orders() -> str:
    """Orders, the ones waiting for approval first: a list filtered and paginated.

    Without a status in the address, the list shows the orders to approve; "Toutes"
    (an empty status) shows every order.
    """
    args, errors = query_args(OrderQuerySchema())
    if "status" not in request.args:
        args["status"] = OrderStatus.SUBMITTED
    page, per_page = args.pop("page"), args.pop("per_page")
    session = get_session()
    found = services.list_orders(
        session,
        actor=current_actor(),
        filters=services.OrderFilters(**args),
        page=page,
        per_page=per_page,
    )
    member = None
    if args.get("member_id") is not None:
        try:
            member = get_member(session, args["member_id"], actor=current_actor())
        except NotFound:
            errors.setdefault("member_id", []).append("Aucun membre ne porte ce numéro.")
    return _render(
        "orders.html",
        page=found,
        rows=[(order, quote.totals_by_billing(order.lines)) for order in found.items],
        status=args.get("status"),
        member=member,
        member_id=args.get("member_id"),
        filter_errors=errors,
        tabs=ORDER_TABS,
    )


@bp.get("/orders/<int:order_id>")
@allow(*READERS)
def order(order_id: int) -> str:
    """An order as the staff see it: lines with costs and margins, purchase orders, what
    may be done next."""
    found = services.get_order(get_session(), order_id, actor=current_actor())
    return _render(
        "order.html",
        order=found,
        totals=quote.totals_by_billing(found.lines),
        suppliers=_supplier_names(),
        # What may come next, as the order's lifecycle says: the buttons shown.
        next_statuses=ORDER_TRANSITIONS[found.status],
        deliverable=found.status in DELIVERABLE_STATUSES,
        quotable=found.status in QUOTABLE_STATUSES,
        setup_fee_costs={
            line.id: line_amount(line.setup_fee_cost, line.quantity)
            for line in found.lines
            if line.setup_fee_cost is not None
        },
        today=today_in_paris(),
        french_quantity=_french_quantity,
    )


@bp.get("/orders/<int:order_id>/quote.pdf")
@allow(*READERS)
def order_quote(order_id: int) -> Response:
    """The quote (devis) of a draft or submitted order, as a PDF."""
    data = services.quote_of_order(
        get_session(), order_id, seller=current_app.config["SELLER"], actor=current_actor()
    )
    return send_document(quote.render_quote_pdf(data), f"devis-{data.reference}.pdf")


def _order_button(order_id: int, run: Callable[..., Order], done: str) -> Response:
    """Run a transition that needs no input; its refusal is said on the order's page."""
    try:
        moved = run(get_session(), order_id, actor=current_actor())
    except NotFound:
        raise
    except DomainError as exc:
        flash(refusal_flash(exc), "error")
    else:
        flash(done.format(reference=moved.reference))
    return redirect(url_for("orders_staff_pages.order", order_id=order_id), code=303)


@bp.post("/orders/<int:order_id>/approve")
@allow(*BUYERS)
def approve_order(order_id: int) -> Response:
    """Approve a submitted order: its purchase orders are issued."""
    return _order_button(
        order_id,
        services.approve_order,
        "Commande {reference} approuvée : ses bons de commande fournisseurs sont émis.",
    )


@bp.post("/orders/<int:order_id>/send")
@allow(*BUYERS)
def send_order(order_id: int) -> Response:
    """Send an approved order to its suppliers."""
    return _order_button(
        order_id,
        services.send_order,
        "Commande {reference} envoyée : ses bons de commande sont transmis aux fournisseurs.",
    )


@bp.post("/orders/<int:order_id>/close")
@allow(*BUYERS)
def close_order(order_id: int) -> Response:
    """Close a delivered order."""
    return _order_button(order_id, services.close_order, "Commande {reference} clôturée.")


#: The steps of an order that need a reason: (service, heading, button, done).
_REASON_STEPS: Mapping[str, tuple[Callable[..., Order], str, str, str]] = {
    "return": (
        services.return_order,
        "Renvoyer la commande au membre",
        "Renvoyer au membre",
        "Commande {reference} renvoyée au membre pour modification.",
    ),
    "cancel": (
        services.cancel_order,
        "Annuler la commande",
        "Annuler la commande",
        "Commande {reference} annulée.",
    ),
}


# One address per step (see members.pages.adhesion_step).
@bp.route("/orders/<int:order_id>/return", defaults={"step": "return"}, methods=_BOTH)
@bp.route("/orders/<int:order_id>/cancel", defaults={"step": "cancel"}, methods=_BOTH)
@allow(*BUYERS)
def order_with_reason(order_id: int, step: str) -> Any:
    """Return a submitted order to its member, or cancel an order, saying why."""
    run, title, button, done = _REASON_STEPS[step]
    session = get_session()
    found = services.get_order(session, order_id, actor=current_actor())
    form = PageForm(ReasonSchema())
    if form.submitted and (data := form.load()) is not None:
        try:
            run(session, order_id, reason=data["reason"], actor=current_actor())
        except DomainError as exc:
            refuse(form, exc)
        else:
            flash(done.format(reference=found.reference))
            return redirect(url_for("orders_staff_pages.order", order_id=order_id))
    return _render("reason.html", order=found, form=form, title=title, button=button), form.status


#: The steps of an order line: (service, what is said once done).
_LINE_STEPS: Mapping[str, tuple[Callable[..., Any], str]] = {
    "delivery": (services.record_delivery, "Livraison de « {designation} » enregistrée."),
    "commissioning": (
        services.record_commissioning,
        "Mise en service de « {designation} » enregistrée.",
    ),
}


def _line_form(step: str, line: OrderLine) -> PageForm:
    """The form of a line's step, filled in with the likeliest: today, what is left."""
    today = today_in_paris()
    if step == "delivery":
        quantity = _french_quantity(line.quantity_to_deliver)
        return PageForm(
            DeliveryInputSchema(), initial={"quantity": quantity, "delivered_on": today}
        )
    return PageForm(CommissioningInputSchema(), initial={"commissioned_on": today})


@bp.route(f"{_LINE}/delivery", defaults={"step": "delivery"}, methods=_BOTH)
@bp.route(f"{_LINE}/commissioning", defaults={"step": "commissioning"}, methods=_BOTH)
@allow(*BUYERS)
def order_line_step(order_id: int, line_id: int, step: str) -> Any:
    """Record a delivery of a one-off line, or the commissioning of a recurring one.

    The order's page posts its short forms here; a refusal is shown on this page, next
    to the box at fault, with what was typed.
    """
    run, done = _LINE_STEPS[step]
    session = get_session()
    found = services.get_order(session, order_id, actor=current_actor())
    line = next((line for line in found.lines if line.id == line_id), None)
    if line is None:
        raise NotFound(f"no line {line_id} in order {found.reference}", field="line_id")
    form = _line_form(step, line)
    if form.submitted and (data := form.load()) is not None:
        try:
            run(session, order_id, line_id, actor=current_actor(), **data)
        except DomainError as exc:
            refuse(form, exc)
        else:
            flash(done.format(designation=line.designation))
            return redirect(url_for("orders_staff_pages.order", order_id=order_id))
    return _render("line_step.html", order=found, line=line, step=step, form=form), form.status


@bp.get("/members/<int:member_id>/subscriptions")
@allow(*READERS)
def member_subscriptions(member_id: int) -> str:
    """A member's subscriptions: what is in service and billed per period."""
    session = get_session()
    member = get_member(session, member_id, actor=current_actor())
    args, errors = query_args(SubscriptionQuerySchema())
    page, per_page = args.pop("page"), args.pop("per_page")
    found = subscriptions.list_subscriptions(
        session,
        actor=current_actor(),
        filters=subscriptions.SubscriptionFilters(
            member_id=member_id, active_on=args.get("active_on")
        ),
        page=page,
        per_page=per_page,
    )
    return _render(
        "subscriptions.html",
        member=member,
        page=found,
        filter_errors=errors,
        today=today_in_paris(),
    )


# --- Purchase orders --------------------------------------------------------------------


@bp.get("/purchase-orders", endpoint="purchase_orders")
@allow(*BUYERS)
def list_purchase_orders() -> str:
    """Purchase orders to suppliers, most recent first, filtered and paginated."""
    args, errors = query_args(PurchaseOrderQuerySchema())
    page, per_page = args.pop("page"), args.pop("per_page")
    found = purchase_orders.list_purchase_orders(
        get_session(),
        actor=current_actor(),
        filters=purchase_orders.PurchaseOrderFilters(**args),
        page=page,
        per_page=per_page,
    )
    return _render(
        "purchase_orders.html", page=found, suppliers=_supplier_names(), filter_errors=errors
    )


@bp.get("/purchase-orders/<int:purchase_order_id>")
@allow(*BUYERS)
def purchase_order(purchase_order_id: int) -> str:
    """A purchase order: its supplier, its lines and what the supplier invoiced of them."""
    session = get_session()
    found = purchase_orders.get_purchase_order(session, purchase_order_id, actor=current_actor())
    supplier = {s.id: s for s in list_suppliers(session)}[found.supplier_id]
    return _render(
        "purchase_order.html",
        purchase_order=found,
        supplier=supplier,
        invoiceable=_refusal_to_invoice(found) is None,
    )


def _refusal_to_invoice(purchase_order: PurchaseOrder) -> str | None:
    """Why no supplier invoice can be recorded against it now, as the model says; or None."""
    try:
        purchase_order.ensure_invoiceable()
    except DomainError as exc:
        return french_refusal(exc)
    return None


# --- Supplier invoices ------------------------------------------------------------------


class SupplierInvoiceForm(PageForm):
    """A supplier invoice as printed: its header, then a row per purchase order line.

    A row is billed when its "Facturée" box is ticked; its boxes are named
    ``line-<purchase order line id>-<field>`` and read with the API's line schema. The
    refusals about ``lines[k]`` (the k-th billed row) are shown in that row.
    """

    LINE_FIELDS = ("quantity", "unit_cost", "amount", "vat_rate", "period_start", "period_end")

    def __init__(self, purchase_order: PurchaseOrder) -> None:
        self.purchase_order = purchase_order
        #: The purchase order line of each billed row, in the order sent to the service.
        self.billed: list[int] = []
        super().__init__(SupplierInvoiceInputSchema(), initial=self._as_ordered())

    @staticmethod
    def box(po_line_id: int, field: str) -> str:
        return f"line-{po_line_id}-{field}"

    def _as_ordered(self) -> dict[str, Any]:
        """Rows filled in as ordered, for what remains to invoice: the staff correct them
        to what the invoice says. Totals are left to type: they check the lines."""
        values: dict[str, Any] = {"invoice_date": today_in_paris()}
        for po_line in self.purchase_order.lines:
            left = po_line.quantity
            if not po_line.is_recurring:
                left = po_line.quantity - po_line.invoiced_quantity
            box = self.box
            values[box(po_line.id, "billed")] = left > 0
            quantity = left if left > 0 else po_line.quantity
            values[box(po_line.id, "quantity")] = _french_quantity(quantity)
            values[box(po_line.id, "unit_cost")] = _french_decimal(po_line.unit_cost)
            values[box(po_line.id, "amount")] = _french_decimal(
                line_amount(po_line.unit_cost, quantity)
            )
            values[box(po_line.id, "vat_rate")] = po_line.vat_rate
        return values

    def load(self) -> dict[str, Any] | None:
        form = request.form
        data = form_values(self.schema, form)  # the header; rows are read below
        data["purchase_order_id"] = self.purchase_order.id
        line_schema = SupplierInvoiceLineInputSchema()
        data["lines"], self.billed = [], []
        for po_line in self.purchase_order.lines:
            if not self.checked(self.box(po_line.id, "billed")):
                continue
            row = MultiDict({f: form.get(self.box(po_line.id, f), "") for f in self.LINE_FIELDS})
            data["lines"].append(
                {**form_values(line_schema, row), "purchase_order_line_id": po_line.id}
            )
            self.billed.append(po_line.id)
        try:
            return self.schema.load(data)
        except ValidationError as exc:
            self._add(self._placed(_pairs(exc.messages)))
            return None

    def refuse(self, exc: DomainError) -> None:
        self._add(self._placed(refusal_pairs(exc)))

    def _placed(self, pairs: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
        """Each message under the box it names: a row's box, a header box, or the form."""
        header = {"invoice_number", "invoice_date", "total_excl_vat", "total_vat", "total_incl_vat"}
        for field, message in pairs:
            row = _ROW_FIELD.fullmatch(field)
            if row is not None and int(row["index"]) < len(self.billed):
                name = row["name"] if row["name"] in self.LINE_FIELDS else "billed"
                yield self.box(self.billed[int(row["index"])], name), message
            elif field in header or field == "lines":
                yield field, message
            else:
                yield "_form", message


#: A box of a billed row: "lines.0.quantity" (the schema) or "lines[0].quantity" (services).
_ROW_FIELD = re.compile(r"lines(?:\.|\[)(?P<index>\d+)\]?\.(?P<name>\w+)")


def _pairs(messages: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(field, message) pairs of marshmallow's nested messages: ``lines.0.quantity``."""
    if isinstance(messages, str):
        yield prefix or "_form", messages
    elif isinstance(messages, Mapping):
        for key, value in messages.items():
            name = "_form" if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
            yield from _pairs(value, name)
    else:
        for value in messages:
            yield from _pairs(value, prefix)


@bp.route("/purchase-orders/<int:purchase_order_id>/supplier-invoices/new", methods=_BOTH)
@allow(*BUYERS)
def record_supplier_invoice(purchase_order_id: int) -> Any:
    """Record a supplier invoice against a sent purchase order; it is matched line by line."""
    session = get_session()
    found = purchase_orders.get_purchase_order(session, purchase_order_id, actor=current_actor())
    form = SupplierInvoiceForm(found)
    if form.submitted and (data := form.load()) is not None:
        lines = [purchase_orders.InvoiceLineInput(**line) for line in data.pop("lines")]
        try:
            invoice = purchase_orders.record_supplier_invoice(
                session, lines=lines, actor=current_actor(), **data
            )
        except DomainError as exc:
            form.refuse(exc)
        else:
            if invoice.status is SupplierInvoiceStatus.MATCHED:
                flash(
                    f"Facture {invoice.invoice_number} enregistrée : conforme au bon de commande."
                )
            else:
                flash(
                    f"Facture {invoice.invoice_number} enregistrée avec des écarts : "
                    "acceptez-la en le justifiant, ou rejetez-la.",
                    "error",
                )
            return redirect(url_for("orders_staff_pages.supplier_invoice", invoice_id=invoice.id))
    return (
        _render(
            "supplier_invoice_new.html",
            purchase_order=found,
            supplier_name=_supplier_names().get(found.supplier_id, ""),
            form=form,
            refusal=_refusal_to_invoice(found),
            vat_rates=VAT_RATES,
        ),
        form.status,
    )


@bp.get("/supplier-invoices")
@allow(*READERS)
def supplier_invoices() -> str:
    """Supplier invoices, most recently recorded first, by match status and supplier."""
    args, errors = query_args(SupplierInvoiceQuerySchema())
    page, per_page = args.pop("page"), args.pop("per_page")
    found = purchase_orders.list_supplier_invoices(
        get_session(),
        actor=current_actor(),
        filters=purchase_orders.SupplierInvoiceFilters(**args),
        page=page,
        per_page=per_page,
    )
    return _render(
        "supplier_invoices.html", page=found, suppliers=_supplier_names(), filter_errors=errors
    )


@bp.get("/supplier-invoices/<int:invoice_id>")
@allow(*READERS)
def supplier_invoice(invoice_id: int) -> str:
    """A supplier invoice and its lines beside what was ordered, with their mismatches."""
    return _render_supplier_invoice(invoice_id, PageForm(ReasonSchema()))


def _render_supplier_invoice(invoice_id: int, form: PageForm) -> str:
    found = purchase_orders.get_supplier_invoice(get_session(), invoice_id, actor=current_actor())
    return _render(
        "supplier_invoice.html",
        invoice=found,
        supplier_name=_supplier_names().get(found.supplier_id, ""),
        form=form,
        # Reasons are stored as the service words them; shown in French with French numbers.
        mismatch_fr=french_mismatch,
    )


@bp.post("/supplier-invoices/<int:invoice_id>/accept", defaults={"decision": "accept"})
@bp.post("/supplier-invoices/<int:invoice_id>/reject", defaults={"decision": "reject"})
@allow(*BUYERS)
def decide_supplier_invoice(invoice_id: int, decision: str) -> Any:
    """Accept a flagged supplier invoice (it enters the books) or reject it, saying why."""
    form = PageForm(ReasonSchema())
    if (data := form.load()) is not None:
        run = (
            purchase_orders.accept_supplier_invoice
            if decision == "accept"
            else purchase_orders.reject_supplier_invoice
        )
        try:
            invoice = run(get_session(), invoice_id, reason=data["reason"], actor=current_actor())
        except NotFound:
            raise
        except DomainError as exc:
            refuse(form, exc)
        else:
            flash(
                f"Facture {invoice.invoice_number} acceptée : elle entre en comptabilité."
                if decision == "accept"
                else f"Facture {invoice.invoice_number} rejetée : le fournisseur doit la corriger."
            )
            return redirect(url_for("orders_staff_pages.supplier_invoice", invoice_id=invoice_id))
    return _render_supplier_invoice(invoice_id, form), form.status
