"""API of orders, purchase orders, supplier invoices and subscriptions.

Member users see and change only their own member's orders and subscriptions; another
member's id answers 404. They never see what the centre pays: views answering both dump
with the member or the staff schema according to the caller's role (the OpenAPI document
shows the staff schema). Purchase orders and supplier invoices are the staff's business.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify
from marshmallow import Schema

from purchasing.api import Blueprint as ApiBlueprint
from purchasing.auth.access import allow, allow_any_user, current_actor
from purchasing.auth.roles import STAFF_ROLES
from purchasing.db import get_session
from purchasing.orders import margins, markets, purchase_orders, quote, services, subscriptions
from purchasing.orders.roles import BUYERS, ORDERERS, STAFF
from purchasing.orders.schemas import (
    CommissioningInputSchema,
    ConsumptionQuerySchema,
    DeliveryInputSchema,
    LotConsumptionSchema,
    MarginTruthQuerySchema,
    MarginTruthSchema,
    OrderCreateSchema,
    OrderLineInputSchema,
    OrderLineSchema,
    OrderLineUpdateSchema,
    OrderPageSchema,
    OrderQuerySchema,
    OrderSchema,
    OrderUpdateSchema,
    PurchaseOrderPageSchema,
    PurchaseOrderQuerySchema,
    PurchaseOrderSchema,
    QuantityChangeSchema,
    ReasonSchema,
    StaffOrderLineSchema,
    StaffOrderPageSchema,
    StaffOrderSchema,
    StaffSubscriptionPageSchema,
    StaffSubscriptionSchema,
    SubscriptionPageSchema,
    SubscriptionQuerySchema,
    SubscriptionSchema,
    SupplierInvoiceInputSchema,
    SupplierInvoicePageSchema,
    SupplierInvoiceQuerySchema,
    SupplierInvoiceSchema,
    TerminationSchema,
)

# Orders, purchase orders, supplier invoices and subscriptions: one blueprint rooted at
# /api/v1, each route written in full.
api_bp = ApiBlueprint(
    "orders_api",
    __name__,
    "",
    description="Orders, purchase orders to suppliers, supplier invoices, subscriptions",
)

MEMBER_VIEW = "Member users receive it without supplier costs and ledger accounts."
BUYER_ROLES = tuple(sorted(BUYERS))
ORDERER_ROLES = tuple(sorted(ORDERERS))
STAFF_ONLY = tuple(sorted(STAFF))


def _dump_for_caller(
    data: Any, *, member: Schema, staff: Schema, status: int = 200
) -> tuple[Response, int]:
    schema = staff if current_actor().role in STAFF_ROLES else member
    return jsonify(schema.dump(data)), status


#: Built once: building a schema (and its nested ones) costs more than a dump.
_ORDER_SCHEMAS = {"member": OrderSchema(), "staff": StaffOrderSchema()}


def _order(order: Any, status: int = 200) -> tuple[Response, int]:
    return _dump_for_caller(
        order, member=_ORDER_SCHEMAS["member"], staff=_ORDER_SCHEMAS["staff"], status=status
    )


# --- Orders -----------------------------------------------------------------------------


@api_bp.route("/orders", methods=["GET"])
@api_bp.arguments(OrderQuerySchema, location="query")
@api_bp.response(200, StaffOrderPageSchema, description=MEMBER_VIEW)
@allow_any_user
def list_orders(args: dict[str, Any]) -> Any:
    """Orders, most recent first, filtered and paginated; a member user gets only its own."""
    page, per_page = args.pop("page"), args.pop("per_page")
    result = services.list_orders(
        get_session(),
        actor=current_actor(),
        filters=services.OrderFilters(**args),
        page=page,
        per_page=per_page,
    )
    return _dump_for_caller(result, member=OrderPageSchema(), staff=StaffOrderPageSchema())


@api_bp.route("/orders", methods=["POST"])
@api_bp.arguments(OrderCreateSchema())  # an instance: webargs builds one per request from a class
@api_bp.response(201, StaffOrderSchema, description=MEMBER_VIEW)
@allow(*ORDERER_ROLES)
def create_order(data: dict[str, Any]) -> Any:
    """Open a draft order, with its first lines; a member user orders for its own member."""
    lines = [services.LineInput(**line) for line in data.pop("lines")]
    order = services.create_order(get_session(), actor=current_actor(), lines=lines, **data)
    return _order(order, status=201)


@api_bp.route("/orders/<int:order_id>", methods=["GET"])
@api_bp.response(200, StaffOrderSchema, description=MEMBER_VIEW)
@api_bp.alt_response(404, response="NOT_FOUND")
@allow_any_user
def get_order(order_id: int) -> Any:
    """One order with its lines and totals."""
    return _order(services.get_order(get_session(), order_id, actor=current_actor()))


@api_bp.route("/orders/<int:order_id>", methods=["PATCH"])
@api_bp.arguments(OrderUpdateSchema)
@api_bp.response(200, StaffOrderSchema, description=MEMBER_VIEW)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*ORDERER_ROLES)
def update_order(changes: dict[str, Any], order_id: int) -> Any:
    """Change a draft's engagement number or note."""
    order = services.update_order(get_session(), order_id, changes, actor=current_actor())
    return _order(order)


@api_bp.route("/orders/<int:order_id>/lines", methods=["POST"])
@api_bp.arguments(OrderLineInputSchema)
@api_bp.response(201, StaffOrderLineSchema, description=MEMBER_VIEW)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*ORDERER_ROLES)
def add_order_line(data: dict[str, Any], order_id: int) -> Any:
    """Add a product to a draft, at the prices in force on the order date."""
    line = services.add_order_line(get_session(), order_id, actor=current_actor(), **data)
    return _dump_for_caller(
        line, member=OrderLineSchema(), staff=StaffOrderLineSchema(), status=201
    )


@api_bp.route("/orders/<int:order_id>/lines/<int:line_id>", methods=["PATCH"])
@api_bp.arguments(OrderLineUpdateSchema)
@api_bp.response(200, StaffOrderLineSchema, description=MEMBER_VIEW)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*ORDERER_ROLES)
def update_order_line(changes: dict[str, Any], order_id: int, line_id: int) -> Any:
    """Change the quantity, delivery site or note of a draft's line."""
    line = services.update_order_line(
        get_session(), order_id, line_id, changes, actor=current_actor()
    )
    return _dump_for_caller(line, member=OrderLineSchema(), staff=StaffOrderLineSchema())


@api_bp.route("/orders/<int:order_id>/lines/<int:line_id>", methods=["DELETE"])
@api_bp.response(204)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*ORDERER_ROLES)
def remove_order_line(order_id: int, line_id: int) -> None:
    """Take a line out of a draft."""
    services.remove_order_line(get_session(), order_id, line_id, actor=current_actor())


@api_bp.route("/orders/<int:order_id>/submit", methods=["POST"])
@api_bp.response(200, StaffOrderSchema, description=MEMBER_VIEW)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*ORDERER_ROLES)
def submit_order(order_id: int) -> Any:
    """Hand a draft to the centre for approval."""
    return _order(services.submit_order(get_session(), order_id, actor=current_actor()))


@api_bp.route("/orders/<int:order_id>/return", methods=["POST"])
@api_bp.arguments(ReasonSchema)
@api_bp.response(200, StaffOrderSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*BUYER_ROLES)
def return_order(data: dict[str, Any], order_id: int) -> Any:
    """Send a submitted order back to the member as a draft, saying what to change."""
    return _order(
        services.return_order(get_session(), order_id, reason=data["reason"], actor=current_actor())
    )


@api_bp.route("/orders/<int:order_id>/approve", methods=["POST"])
@api_bp.response(200, StaffOrderSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*BUYER_ROLES)
def approve_order(order_id: int) -> Any:
    """Approve a submitted order: one purchase order per supplier of its wholesaler lines."""
    return _order(services.approve_order(get_session(), order_id, actor=current_actor()))


@api_bp.route("/orders/<int:order_id>/send", methods=["POST"])
@api_bp.response(200, StaffOrderSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*BUYER_ROLES)
def send_order(order_id: int) -> Any:
    """Pass an approved order on to its suppliers: its purchase orders are sent."""
    return _order(services.send_order(get_session(), order_id, actor=current_actor()))


@api_bp.route("/orders/<int:order_id>/cancel", methods=["POST"])
@api_bp.arguments(ReasonSchema)
@api_bp.response(200, StaffOrderSchema, description=MEMBER_VIEW)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*ORDERER_ROLES)
def cancel_order(data: dict[str, Any], order_id: int) -> Any:
    """Cancel an order not yet sent to the suppliers, saying why."""
    return _order(
        services.cancel_order(get_session(), order_id, reason=data["reason"], actor=current_actor())
    )


@api_bp.route("/orders/<int:order_id>/close", methods=["POST"])
@api_bp.response(200, StaffOrderSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*BUYER_ROLES)
def close_order(order_id: int) -> Any:
    """Close a delivered order."""
    return _order(services.close_order(get_session(), order_id, actor=current_actor()))


@api_bp.route("/orders/<int:order_id>/quote.pdf", methods=["GET"])
@api_bp.response(200, content_type="application/pdf", description="The quote, in French")
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow_any_user
def get_quote(order_id: int) -> Any:
    """The quote (devis) of a draft or submitted order, as a PDF."""
    data = services.quote_of_order(
        get_session(), order_id, seller=current_app.config["SELLER"], actor=current_actor()
    )
    return Response(
        quote.render_quote_pdf(data),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="devis-{data.reference}.pdf"'},
    )


@api_bp.route("/orders/<int:order_id>/lines/<int:line_id>/deliveries", methods=["POST"])
@api_bp.arguments(DeliveryInputSchema)
@api_bp.response(201, StaffOrderSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*BUYER_ROLES)
def record_delivery(data: dict[str, Any], order_id: int, line_id: int) -> Any:
    """Record a delivery of (part of) a one-off line; answers the order."""
    session = get_session()
    services.record_delivery(session, order_id, line_id, actor=current_actor(), **data)
    return _order(services.get_order(session, order_id, actor=current_actor()), status=201)


@api_bp.route("/orders/<int:order_id>/lines/<int:line_id>/commissioning", methods=["POST"])
@api_bp.arguments(CommissioningInputSchema)
@api_bp.response(200, StaffOrderSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*BUYER_ROLES)
def record_commissioning(data: dict[str, Any], order_id: int, line_id: int) -> Any:
    """Record the commissioning of a recurring line (a subscription for a wholesaler item)."""
    session = get_session()
    services.record_commissioning(session, order_id, line_id, actor=current_actor(), **data)
    return _order(services.get_order(session, order_id, actor=current_actor()))


# --- Purchase orders and supplier invoices ----------------------------------------------


@api_bp.route("/purchase-orders", methods=["GET"])
@api_bp.arguments(PurchaseOrderQuerySchema, location="query")
@api_bp.response(200, PurchaseOrderPageSchema)
@allow(*STAFF_ONLY)
def list_purchase_orders(args: dict[str, Any]) -> Any:
    """Purchase orders to suppliers, most recent first."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return purchase_orders.list_purchase_orders(
        get_session(),
        actor=current_actor(),
        filters=purchase_orders.PurchaseOrderFilters(**args),
        page=page,
        per_page=per_page,
    )


@api_bp.route("/purchase-orders/<int:purchase_order_id>", methods=["GET"])
@api_bp.response(200, PurchaseOrderSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@allow(*STAFF_ONLY)
def get_purchase_order(purchase_order_id: int) -> Any:
    """One purchase order, with what its supplier invoiced of each line."""
    return purchase_orders.get_purchase_order(
        get_session(), purchase_order_id, actor=current_actor()
    )


@api_bp.route("/supplier-invoices", methods=["POST"])
@api_bp.arguments(SupplierInvoiceInputSchema)
@api_bp.response(201, SupplierInvoiceSchema)
@api_bp.alt_response(409, response="CONFLICT")
@allow(*BUYER_ROLES)
def record_supplier_invoice(data: dict[str, Any]) -> Any:
    """Record a supplier invoice against a sent purchase order; a mismatch is flagged."""
    lines = [purchase_orders.InvoiceLineInput(**line) for line in data.pop("lines")]
    return purchase_orders.record_supplier_invoice(
        get_session(), lines=lines, actor=current_actor(), **data
    )


@api_bp.route("/supplier-invoices", methods=["GET"])
@api_bp.arguments(SupplierInvoiceQuerySchema, location="query")
@api_bp.response(200, SupplierInvoicePageSchema)
@allow(*STAFF_ONLY)
def list_supplier_invoices(args: dict[str, Any]) -> Any:
    """Supplier invoices, most recently recorded first."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return purchase_orders.list_supplier_invoices(
        get_session(),
        actor=current_actor(),
        filters=purchase_orders.SupplierInvoiceFilters(**args),
        page=page,
        per_page=per_page,
    )


@api_bp.route("/supplier-invoices/<int:invoice_id>", methods=["GET"])
@api_bp.response(200, SupplierInvoiceSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@allow(*STAFF_ONLY)
def get_supplier_invoice(invoice_id: int) -> Any:
    """One supplier invoice, with the mismatches found on each line."""
    return purchase_orders.get_supplier_invoice(get_session(), invoice_id, actor=current_actor())


@api_bp.route("/supplier-invoices/<int:invoice_id>/accept", methods=["POST"])
@api_bp.arguments(ReasonSchema)
@api_bp.response(200, SupplierInvoiceSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*BUYER_ROLES)
def accept_supplier_invoice(data: dict[str, Any], invoice_id: int) -> Any:
    """Accept a flagged supplier invoice as it is, saying why: it enters the books."""
    return purchase_orders.accept_supplier_invoice(
        get_session(), invoice_id, reason=data["reason"], actor=current_actor()
    )


@api_bp.route("/supplier-invoices/<int:invoice_id>/reject", methods=["POST"])
@api_bp.arguments(ReasonSchema)
@api_bp.response(200, SupplierInvoiceSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*BUYER_ROLES)
def reject_supplier_invoice(data: dict[str, Any], invoice_id: int) -> Any:
    """Reject a flagged supplier invoice, saying why: the supplier must correct it."""
    return purchase_orders.reject_supplier_invoice(
        get_session(), invoice_id, reason=data["reason"], actor=current_actor()
    )


# --- Subscriptions ----------------------------------------------------------------------


@api_bp.route("/subscriptions", methods=["GET"])
@api_bp.arguments(SubscriptionQuerySchema, location="query")
@api_bp.response(200, StaffSubscriptionPageSchema, description=MEMBER_VIEW)
@allow_any_user
def list_subscriptions(args: dict[str, Any]) -> Any:
    """Subscriptions, most recent first; a member user gets only its own."""
    page, per_page = args.pop("page"), args.pop("per_page")
    result = subscriptions.list_subscriptions(
        get_session(),
        actor=current_actor(),
        filters=subscriptions.SubscriptionFilters(**args),
        page=page,
        per_page=per_page,
    )
    return _dump_for_caller(
        result, member=SubscriptionPageSchema(), staff=StaffSubscriptionPageSchema()
    )


@api_bp.route("/subscriptions/<int:subscription_id>", methods=["GET"])
@api_bp.response(200, StaffSubscriptionSchema, description=MEMBER_VIEW)
@api_bp.alt_response(404, response="NOT_FOUND")
@allow_any_user
def get_subscription(subscription_id: int) -> Any:
    """One subscription, with its quantity history."""
    subscription = subscriptions.get_subscription(
        get_session(), subscription_id, actor=current_actor()
    )
    return _dump_for_caller(
        subscription, member=SubscriptionSchema(), staff=StaffSubscriptionSchema()
    )


@api_bp.route("/subscriptions/<int:subscription_id>/terminate", methods=["POST"])
@api_bp.arguments(TerminationSchema)
@api_bp.response(200, StaffSubscriptionSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*BUYER_ROLES)
def terminate_subscription(data: dict[str, Any], subscription_id: int) -> Any:
    """End a subscription on its last day billed."""
    return subscriptions.terminate_subscription(
        get_session(), subscription_id, actor=current_actor(), **data
    )


@api_bp.route("/subscriptions/<int:subscription_id>/quantity-changes", methods=["POST"])
@api_bp.arguments(QuantityChangeSchema)
@api_bp.response(200, StaffSubscriptionSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*BUYER_ROLES)
def change_subscription_quantity(data: dict[str, Any], subscription_id: int) -> Any:
    """Change a subscription's quantity from a date on."""
    return subscriptions.change_subscription_quantity(
        get_session(), subscription_id, actor=current_actor(), **data
    )


# --- Framework markets and margins ------------------------------------------------------


@api_bp.route("/markets/consumption", methods=["GET"])
@api_bp.arguments(ConsumptionQuerySchema, location="query")
@api_bp.response(200, LotConsumptionSchema(many=True))
@allow(*STAFF_ONLY)
def list_market_consumption(args: dict[str, Any]) -> Any:
    """What approved orders committed of each market lot's yearly ceiling, in a year."""
    return markets.lot_consumption(get_session(), year=args["year"])


@api_bp.route("/margin-truth", methods=["GET"])
@api_bp.arguments(MarginTruthQuerySchema, location="query")
@api_bp.response(200, MarginTruthSchema)
@allow(*STAFF_ONLY)
def margin_truth(args: dict[str, Any]) -> Any:
    """Wholesaler lines whose margin on the supplier's invoices differs from the deliberated
    family rate, beyond the rounding of prices to the cent."""
    return margins.margin_truth(get_session(), actor=current_actor(), **args)
