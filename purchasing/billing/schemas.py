"""What the billing API accepts and answers. Amounts travel as strings ("1234.56")."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from purchasing.billing.legal_basis import legal_basis
from purchasing.billing.models import DocumentKind, InvoiceLine, PaymentStatus
from purchasing.fields import Amount, Id, PaginationQuerySchema, Text

PERIOD_PATTERN = r"^[1-9]\d{3}-(0[1-9]|1[0-2])$"


class InvoiceVatSchema(Schema):
    rate = fields.Decimal(as_string=True)
    base = Amount()
    amount = Amount()


class InvoiceLineSchema(Schema):
    id = fields.Integer()
    position = fields.Integer()
    designation = fields.String()
    quantity = fields.Decimal(as_string=True)
    unit = fields.String()
    unit_price = Amount()
    vat_rate = fields.Decimal(as_string=True)
    net_amount = Amount()
    aid_amount = Amount(allow_none=True)
    prorata_days = fields.Integer(allow_none=True)
    period_days = fields.Integer(allow_none=True)
    service_start = fields.Date(allow_none=True)
    service_end = fields.Date(allow_none=True)
    subscription_id = fields.Integer(allow_none=True)
    order_line_id = fields.Integer(allow_none=True)
    credited_line_id = fields.Integer(allow_none=True)
    deliberation_reference = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "the syndicat's deliberation that set the line's price"},
    )
    deliberation_date = fields.Date(dump_only=True, allow_none=True)
    market_reference = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "framework market lot it is bought under",
            "example": "MAR-2023-01 lot 2",
        },
    )

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        # Read from the order line the invoice line bills, as the invoice annex cites them.
        if attr in _LEGAL_BASIS_FIELDS and isinstance(obj, InvoiceLine):
            return getattr(legal_basis(obj), attr)
        return super().get_attribute(obj, attr, default)


_LEGAL_BASIS_FIELDS = frozenset({"deliberation_reference", "deliberation_date", "market_reference"})


class PaymentSchema(Schema):
    id = fields.Integer()
    amount = Amount()
    paid_on = fields.Date()
    reference = fields.String()


class InvoiceSchema(Schema):
    id = fields.Integer()
    kind = fields.Enum(DocumentKind, by_value=True)
    number = fields.String()
    member_id = fields.Integer()
    issue_date = fields.Date()
    due_date = fields.Date(allow_none=True)
    engagement_number = fields.String(allow_none=True)
    corrected_invoice_id = fields.Integer(allow_none=True)
    reason = fields.String()
    total_net = Amount()
    total_vat = Amount()
    total_gross = Amount()
    total_aid = Amount()
    amount_due = Amount()
    amount_paid = Amount()
    amount_credited = Amount()
    outstanding = Amount(allow_negative=True)
    payment_status = fields.Enum(PaymentStatus, by_value=True)
    lines = fields.List(fields.Nested(InvoiceLineSchema))
    vat = fields.List(fields.Nested(InvoiceVatSchema), attribute="vat_lines")
    payments = fields.List(fields.Nested(PaymentSchema))
    pdf_sha256 = fields.Function(lambda invoice: invoice.document and invoice.document.pdf_sha256)


class InvoiceSummarySchema(InvoiceSchema):
    class Meta:
        exclude = ("lines", "vat", "payments")


class InvoicePageSchema(Schema):
    items = fields.List(fields.Nested(InvoiceSummarySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class InvoiceQuerySchema(PaginationQuerySchema):
    member_id = Id(metadata={"description": "staff only; a member sees its own"})
    kind = fields.Enum(DocumentKind, by_value=True)
    payment_status = fields.Enum(PaymentStatus, by_value=True)


class CreditLineInputSchema(Schema):
    invoice_line_id = Id(required=True)
    amount = Amount(metadata={"description": "excl. VAT; leave out to credit the whole line"})


class CreditNoteInputSchema(Schema):
    reason = Text(required=True, max_length=500)
    lines = fields.List(
        fields.Nested(CreditLineInputSchema),
        validate=validate.Length(min=1),
        metadata={"description": "leave out to credit the whole invoice"},
    )


class PaymentInputSchema(Schema):
    amount = Amount(required=True)
    paid_on = fields.Date(required=True)
    reference = Text(max_length=100, load_default="")


class BillingRunInputSchema(Schema):
    period = fields.String(
        required=True,
        validate=validate.Regexp(PERIOD_PATTERN, error="a month written YYYY-MM"),
        metadata={"example": "2026-11"},
    )


class BillingRunSchema(Schema):
    id = fields.Integer()
    period = fields.String()
    status = fields.String()
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    members_total = fields.Integer()
    invoices_issued = fields.Integer()
    attempts = fields.Integer()


class BillingRunResultSchema(Schema):
    run = fields.Nested(BillingRunSchema)
    #: What this call issued: nothing when the period was already invoiced.
    issued = fields.List(fields.Nested(InvoiceSummarySchema))
    members_seen = fields.Integer()


class ReceivablesQuerySchema(Schema):
    as_of = fields.Date(metadata={"description": "default: today"})
    member_id = Id()


class ReceivableSchema(Schema):
    invoice = fields.Nested(InvoiceSummarySchema)
    outstanding = Amount(allow_negative=True)
    days_overdue = fields.Integer()
    bucket = fields.String()


class ReceivablesReportSchema(Schema):
    as_of = fields.Date()
    items = fields.List(fields.Nested(ReceivableSchema))
    totals = fields.Dict(keys=fields.String(), values=Amount(allow_negative=True))
    total = Amount(allow_negative=True)
