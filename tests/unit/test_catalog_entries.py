"""Catalogue entry schemas and the strict YAML reader: what comes in is exact or refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import yaml
from marshmallow import ValidationError

from purchasing.catalog.loader import CatalogYamlLoader
from purchasing.catalog.models import Account, AccountKind
from purchasing.catalog.schemas import (
    AccountEntrySchema,
    FamilyEntrySchema,
    PriceVersionInputSchema,
    ProductEntrySchema,
    SupplierEntrySchema,
)

SUPPLIER = {
    "code": "NORDLINK",
    "name": "Nordlink Télécom SAS",
    "siret": "812 453 678 00243",
    "vat_number": "FR45812453678",
    "address": "12 rue de la Fibre",
    "postal_code": "59000",
    "city": "Lille",
    "email": "collectivites@nordlink.example",
}


def _errors(schema, data) -> dict:
    with pytest.raises(ValidationError) as caught:
        schema.load(data)
    return caught.value.messages


def test_money_is_read_exactly_from_strings_and_integers():
    loaded = PriceVersionInputSchema().load(
        {"valid_from": "2025-01-01", "supplier_cost": "1234567890.12", "sale_price": 1300}
    )
    assert loaded["supplier_cost"] == Decimal("1234567890.12")
    assert loaded["sale_price"] == Decimal("1300")
    assert loaded["valid_to"] is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (12.5, "send it as a string"),
        ("12.345", "at most 2 decimal places"),
        ("-1.00", "must be from 0"),
        ("NaN", "Special numeric values"),
        ("douze", "Not a valid number."),
        (True, "Not a valid number."),
    ],
)
def test_bad_amounts_are_refused_not_rounded(value, message):
    errors = _errors(
        PriceVersionInputSchema(), {"valid_from": "2025-01-01", "supplier_cost": value}
    )
    assert message in errors["supplier_cost"][0]


def test_a_price_version_cannot_end_before_it_starts():
    errors = _errors(
        PriceVersionInputSchema(),
        {"valid_from": "2025-06-01", "valid_to": "2025-05-31", "supplier_cost": "1.00"},
    )
    assert errors == {"valid_to": ["must not be before valid_from"]}


def test_a_supplier_siret_is_compacted_and_its_vat_number_checked():
    loaded = SupplierEntrySchema().load(SUPPLIER)
    assert loaded["siret"] == "81245367800243"
    assert loaded["vat_number"] == "FR45812453678"


def test_a_siret_with_a_wrong_key_is_refused():
    errors = _errors(SupplierEntrySchema(), SUPPLIER | {"siret": "81245367800244"})
    assert errors["siret"][0].startswith("not a valid SIRET")


def test_an_unquoted_siret_is_refused_with_a_hint():
    errors = _errors(SupplierEntrySchema(), SUPPLIER | {"siret": 81245367800243})
    assert errors["siret"] == ["must be text; quote it"]


def test_a_vat_number_of_another_company_is_refused():
    # A valid French VAT number, but for SIREN 793186420, not this supplier's 812453678.
    errors = _errors(SupplierEntrySchema(), SUPPLIER | {"vat_number": "FR86793186420"})
    assert "not to this supplier's SIREN 812453678" in errors["vat_number"][0]


def test_an_invalid_vat_number_is_refused():
    errors = _errors(SupplierEntrySchema(), SUPPLIER | {"vat_number": "FR00812453678"})
    assert errors["vat_number"][0].startswith("not a valid VAT number")


def test_unknown_keys_are_refused():
    errors = _errors(SupplierEntrySchema(), SUPPLIER | {"phone": "03 20 00 00 00"})
    assert errors == {"phone": ["Unknown field."]}


def test_an_intermediary_family_takes_no_margin():
    family = {"code": "telecom", "name": "Télécom", "purchase_mode": "intermediary"}
    assert FamilyEntrySchema().load(family | {"margin_rate": 0})["sales_account"] is None
    errors = _errors(FamilyEntrySchema(), family | {"margin_rate": Decimal("0.02")})
    assert "takes no margin" in errors["margin_rate"][0]


def test_a_wholesaler_family_needs_its_accounts():
    family = {"code": "video", "name": "Vidéo", "purchase_mode": "wholesaler", "margin_rate": 0}
    errors = _errors(FamilyEntrySchema(), family | {"sales_account": "7061"})
    assert list(errors) == ["purchase_account"]


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("2183", "outside the annex budget's chart"),
        ("7O62", "2 to 8 digits"),
        ("0706", "2 to 8 digits"),
        (True, "a string of digits"),
    ],
)
def test_bad_account_numbers_are_refused(number, message):
    errors = _errors(AccountEntrySchema(), {"number": number, "label": "Compte"})
    assert message in errors["number"][0]


def test_an_account_number_may_be_written_without_quotes():
    assert AccountEntrySchema().load({"number": 7062, "label": "Ventes"})["number"] == "7062"


def test_an_accounts_kind_follows_its_class():
    assert Account(number="44571", label="TVA collectée").kind is AccountKind.THIRD_PARTY
    assert Account(number="7062", label="Prestations").kind is AccountKind.REVENUE
    assert AccountKind.of_number("129") is AccountKind.RESULT
    with pytest.raises(ValueError, match="outside"):
        Account(number="3700", label="Stocks")


PRODUCT = {
    "sku": "MC-DOMAINE",
    "name": "Nom de domaine",
    "family": "mairie_connectee",
    "supplier": "HPN",
    "market_reference": "MAR-2024-02 lot 1",
    "unit": "domaine",
    "billing": "yearly",
    "vat_rate": Decimal("0.2000"),
    "prices": [{"valid_from": "2025-01-01", "supplier_cost": Decimal("18.00")}],
}


def test_a_product_entry_is_loaded_with_defaults():
    loaded = ProductEntrySchema().load(PRODUCT)
    assert loaded["subsidy_eligible"] is False
    assert loaded["active"] is True
    assert loaded["prices"][0]["valid_from"] == date(2025, 1, 1)


@pytest.mark.parametrize("rate", [Decimal("0.196"), Decimal("0.18"), 20])
def test_a_vat_rate_must_be_a_french_one(rate):
    errors = _errors(ProductEntrySchema(), PRODUCT | {"vat_rate": rate})
    assert errors["vat_rate"]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"sku": "mc domaine"}, "sku"),
        ({"billing": "weekly"}, "billing"),
        ({"subsidy_eligible": "yes"}, "subsidy_eligible"),
        ({"name": "   "}, "name"),
        ({"prices": []}, "prices"),
    ],
)
def test_bad_product_fields_are_named(override, field):
    assert list(_errors(ProductEntrySchema(), PRODUCT | override)) == [field]


def _read(text: str):
    return yaml.load(text, Loader=CatalogYamlLoader)


def test_yaml_decimals_are_read_as_written_never_through_a_float():
    document = _read("cost: 0.10\nbig: 1234567890.12\nrate: 0.0162\ncount: 3\n")
    assert document == {
        "cost": Decimal("0.10"),
        "big": Decimal("1234567890.12"),
        "rate": Decimal("0.0162"),
        "count": 3,
    }
    assert isinstance(document["cost"], Decimal)


def test_yaml_dates_stay_text_for_the_schemas():
    assert _read("valid_from: 2025-01-01\n") == {"valid_from": "2025-01-01"}


def test_a_yaml_key_given_twice_is_an_error_with_its_line():
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        _read("sku: A\nsale_price: 10.00\nsale_price: 12.00\n")
    assert "'sale_price' appears twice" in caught.value.problem
    assert caught.value.problem_mark.line == 2
