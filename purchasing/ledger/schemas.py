"""What the ledger API accepts and answers: fiscal years, postings, entries, exports."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validates_schema
from marshmallow.validate import OneOf, Range

from purchasing.errors import ValidationFailed
from purchasing.fields import Amount, PaginationQuerySchema, Text
from purchasing.ledger.exports import MEDIA_TYPES, ExportScope
from purchasing.ledger.models import FiscalYearStatus, JournalCode

YEAR = Range(min=2000, max=2100)
FORMATS = tuple(MEDIA_TYPES)


class ScopeQuerySchema(Schema):
    """A fiscal year, or a range of entry dates (both ends included)."""

    fiscal_year = fields.Integer(validate=YEAR, metadata={"example": 2026})
    date_from = fields.Date(metadata={"description": "With date_to, instead of fiscal_year"})
    date_to = fields.Date()

    @validates_schema
    def _one_scope(self, data: dict[str, Any], **_kwargs: Any) -> None:
        has_range = "date_from" in data or "date_to" in data
        if "fiscal_year" in data and has_range:
            raise ValidationError("give a fiscal year or a date range, not both", "fiscal_year")
        if not has_range and "fiscal_year" not in data:
            raise ValidationError("give a fiscal year, or date_from and date_to", "fiscal_year")
        for end in ("date_from", "date_to"):
            if has_range and end not in data:
                raise ValidationError("a date range needs both ends", end)
        if has_range:
            try:
                ExportScope.between(data["date_from"], data["date_to"])
            except ValidationFailed as refused:
                raise ValidationError(refused.message, "date_to") from refused


def scope_of(args: dict[str, Any]) -> ExportScope:
    """The export scope of loaded ``ScopeQuerySchema`` arguments."""
    if args.get("fiscal_year") is not None:
        return ExportScope.for_year(args["fiscal_year"])
    return ExportScope.between(args["date_from"], args["date_to"])


class ExportQuerySchema(ScopeQuerySchema):
    format = fields.String(load_default="csv", validate=OneOf(FORMATS))


class FiscalYearSchema(Schema):
    year = fields.Integer()
    status = fields.Enum(FiscalYearStatus, by_value=True)
    opened_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    closed_by_id = fields.Integer(allow_none=True)
    entries = fields.Integer(metadata={"description": "Entries posted in the year"})
    total = Amount(metadata={"description": "Sum of their debits (equal to their credits)"})
    result = Amount(
        allow_none=True,
        allow_negative=True,
        metadata={"description": "Once closed: its result, negative for a deficit"},
    )


class FiscalYearInputSchema(Schema):
    year = fields.Integer(required=True, strict=True, validate=YEAR)


class PostingInputSchema(Schema):
    limit = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=Range(min=1),
        metadata={"description": "At most this many events; all pending ones if absent"},
    )


class PostingRefusalSchema(Schema):
    event_id = fields.Integer()
    kind = fields.String()
    message = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class PostingResultSchema(Schema):
    posted = fields.Integer(metadata={"description": "Entries written"})
    empty = fields.Integer(metadata={"description": "Events with nothing to post"})
    refused = fields.List(
        fields.Nested(PostingRefusalSchema),
        metadata={"description": "Events left pending, and why (a closed year...)"},
    )
    pending = fields.Integer(metadata={"description": "Events still pending after the run"})


class JournalLineSchema(Schema):
    position = fields.Integer()
    account_number = fields.String()
    auxiliary_number = fields.String(allow_none=True)
    auxiliary_label = fields.String(allow_none=True)
    family_code = fields.String(allow_none=True)
    debit = Amount()
    credit = Amount()
    matching_reference = fields.String(
        allow_none=True,
        metadata={"description": "On a member's or supplier's account: the invoice it is of"},
    )


class JournalEntrySchema(Schema):
    id = fields.Integer()
    number = fields.String(metadata={"example": "EC-2026-000042"})
    fiscal_year = fields.Integer()
    entry_date = fields.Date()
    journal = fields.Enum(JournalCode, by_value=True)
    document_reference = fields.String()
    label = fields.String()
    source_event_id = fields.Integer()
    source_kind = fields.String()
    total = Amount()
    posted_at = fields.DateTime()
    lines = fields.List(fields.Nested(JournalLineSchema))


class YearEndSchema(Schema):
    year = fields.Integer()
    result = Amount(allow_negative=True, metadata={"description": "Negative for a deficit"})
    result_entry = fields.Nested(
        JournalEntrySchema,
        allow_none=True,
        metadata={"description": "Classes 6 and 7 brought to 120 or 129 (journal CL)"},
    )
    opening_entry = fields.Nested(
        JournalEntrySchema,
        allow_none=True,
        metadata={"description": "Entry 0 of the next year: the balances carried (AN)"},
    )


class JournalEntryPageSchema(Schema):
    items = fields.List(fields.Nested(JournalEntrySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class JournalEntryQuerySchema(PaginationQuerySchema):
    fiscal_year = fields.Integer(validate=YEAR)
    journal = fields.Enum(JournalCode, by_value=True)
    account = Text(max_length=10, metadata={"description": "The account or its sub-accounts"})
    auxiliary = Text(max_length=40, metadata={"example": "M00012"})
    date_from = fields.Date()
    date_to = fields.Date()
    reference = Text(max_length=100, metadata={"example": "FA-2026-000123"})


class TrialBalanceLineSchema(Schema):
    account = fields.String()
    label = fields.String()
    debit = Amount()
    credit = Amount()
    balance = Amount(allow_negative=True, metadata={"description": "Debit minus credit"})


class TrialBalanceSchema(Schema):
    title = fields.String(metadata={"example": "exercice 2026"})
    lines = fields.List(fields.Nested(TrialBalanceLineSchema))
    total_debit = Amount()
    total_credit = Amount()


class LedgerCheckSchema(Schema):
    ok = fields.Boolean()
    entries = fields.Integer()
    lines = fields.Integer()
    total_debit = Amount()
    total_credit = Amount()
    unbalanced = fields.List(fields.String(), metadata={"description": "Entry numbers"})
    gaps = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.Integer()),
        metadata={"description": "Per fiscal year, the entry numbers missing"},
    )
    pending_ledger_events = fields.Integer()
    unbalanced_letterings = fields.List(
        fields.String(), metadata={"description": "Letterings that do not balance: 2026/AB"}
    )


class LedgerCheckQuerySchema(Schema):
    fiscal_year = fields.Integer(validate=YEAR)


class FamilyMarginSchema(Schema):
    family_code = fields.String(allow_none=True)
    family_name = fields.String()
    purchases = Amount(allow_negative=True)
    sales = Amount(allow_negative=True)
    margin = Amount(allow_negative=True)
    margin_rate = fields.Decimal(
        as_string=True,
        allow_none=True,
        metadata={"description": "Margin over purchases; null without purchases"},
    )


class MarginReportSchema(Schema):
    title = fields.Function(lambda report: report.scope.title)
    families = fields.List(fields.Nested(FamilyMarginSchema))
    purchases = Amount(allow_negative=True)
    sales = Amount(allow_negative=True)
    margin = Amount(allow_negative=True)


class FamilyOrdersSchema(Schema):
    family_code = fields.String()
    family_name = fields.String()
    orders = fields.Integer()
    lines = fields.Integer()


class ActivityReportSchema(Schema):
    year = fields.Integer()
    members_at_year_end = fields.Integer()
    new_adhesions = fields.Integer()
    orders = fields.Integer()
    orders_by_family = fields.List(fields.Nested(FamilyOrdersSchema))
    telecom_links = fields.Decimal(as_string=True)
    video_protection_members = fields.Integer(
        metadata={"description": "Collectivities that ordered video-protection"}
    )
    margins = fields.Nested(MarginReportSchema)
    grant_received = Amount()
    grant_reversed = Amount(allow_negative=True)
