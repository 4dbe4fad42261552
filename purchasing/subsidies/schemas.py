"""What the subsidies API and programme files accept, and what the API answers.

Amounts and rates travel as strings ("370835.54", "0.5000"); a programme file writes them
as YAML numbers, read exactly (see :mod:`purchasing.subsidies.loader`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import Schema, fields, validate

from purchasing.fields import Amount, ExactDecimal, StrictBoolean, Text, today_in_paris
from purchasing.members.models import MemberKind
from purchasing.subsidies.models import (
    AID_LABEL_LENGTH,
    CODE_LENGTH,
    NAME_LENGTH,
    PARTNER_CODE_LENGTH,
    REFERENCE_LENGTH,
)
from purchasing.subsidies.rules import AidKind

_CODE = validate.Regexp(
    r"^[A-Z0-9]+(-[A-Z0-9]+)*$", error="capital letters and digits, joined by -"
)


class AidRate(ExactDecimal):
    """The share of a line's amount the aid pays: more than 0, at most 1, four decimals."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            places=4, low=Decimal("0.0001"), high=Decimal(1), example="0.5000", **kwargs
        )


def _optional_amount(description: str) -> Amount:
    return Amount(load_default=None, allow_none=True, metadata={"description": description})


# --- Programmes -------------------------------------------------------------------------


class PartnerSchema(Schema):
    code = Text(
        required=True,
        max_length=PARTNER_CODE_LENGTH,
        validate=_CODE,
        metadata={"example": "CDG59"},
    )
    name = Text(required=True, max_length=NAME_LENGTH)
    share = Amount(required=True, metadata={"description": "Its part of the grant"})


class ProgrammeInputSchema(Schema):
    """A programme as created (and as a programme file describes it)."""

    code = Text(
        required=True, max_length=CODE_LENGTH, validate=_CODE, metadata={"example": "FEDER-MC-2024"}
    )
    name = Text(required=True, max_length=NAME_LENGTH)
    funder = Text(required=True, max_length=NAME_LENGTH)
    aid_label = Text(
        max_length=AID_LABEL_LENGTH,
        metadata={
            "description": 'Printed on invoices after "dont aide FEDER"; default: the code',
            "example": "FEDER-MC-2024 Mairie connectée",
        },
    )
    period_start = fields.Date(required=True)
    period_end = fields.Date(
        required=True, metadata={"description": "Last day invoices may be aided (included)"}
    )
    grant_total = Amount(
        required=True, metadata={"description": "The grant awarded, partners' shares included"}
    )
    envelope = Amount(
        required=True,
        metadata={
            "description": "The syndicat's own share: the most invoices may deduct. The "
            "envelope and the partners' shares add up to the grant."
        },
    )
    aid_in_vat_base = StrictBoolean(
        load_default=True,
        metadata={
            "description": "true: the aid is a price complement paid by the fund and stays in "
            "the VAT base (CGI art. 266-1-a), the member pays the total less the aid; false: "
            "the aid reduces the price before VAT"
        },
    )
    member_kinds = fields.List(
        fields.Enum(MemberKind, by_value=True),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "Kinds of members eligible"},
    )
    max_population = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=0),
        metadata={"description": "Eligible members have at most this population; null: any"},
    )
    aid_kind = fields.Enum(AidKind, by_value=True, required=True)
    aid_rate = AidRate(
        load_default=None,
        allow_none=True,
        metadata={"description": "Rate rule: share of the line amount excl. VAT"},
    )
    aid_per_unit = _optional_amount("Fixed rule: aid per unit billed")
    aid_cap_per_unit = _optional_amount("Rate rule: at most this per unit billed")
    aid_cap_per_line = _optional_amount("At most this per invoice line")
    products = fields.List(
        Text(validate=validate.Length(max=40)),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "SKUs of the eligible products (marked subsidy_eligible)"},
    )
    partners = fields.List(fields.Nested(PartnerSchema), load_default=list)


class ProgrammeUpdateSchema(ProgrammeInputSchema):
    """Changes to a programme: any field but the code, none required; lists replace."""

    class Meta:
        exclude = ("code",)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("partial", True)
        super().__init__(**kwargs)


class ProgrammeSchema(Schema):
    """A programme as the API shows it."""

    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    funder = fields.String()
    aid_label = fields.String()
    period_start = fields.Date()
    period_end = fields.Date()
    grant_total = Amount()
    envelope = Amount()
    consumed = Amount(metadata={"description": "Aid granted on invoices, net of credit notes"})
    remaining = Amount(metadata={"description": "What invoices may still deduct"})
    aid_in_vat_base = fields.Boolean()
    member_kinds = fields.List(fields.String())
    max_population = fields.Integer(allow_none=True)
    aid_kind = fields.Enum(AidKind, by_value=True)
    aid_rate = fields.Decimal(as_string=True, allow_none=True)
    aid_per_unit = Amount(allow_none=True)
    aid_cap_per_unit = Amount(allow_none=True)
    aid_cap_per_line = Amount(allow_none=True)
    products = fields.List(fields.String(), attribute="eligible_skus")
    partners = fields.List(fields.Nested(PartnerSchema))
    created_at = fields.DateTime()


# --- Receipts and reversals -------------------------------------------------------------


class ReceiptInputSchema(Schema):
    received_on = fields.Date(required=True)
    amount = Amount(required=True, metadata={"example": "173104.18"})
    reference = Text(
        required=True,
        max_length=REFERENCE_LENGTH,
        metadata={"description": "The funder's payment reference; unique in the programme"},
    )


class ReceiptSchema(Schema):
    id = fields.Integer()
    programme_id = fields.Integer()
    received_on = fields.Date()
    amount = Amount()
    reference = fields.String()
    recorded_at = fields.DateTime()


class ReversalInputSchema(Schema):
    partner = Text(required=True, max_length=PARTNER_CODE_LENGTH, metadata={"example": "CDG59"})
    reversed_on = fields.Date(required=True)
    amount = Amount(required=True, metadata={"example": "103089.20"})
    reference = Text(
        required=True,
        max_length=REFERENCE_LENGTH,
        metadata={"description": "The payment order (mandat) number; unique in the programme"},
    )


class ReversalSchema(Schema):
    id = fields.Integer()
    programme_id = fields.Integer()
    partner = fields.Function(lambda reversal: reversal.partner.code)
    reversed_on = fields.Date()
    amount = Amount()
    reference = fields.String()
    recorded_at = fields.DateTime()


# --- Programme files --------------------------------------------------------------------


class ProgrammeFileSchema(ProgrammeInputSchema):
    """A programme file: the programme, the tranches received and the reversals made."""

    receipts = fields.List(fields.Nested(ReceiptInputSchema), load_default=list)
    reversals = fields.List(fields.Nested(ReversalInputSchema), load_default=list)


# --- Statement --------------------------------------------------------------------------


class StatementQuerySchema(Schema):
    as_of = fields.Date(
        load_default=today_in_paris,
        metadata={"description": "Movements dated up to this day; default today"},
    )


class MemberConsumptionSchema(Schema):
    member_id = fields.Integer()
    member_name = fields.String()
    granted = Amount()
    given_back = Amount()
    consumed = Amount()


class PartnerPositionSchema(Schema):
    code = fields.String()
    name = fields.String()
    share = Amount()
    reversed = Amount()
    left = Amount()


class ReceiptLineSchema(Schema):
    received_on = fields.Date()
    amount = Amount()
    reference = fields.String()


class ReversalLineSchema(Schema):
    reversed_on = fields.Date()
    partner_code = fields.String()
    amount = Amount()
    reference = fields.String()


class StatementSchema(Schema):
    programme_id = fields.Integer()
    code = fields.String()
    name = fields.String()
    funder = fields.String()
    period_start = fields.Date()
    period_end = fields.Date()
    aid_in_vat_base = fields.Boolean()
    as_of = fields.Date()
    grant_total = Amount()
    envelope = Amount(metadata={"description": "The syndicat's own share"})
    partners_total = Amount()
    granted = Amount()
    given_back = Amount()
    consumed = Amount(metadata={"description": "Granted less given back"})
    remaining = Amount(metadata={"description": "Envelope less consumed"})
    received = Amount()
    to_receive = Amount(metadata={"description": "Grant less received"})
    reversed = Amount()
    retained = Amount(metadata={"description": "Received less reversed"})
    members = fields.List(fields.Nested(MemberConsumptionSchema))
    partners = fields.List(fields.Nested(PartnerPositionSchema))
    receipts = fields.List(fields.Nested(ReceiptLineSchema))
    reversals = fields.List(fields.Nested(ReversalLineSchema))
