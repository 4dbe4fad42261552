"""Marshmallow schemas of the catalogue: API input and output, and catalogue file entries.

The same entry schemas check the YAML files (``loader.py``) and the API's input, so a rule
holds whichever way data comes in. Unknown keys are refused (marshmallow's default).

Members and staff read different documents: the ``Staff...`` output schemas add what a
member must not see (supplier costs, margin rates, notes) or has no use for (accounts).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema
from stdnum.eu import vat
from stdnum.exceptions import ValidationError as NumberInvalid
from stdnum.fr import siret

from purchasing.catalog.deliberations import EXAMPLE as DELIBERATION_EXAMPLE
from purchasing.catalog.deliberations import Deliberation, NotADeliberation
from purchasing.catalog.models import AccountKind, PriceVersionStatus, ServiceDomain
from purchasing.catalog.pricing import FRENCH_VAT_RATES, Billing, PurchaseMode
from purchasing.fields import (
    Amount,
    PaginationQuerySchema,
    StrictBoolean,
    Text,
    today_in_paris,
)
from purchasing.fields import Rate as RateField


class AccountNumber(fields.Field):
    """An account number of the chart: digits, written with or without quotes."""

    PATTERN = re.compile(r"^[1-9][0-9]{1,7}$")

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValidationError('an account number is a string of digits, e.g. "7062"')
        number = str(value).strip()
        if not self.PATTERN.match(number):
            raise ValidationError('an account number is 2 to 8 digits, e.g. "7062"')
        try:
            AccountKind.of_number(number)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        return number

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)


class Siret(fields.String):
    """A SIRET (14 digits, Luhn key), spaces allowed on input, stored compact."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            return siret.validate(raw)
        except NumberInvalid as exc:
            raise ValidationError(f"not a valid SIRET: {exc.message.lower()}") from None


class VatNumber(fields.String):
    """An EU intra-community VAT number (FR + key + SIREN for a French company)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            return vat.validate(raw)
        except NumberInvalid as exc:
            raise ValidationError(f"not a valid VAT number: {exc.message.lower()}") from None


class DeliberationField(fields.Field):
    """A deliberation of the syndicat: ``"2024-17 du 12/03/2024"`` as French acts cite it
    (catalogue files), or ``{"reference": "2024-17", "date": "2024-03-12"}`` (API).

    It is dumped as the object.
    """

    default_error_messages = {
        "invalid": f'a deliberation: "{DELIBERATION_EXAMPLE}", or an object with its '
        '"reference" and "date" (YYYY-MM-DD)'
    }

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "type": "object",
            "properties": {
                "reference": {"type": "string", "example": "2024-17"},
                "date": {"type": "string", "format": "date", "example": "2024-03-12"},
            },
            "description": f'Also accepted as text: "{DELIBERATION_EXAMPLE}"',
        }
        metadata |= kwargs.pop("metadata", {})
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Deliberation:
        try:
            if isinstance(value, str):
                return Deliberation.parse(value)
            if isinstance(value, dict) and set(value) == {"reference", "date"}:
                reference, day = value["reference"], value["date"]
                if not isinstance(reference, str):
                    raise self.make_error("invalid")
                return Deliberation(reference, fields.Date()._deserialize(day, None, None))
        except NotADeliberation as exc:
            raise ValidationError(str(exc)) from None
        except ValidationError:
            raise self.make_error("invalid") from None
        raise self.make_error("invalid")

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> dict | None:
        if value is None:
            return None
        return {"reference": value.reference, "date": value.adopted_on.isoformat()}


def _quoted_string(**kwargs: Any) -> Text:
    """A text field whose 'not a string' message tells a YAML author what to do."""
    return Text(error_messages={"invalid": "must be text; quote it"}, **kwargs)


# --- entries: catalogue files and API input -------------------------------------------


class AccountEntrySchema(Schema):
    """An account of ``accounts.yaml``."""

    number = AccountNumber(required=True)
    label = Text(required=True, validate=validate.Length(max=200))


class FamilyEntrySchema(Schema):
    """A family of ``families.yaml``."""

    code = _quoted_string(
        required=True,
        validate=[
            validate.Length(max=40),
            validate.Regexp(r"^[a-z][a-z0-9_]*$", error="lower-case letters, digits and _"),
        ],
    )
    name = Text(required=True, validate=validate.Length(max=200))
    purchase_mode = fields.Enum(PurchaseMode, by_value=True, required=True)
    margin_rate = RateField(required=True)
    sales_account = AccountNumber(load_default=None)
    purchase_account = AccountNumber(load_default=None)
    #: Required by the catalogue loader (a family of the files maps to a domain and cites
    #: the deliberation of its margin); optional here for the schema's other readers.
    service_domain = fields.Enum(ServiceDomain, by_value=True, load_default=None)
    margin_deliberation = DeliberationField(load_default=None)

    @validates_schema(skip_on_field_errors=True)
    def _mode_rules(self, data: dict, **_kwargs: Any) -> None:
        mode = data["purchase_mode"]
        if mode is PurchaseMode.INTERMEDIARY and data["margin_rate"] != 0:
            raise ValidationError(
                "an intermediary family takes no margin: its members pay the supplier directly",
                field_name="margin_rate",
            )
        if mode is PurchaseMode.WHOLESALER:
            errors = {
                field: ["a wholesaler family resells through the centre's books: required"]
                for field in ("sales_account", "purchase_account")
                if data[field] is None
            }
            if errors:
                raise ValidationError(errors)


class SupplierEntrySchema(Schema):
    """A supplier of ``suppliers.yaml``."""

    code = _quoted_string(
        required=True,
        validate=[
            validate.Length(max=40),
            validate.Regexp(r"^[A-Z][A-Z0-9_-]*$", error="capital letters, digits, - and _"),
        ],
    )
    name = Text(required=True, validate=validate.Length(max=200))
    siret = Siret(required=True, error_messages={"invalid": "must be text; quote it"})
    vat_number = VatNumber(load_default=None)
    address = Text(required=True, validate=validate.Length(max=300))
    postal_code = _quoted_string(
        required=True, validate=validate.Regexp(r"^\d{5}$", error="5 digits")
    )
    city = Text(required=True, validate=validate.Length(max=100))
    email = fields.Email(required=True, validate=validate.Length(max=254))

    @validates_schema(skip_on_field_errors=True)
    def _vat_number_is_the_suppliers(self, data: dict, **_kwargs: Any) -> None:
        number = data["vat_number"]
        if number is not None and number.startswith("FR") and number[4:] != data["siret"][:9]:
            raise ValidationError(
                f"belongs to SIREN {number[4:]}, not to this supplier's SIREN {data['siret'][:9]}",
                field_name="vat_number",
            )


class PriceVersionInputSchema(Schema):
    """A price version: an entry under a product's ``prices`` or the API's input."""

    valid_from = fields.Date(required=True, metadata={"description": "First day it applies"})
    valid_to = fields.Date(
        load_default=None,
        metadata={"description": "Last day it applies, included; null: open-ended"},
    )
    supplier_cost = Amount(required=True)
    sale_price = Amount(
        load_default=None,
        metadata={"description": "Leave out to derive it from the cost and family margin"},
    )
    setup_fee_cost = Amount(load_default=None, metadata={"description": "Recurring items only"})
    setup_fee_price = Amount(
        load_default=None,
        metadata={"description": "Leave out to derive it from its cost and the margin"},
    )
    note = Text(load_default="", validate=validate.Length(max=500))
    deliberation = DeliberationField(
        load_default=None,
        metadata={"description": "The syndicat's deliberation that set these prices"},
    )

    @validates_schema(skip_on_field_errors=True)
    def _period_is_ordered(self, data: dict, **_kwargs: Any) -> None:
        if data["valid_to"] is not None and data["valid_to"] < data["valid_from"]:
            raise ValidationError("must not be before valid_from", field_name="valid_to")


class PriceVersionCreateSchema(PriceVersionInputSchema):
    """New prices through the API: in force (with their deliberation) or a draft."""

    draft = fields.Boolean(
        load_default=False,
        metadata={"description": "true: keep the prices aside until their deliberation"},
    )


class PriceActivationSchema(Schema):
    deliberation = DeliberationField(
        load_default=None,
        metadata={"description": "Required unless the draft already carries it"},
    )


class LotEntrySchema(Schema):
    """A lot of a market in ``markets.yaml``: its number, title, holder and yearly ceiling."""

    number = _quoted_string(
        required=True,
        validate=[
            validate.Length(max=20),
            validate.Regexp(r"^[0-9A-Za-z-]+$", error="letters, digits and -, e.g. 2 or unique"),
        ],
    )
    title = Text(required=True, validate=validate.Length(max=200))
    supplier = _quoted_string(required=True)
    yearly_ceiling = Amount(
        load_default=None,
        metadata={"description": "Most ordered in a calendar year, before VAT; none: no ceiling"},
    )

    @validates("yearly_ceiling")
    def _positive(self, value: Decimal | None, **_kwargs: Any) -> None:
        if value is not None and value <= 0:
            raise ValidationError("more than 0, or left out for no ceiling")


class MarketEntrySchema(Schema):
    """A framework market of ``markets.yaml``, with its lots."""

    number = _quoted_string(
        required=True,
        validate=[
            validate.Length(max=40),
            validate.Regexp(
                r"^[A-Z0-9]+(-[A-Z0-9]+)*$", error="capital letters and digits, joined by -"
            ),
        ],
    )
    title = Text(required=True, validate=validate.Length(max=200))
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    lots = fields.List(
        fields.Nested(LotEntrySchema),
        required=True,
        validate=validate.Length(min=1, error="at least one lot"),
    )

    @validates_schema(skip_on_field_errors=True)
    def _rules(self, data: dict, **_kwargs: Any) -> None:
        if data["end_date"] < data["start_date"]:
            raise ValidationError("must not be before start_date", field_name="end_date")
        numbers = [lot["number"] for lot in data["lots"]]
        repeated = sorted({n for n in numbers if numbers.count(n) > 1})
        if repeated:
            raise ValidationError(f"lot {', '.join(repeated)} given twice", field_name="lots")


class ProductEntrySchema(Schema):
    """A product of ``products/*.yaml``, with its price versions."""

    sku = _quoted_string(
        required=True,
        validate=[
            validate.Length(max=40),
            validate.Regexp(
                r"^[A-Z0-9]+(-[A-Z0-9]+)*$", error="capital letters and digits, joined by -"
            ),
        ],
    )
    name = Text(required=True, validate=validate.Length(max=200))
    description = Text(load_default="")
    family = _quoted_string(required=True)
    supplier = _quoted_string(required=True)
    market_reference = Text(
        required=True,
        validate=validate.Length(max=100),
        metadata={"description": 'The market and lot of markets.yaml: "MAR-2023-01 lot 2"'},
    )
    unit = Text(required=True, validate=validate.Length(max=30))
    billing = fields.Enum(Billing, by_value=True, required=True)
    vat_rate = RateField(required=True)
    subsidy_eligible = StrictBoolean(load_default=False)
    active = StrictBoolean(load_default=True)
    sales_account = AccountNumber(load_default=None)
    purchase_account = AccountNumber(load_default=None)
    prices = fields.List(
        fields.Nested(PriceVersionInputSchema),
        required=True,
        validate=validate.Length(min=1, error="at least one price version"),
    )

    @validates("vat_rate")
    def _french_vat_rate(self, value: Decimal, **_kwargs: Any) -> None:
        if value not in FRENCH_VAT_RATES:
            allowed = ", ".join(str(r) for r in sorted(FRENCH_VAT_RATES, reverse=True))
            raise ValidationError(f"not a French VAT rate; one of {allowed}")


class MarketsExpiringQuerySchema(Schema):
    within = fields.Integer(
        load_default=90,
        validate=validate.Range(min=0, max=3660),
        metadata={"description": "Days ahead; default 90"},
    )
    on = fields.Date(
        load_default=today_in_paris, metadata={"description": "From this day; default today"}
    )


class ProductQuerySchema(PaginationQuerySchema):
    # Text: a NUL byte, which PostgreSQL cannot compare, is refused as a control character.
    family = Text(max_length=40, metadata={"description": "Family code"})
    q = Text(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Words found in the SKU, name or description"},
    )
    billing = fields.Enum(Billing, by_value=True)
    subsidy_eligible = fields.Boolean()
    on = fields.Date(
        load_default=today_in_paris,
        metadata={"description": "Date of the prices shown; default today"},
    )


class PriceOnQuerySchema(Schema):
    on = fields.Date(
        load_default=today_in_paris,
        metadata={"description": "Date of the price in force shown; default today"},
    )


# --- output ---------------------------------------------------------------------------


class AccountSchema(Schema):
    number = fields.String()
    label = fields.String()
    kind = fields.Enum(AccountKind, by_value=True)


class SupplierSchema(Schema):
    code = fields.String()
    name = fields.String()
    siret = fields.String()
    vat_number = fields.String(allow_none=True)
    address = fields.String()
    postal_code = fields.String()
    city = fields.String()
    email = fields.String()


class SupplierRefSchema(Schema):
    code = fields.String()
    name = fields.String()


class FamilySchema(Schema):
    code = fields.String()
    name = fields.String()
    purchase_mode = fields.Enum(
        PurchaseMode,
        by_value=True,
        metadata={"description": "intermediary: the member orders and pays the supplier"},
    )
    service_domain = fields.Enum(
        ServiceDomain,
        by_value=True,
        metadata={"description": "The domain a member joins to order the family's items"},
    )


class StaffFamilySchema(FamilySchema):
    margin_rate = RateField()
    margin_deliberation = DeliberationField(
        allow_none=True,
        metadata={"description": "The syndicat's deliberation setting the margin rate"},
    )
    sales_account = fields.Pluck(AccountSchema, "number", allow_none=True)
    purchase_account = fields.Pluck(AccountSchema, "number", allow_none=True)


class LotRefSchema(Schema):
    """The framework market lot an item is bought under."""

    reference = fields.String(metadata={"example": "MAR-2023-01 lot 2"})
    market_number = fields.String(attribute="market.number")
    lot_number = fields.String(attribute="number")
    market_start_date = fields.Date(attribute="market.start_date")
    market_end_date = fields.Date(
        attribute="market.end_date", metadata={"description": "Last day it may be ordered"}
    )


class LotSchema(Schema):
    number = fields.String()
    title = fields.String()
    reference = fields.String()
    supplier = fields.Nested(SupplierRefSchema)
    yearly_ceiling = Amount(
        allow_none=True, metadata={"description": "Per calendar year, before VAT; null: none"}
    )


class MarketSchema(Schema):
    number = fields.String(metadata={"example": "MAR-2023-01"})
    title = fields.String()
    start_date = fields.Date()
    end_date = fields.Date(metadata={"description": "Last day orders may be placed, included"})
    lots = fields.List(fields.Nested(LotSchema))


class PriceSchema(Schema):
    """A price version as a member reads it: what they pay, before VAT, and the
    deliberation that set it."""

    id = fields.Integer()
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)
    sale_price = Amount(attribute="effective_sale_price")
    setup_fee_price = Amount(attribute="effective_setup_fee_price", allow_none=True)
    deliberation = DeliberationField(
        allow_none=True,
        metadata={"description": "The syndicat's deliberation that set the prices"},
    )


class StaffPriceSchema(PriceSchema):
    status = fields.Enum(
        PriceVersionStatus,
        by_value=True,
        metadata={"description": "draft: recorded, prices nothing until activated"},
    )
    supplier_cost = Amount()
    setup_fee_cost = Amount(allow_none=True)
    margin_rate = RateField(metadata={"description": "Family margin when it was recorded"})
    margin_deliberation = DeliberationField(
        allow_none=True,
        dump_only=True,
        metadata={"description": "The syndicat's deliberation that set margin_rate"},
    )
    sale_price_is_explicit = fields.Boolean(
        metadata={"description": "false: derived from the cost and the margin rate"}
    )
    note = fields.String()
    created_at = fields.DateTime()


class ProductSchema(Schema):
    """Dumps a ``services.PricedProduct``: the product's fields and its price on a date."""

    sku = fields.String()
    name = fields.String()
    description = fields.String()
    family = fields.Nested(FamilySchema)
    supplier = fields.Nested(SupplierRefSchema)
    market_reference = fields.String()
    market = fields.Nested(
        LotRefSchema,
        attribute="lot",
        allow_none=True,
        metadata={"description": "The market lot and its dates; null if not attached"},
    )
    unit = fields.String()
    billing = fields.Enum(Billing, by_value=True)
    vat_rate = RateField()
    subsidy_eligible = fields.Boolean()
    active = fields.Boolean()
    price = fields.Nested(
        PriceSchema,
        allow_none=True,
        metadata={"description": "The version in force on the date asked; null if none"},
    )

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        source = obj if attr in {"price", "on"} else obj.product
        return super().get_attribute(source, attr, default)


class StaffProductSchema(ProductSchema):
    family = fields.Nested(StaffFamilySchema)
    price = fields.Nested(StaffPriceSchema, allow_none=True)
    sales_account = fields.Pluck(
        AccountSchema,
        "number",
        attribute="ledger_sales_account",
        allow_none=True,
        metadata={"description": "The product's revenue account, else its family's"},
    )
    purchase_account = fields.Pluck(
        AccountSchema,
        "number",
        attribute="ledger_purchase_account",
        allow_none=True,
        metadata={"description": "The product's expense account, else its family's"},
    )


class ProductDetailSchema(ProductSchema):
    on = fields.Date(metadata={"description": "Date of the price shown"})
    price_versions = fields.List(fields.Nested(PriceSchema), attribute="active_price_versions")


class StaffProductDetailSchema(StaffProductSchema):
    on = fields.Date(metadata={"description": "Date of the price shown"})
    price_versions = fields.List(
        fields.Nested(StaffPriceSchema), metadata={"description": "Drafts included"}
    )


class ProductPageSchema(Schema):
    items = fields.List(fields.Nested(ProductSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    on = fields.Date(metadata={"description": "Date of the prices shown"})


class StaffProductPageSchema(ProductPageSchema):
    items = fields.List(fields.Nested(StaffProductSchema))
