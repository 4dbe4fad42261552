"""What the orders API accepts, and what it answers.

Member users and staff read the same orders and subscriptions, but a member never sees
what the centre pays (supplier costs) nor its ledger accounts: the ``Staff...`` schemas
add them, and the views dump with one or the other according to the caller's role.
Amounts, rates and quantities travel as strings ("1234.56", "0.2000", "1.5").
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from purchasing.catalog.pricing import Billing, PurchaseMode
from purchasing.catalog.schemas import DeliberationField
from purchasing.fields import (
    Amount,
    Id,
    PaginationQuerySchema,
    Quantity,
    Rate,
    Text,
    today_in_paris,
)
from purchasing.orders.models import (
    DELIVERY_SITE_LENGTH,
    ENGAGEMENT_NUMBER_LENGTH,
    LINE_NOTE_LENGTH,
    NOTE_LENGTH,
    REASON_LENGTH,
    SUPPLIER_INVOICE_NUMBER_LENGTH,
    OrderStatus,
    PurchaseOrderLineKind,
    PurchaseOrderStatus,
    SupplierInvoiceStatus,
)
from purchasing.orders.quote import totals_by_billing

_id = Id


def _optional_text(max_length: int, **kwargs: Any) -> Text:
    return Text(max_length=max_length, load_default=None, allow_none=True, **kwargs)


# --- Input ------------------------------------------------------------------------------


class OrderLineInputSchema(Schema):
    sku = Text(required=True, max_length=40, metadata={"example": "MC-MESSAGERIE"})
    quantity = Quantity(required=True)
    delivery_site = Text(
        load_default="",
        max_length=DELIVERY_SITE_LENGTH,
        metadata={"description": "Where to deliver or commission it", "example": "Mairie"},
    )
    note = Text(load_default="", max_length=LINE_NOTE_LENGTH)


class OrderLineUpdateSchema(Schema):
    """Changes to a draft's line; its product and prices stay (remove it and add another)."""

    quantity = Quantity()
    delivery_site = Text(max_length=DELIVERY_SITE_LENGTH)
    note = Text(max_length=LINE_NOTE_LENGTH)


class OrderCreateSchema(Schema):
    member_id = _id(
        strict=True,
        load_default=None,
        allow_none=True,
        metadata={"description": "Required from staff; a member user orders for its own"},
    )
    order_date = fields.Date(
        load_default=None,
        allow_none=True,
        metadata={"description": "Staff only, not in the future; default today (Paris)"},
    )
    engagement_number = _optional_text(
        ENGAGEMENT_NUMBER_LENGTH,
        metadata={
            "description": "The member's engagement number, printed on Chorus Pro invoices",
            "example": "EJ-2026-00153",
        },
    )
    note = Text(load_default="", max_length=NOTE_LENGTH)
    lines = fields.List(fields.Nested(OrderLineInputSchema), load_default=list)


class OrderUpdateSchema(Schema):
    """Changes to a draft: any of these fields."""

    engagement_number = _optional_text(ENGAGEMENT_NUMBER_LENGTH)
    note = Text(max_length=NOTE_LENGTH)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("partial", True)
        super().__init__(**kwargs)


class ReasonSchema(Schema):
    reason = Text(required=True, max_length=REASON_LENGTH)


class DeliveryInputSchema(Schema):
    quantity = Quantity(required=True)
    delivered_on = fields.Date(required=True)


class CommissioningInputSchema(Schema):
    commissioned_on = fields.Date(
        required=True, metadata={"description": "Mise en service: first day billed"}
    )


class OrderQuerySchema(PaginationQuerySchema):
    status = fields.Enum(OrderStatus, by_value=True)
    member_id = _id(metadata={"description": "Staff: one member's orders"})


class SupplierInvoiceLineInputSchema(Schema):
    purchase_order_line_id = _id(required=True, strict=True)
    quantity = Quantity(required=True)
    unit_cost = Amount(required=True)
    amount = Amount(required=True, metadata={"description": "Line amount before VAT"})
    vat_rate = Rate(required=True)
    period_start = fields.Date(
        load_default=None, metadata={"description": "Recurring items: first day billed"}
    )
    period_end = fields.Date(
        load_default=None, metadata={"description": "Recurring items: last day billed"}
    )


class SupplierInvoiceInputSchema(Schema):
    purchase_order_id = _id(required=True, strict=True)
    invoice_number = Text(
        required=True,
        max_length=SUPPLIER_INVOICE_NUMBER_LENGTH,
        metadata={"description": "The supplier's own number", "example": "F2026-0412"},
    )
    invoice_date = fields.Date(required=True)
    lines = fields.List(
        fields.Nested(SupplierInvoiceLineInputSchema),
        required=True,
        validate=validate.Length(min=1, error="at least one line"),
    )
    total_excl_vat = Amount(required=True)
    total_vat = Amount(required=True)
    total_incl_vat = Amount(required=True)


class PurchaseOrderQuerySchema(PaginationQuerySchema):
    status = fields.Enum(PurchaseOrderStatus, by_value=True)
    supplier_id = _id()
    order_id = _id()


class SupplierInvoiceQuerySchema(PaginationQuerySchema):
    status = fields.Enum(SupplierInvoiceStatus, by_value=True)
    supplier_id = _id()
    purchase_order_id = _id()


class SubscriptionQuerySchema(PaginationQuerySchema):
    member_id = _id(metadata={"description": "Staff: one member's subscriptions"})
    active_on = fields.Date(metadata={"description": "Only those in service that day"})


class ConsumptionQuerySchema(Schema):
    year = fields.Integer(
        load_default=lambda: today_in_paris().year,
        validate=validate.Range(min=2000, max=2100),
        metadata={"description": "Calendar year of the approvals; default this year"},
    )


class MarginTruthQuerySchema(Schema):
    year = fields.Integer(
        validate=validate.Range(min=2000, max=2100),
        metadata={"description": "Only supplier invoices dated that year"},
    )
    family = Text(validate=validate.Length(min=1, max=40), metadata={"description": "Family code"})


class TerminationSchema(Schema):
    end_date = fields.Date(required=True, metadata={"description": "Last day billed, included"})


class QuantityChangeSchema(Schema):
    quantity = Quantity(required=True)
    effective_from = fields.Date(
        required=True, metadata={"description": "First day of the new quantity"}
    )


# --- Output -----------------------------------------------------------------------------


class VatBreakdownSchema(Schema):
    rate = Rate()
    base = Amount()
    vat = Amount()


class DocumentTotalsSchema(Schema):
    total_excl_vat = Amount()
    vat = fields.List(fields.Nested(VatBreakdownSchema), metadata={"description": "Per rate"})
    total_vat = Amount()
    total_incl_vat = Amount()


class TotalsBlockSchema(Schema):
    billing = fields.String(validate=validate.OneOf([billing.value for billing in Billing]))
    label = fields.String()
    totals = fields.Nested(DocumentTotalsSchema)


class DeliverySchema(Schema):
    id = fields.Integer()
    quantity = Quantity()
    delivered_on = fields.Date()
    recorded_at = fields.DateTime()


class OrderLineSchema(Schema):
    """A line as a member reads it: what it pays, never what the centre pays."""

    id = fields.Integer()
    position = fields.Integer()
    product_id = fields.Integer()
    sku = fields.String()
    designation = fields.String()
    unit = fields.String()
    quantity = Quantity()
    delivery_site = fields.String()
    note = fields.String()
    family_code = fields.String()
    supplier_id = fields.Integer()
    purchase_mode = fields.Enum(PurchaseMode, by_value=True)
    contracted_directly_by_member = fields.Boolean(
        metadata={"description": "Intermediary item: the member contracts and pays the supplier"}
    )
    billing = fields.Enum(Billing, by_value=True)
    price_version_id = fields.Integer()
    deliberation = DeliberationField(
        allow_none=True,
        metadata={"description": "The syndicat's deliberation that set the prices kept"},
    )
    market_reference = fields.String(
        allow_none=True, metadata={"description": "The market and lot it is bought under"}
    )
    sale_price = Amount(metadata={"description": "Per unit (and period), before VAT"})
    setup_fee_price = Amount(allow_none=True, metadata={"description": "Per unit, once"})
    vat_rate = Rate()
    subsidy_eligible = fields.Boolean()
    amount = Amount(metadata={"description": "Before VAT (per period if recurring)"})
    setup_fee_amount = Amount(allow_none=True)
    delivered_quantity = Quantity()
    deliveries = fields.List(fields.Nested(DeliverySchema))
    commissioned_on = fields.Date(allow_none=True)
    subscription_id = fields.Integer(allow_none=True)


class StaffOrderLineSchema(OrderLineSchema):
    supplier_cost = Amount()
    setup_fee_cost = Amount(allow_none=True)
    sales_account = fields.String(allow_none=True)
    purchase_account = fields.String(allow_none=True)
    setup_fee_due_on = fields.Date(allow_none=True)
    setup_fee_billed_on = fields.Date(allow_none=True)


class PurchaseOrderRefSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    supplier_id = fields.Integer()
    status = fields.Enum(PurchaseOrderStatus, by_value=True)


class OrderSchema(Schema):
    id = fields.Integer()
    reference = fields.String(metadata={"example": "CMD-2026-000042"})
    member_id = fields.Integer()
    member_name = fields.String(attribute="member.name")
    order_date = fields.Date(metadata={"description": "Date of the prices kept"})
    status = fields.Enum(OrderStatus, by_value=True)
    engagement_number = fields.String(allow_none=True)
    note = fields.String()
    created_at = fields.DateTime()
    created_by_id = fields.Integer(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    submitted_by_id = fields.Integer(allow_none=True)
    returned_at = fields.DateTime(allow_none=True)
    return_reason = fields.String(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    approved_by_id = fields.Integer(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    sent_by_id = fields.Integer(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    closed_by_id = fields.Integer(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    cancelled_by_id = fields.Integer(allow_none=True)
    cancellation_reason = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(OrderLineSchema))
    totals = fields.List(
        fields.Nested(TotalsBlockSchema),
        metadata={
            "description": "Of the lines the centre bills, per rhythm (one-off, monthly, "
            "yearly); intermediary lines are left out"
        },
    )

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        if attr == "totals":
            return totals_by_billing(obj.lines)
        return super().get_attribute(obj, attr, default)


class StaffOrderSchema(OrderSchema):
    lines = fields.List(fields.Nested(StaffOrderLineSchema))
    purchase_orders = fields.List(fields.Nested(PurchaseOrderRefSchema))


class OrderPageSchema(Schema):
    items = fields.List(fields.Nested(OrderSchema))
    total = fields.Integer(metadata={"description": "Orders matching, over all pages"})
    page = fields.Integer()
    per_page = fields.Integer()


class StaffOrderPageSchema(OrderPageSchema):
    items = fields.List(fields.Nested(StaffOrderSchema))


class PurchaseOrderLineSchema(Schema):
    id = fields.Integer()
    order_line_id = fields.Integer()
    kind = fields.Enum(PurchaseOrderLineKind, by_value=True)
    billing = fields.Enum(Billing, by_value=True)
    sku = fields.String()
    description = fields.String()
    quantity = Quantity()
    unit_cost = Amount()
    amount = Amount()
    vat_rate = Rate()
    purchase_account = fields.String()
    invoiced_quantity = Quantity(
        metadata={"description": "Over the supplier invoices not rejected (all periods)"}
    )
    invoiced_amount = Amount()


class PurchaseOrderSchema(Schema):
    id = fields.Integer()
    number = fields.String(metadata={"example": "BCF-2026-000007"})
    order_id = fields.Integer()
    order_reference = fields.String(attribute="order.reference")
    member_id = fields.Integer(attribute="order.member_id")
    supplier_id = fields.Integer()
    status = fields.Enum(PurchaseOrderStatus, by_value=True)
    issued_on = fields.Date()
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    sent_by_id = fields.Integer(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    cancelled_by_id = fields.Integer(allow_none=True)
    total_cost = Amount(metadata={"description": "Before VAT; one period of recurring items"})
    lines = fields.List(fields.Nested(PurchaseOrderLineSchema))


class PurchaseOrderPageSchema(Schema):
    items = fields.List(fields.Nested(PurchaseOrderSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class SupplierInvoiceLineSchema(Schema):
    id = fields.Integer()
    purchase_order_line_id = fields.Integer()
    quantity = Quantity()
    unit_cost = Amount()
    amount = Amount()
    vat_rate = Rate()
    period_start = fields.Date(allow_none=True)
    period_end = fields.Date(allow_none=True)
    mismatches = fields.List(
        fields.String(), metadata={"description": "Why it disagrees with the purchase order"}
    )


class SupplierInvoiceSchema(Schema):
    id = fields.Integer()
    supplier_id = fields.Integer()
    purchase_order_id = fields.Integer()
    purchase_order_number = fields.String(attribute="purchase_order.number")
    invoice_number = fields.String()
    invoice_date = fields.Date()
    status = fields.Enum(
        SupplierInvoiceStatus,
        by_value=True,
        metadata={"description": "mismatch: flagged, out of the books until accepted"},
    )
    total_excl_vat = Amount()
    total_vat = Amount()
    total_incl_vat = Amount()
    recorded_at = fields.DateTime()
    recorded_by_id = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decided_by_id = fields.Integer(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(SupplierInvoiceLineSchema))


class SupplierInvoicePageSchema(Schema):
    items = fields.List(fields.Nested(SupplierInvoiceSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class SubscriptionQuantitySchema(Schema):
    effective_from = fields.Date()
    quantity = Quantity()


class SubscriptionSchema(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    product_id = fields.Integer()
    order_line_id = fields.Integer()
    order_id = fields.Integer(attribute="order_line.order_id")
    sku = fields.String(attribute="order_line.sku")
    designation = fields.String(attribute="order_line.designation")
    billing_period = fields.Enum(Billing, by_value=True)
    unit_price = Amount(metadata={"description": "Per unit and billing period, before VAT"})
    vat_rate = Rate()
    subsidy_eligible = fields.Boolean()
    start_date = fields.Date()
    end_date = fields.Date(allow_none=True, metadata={"description": "Last day billed"})
    quantity_today = Quantity(
        metadata={"description": "In force today (Paris); 0 outside the subscription's days"}
    )
    quantities = fields.List(fields.Nested(SubscriptionQuantitySchema))

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        if attr == "quantity_today":
            return obj.quantity_on(today_in_paris())
        return super().get_attribute(obj, attr, default)


class StaffSubscriptionSchema(SubscriptionSchema):
    unit_cost = Amount()
    terminated_at = fields.DateTime(allow_none=True)
    terminated_by_id = fields.Integer(allow_none=True)


class SubscriptionPageSchema(Schema):
    items = fields.List(fields.Nested(SubscriptionSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class StaffSubscriptionPageSchema(SubscriptionPageSchema):
    items = fields.List(fields.Nested(StaffSubscriptionSchema))


class LotConsumptionSchema(Schema):
    market_number = fields.String(attribute="market.number")
    market_title = fields.String(attribute="market.title")
    market_end_date = fields.Date(attribute="market.end_date")
    lot_number = fields.String(attribute="lot.number")
    lot_reference = fields.String(attribute="lot.reference")
    supplier_code = fields.String(attribute="lot.supplier.code")
    year = fields.Integer()
    yearly_ceiling = Amount(
        attribute="ceiling", allow_none=True, metadata={"description": "null: no ceiling"}
    )
    consumed = Amount(metadata={"description": "Committed by approved orders not cancelled"})
    remaining = Amount(allow_none=True, allow_negative=True)
    consumed_share = Rate(allow_none=True, metadata={"description": "Consumed over ceiling"})
    orders = fields.Integer(metadata={"description": "Approved orders committing to it"})


class LineMarginSchema(Schema):
    order_id = fields.Integer()
    order_reference = fields.String()
    member_id = fields.Integer()
    order_line_id = fields.Integer()
    sku = fields.String()
    designation = fields.String()
    family_code = fields.String()
    invoiced_quantity = Quantity()
    invoice_lines = fields.Integer()
    sale_amount = Amount(metadata={"description": "Charged for the quantities invoiced"})
    catalogue_cost = Amount(metadata={"description": "Those quantities at the catalogue cost"})
    invoiced_cost = Amount(metadata={"description": "What the supplier invoiced"})
    margin = Amount(allow_negative=True)
    real_rate = fields.Decimal(
        as_string=True, allow_none=True, metadata={"description": "margin / invoiced_cost"}
    )
    deliberated_rate = Rate(
        metadata={"description": "The family rate frozen on the line's price version"}
    )
    rate_deliberation = DeliberationField(
        allow_none=True,
        dump_only=True,
        metadata={"description": "The syndicat's deliberation that set deliberated_rate"},
    )
    price_deliberation = DeliberationField(
        allow_none=True,
        dump_only=True,
        metadata={"description": "The syndicat's deliberation that set the line's prices"},
    )
    deliberated_margin = Amount(allow_negative=True)
    margin_gap = Amount(
        allow_negative=True, metadata={"description": "margin - deliberated_margin"}
    )
    rate_difference = fields.Decimal(as_string=True, allow_none=True)
    tolerance = Amount(
        metadata={"description": "Half a cent per unit invoiced plus a cent per invoice line"}
    )


class MarginTruthSchema(Schema):
    year = fields.Integer(allow_none=True)
    family = fields.String(allow_none=True)
    lines_examined = fields.Integer(
        metadata={"description": "Wholesaler lines with supplier invoices in the books"}
    )
    margin_gap = Amount(allow_negative=True)
    lines = fields.List(
        fields.Nested(LineMarginSchema),
        metadata={"description": "Lines whose margin differs beyond the tolerance"},
    )
