"""The pure rules of the members domain: identifiers, codes, fields and fee bands."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from marshmallow import ValidationError

from purchasing.members import services
from purchasing.members.models import (
    AdhesionFeeBand,
    InvalidValue,
    MemberKind,
    fee_schedule_problems,
    member_problems,
    normalize_departement_code,
    normalize_insee_code,
    normalize_postal_code,
    normalize_siret,
    normalize_vat_number,
)
from purchasing.members.schemas import (
    FeeBandInputSchema,
    FeeBandSchema,
    MemberCsvRowSchema,
    MemberSchema,
)
from purchasing.members.services import CSV_COLUMNS, REQUIRED_CSV_COLUMNS


class TestSiret:
    def test_is_compacted(self):
        assert normalize_siret(" 216 200 410 00019 ") == "21620041000019"
        assert normalize_siret("216.200.410.00019") == "21620041000019"

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("21620041000018", "invalid SIRET (checksum)"),
            ("2162004100001", "invalid SIRET (14 digits expected)"),
            ("2162004100001X", "invalid SIRET (digits only)"),
        ],
    )
    def test_refusals_say_why(self, value, message):
        with pytest.raises(InvalidValue, match=rf"^{re.escape(message)}$"):
            normalize_siret(value)


class TestVatNumber:
    def test_is_compacted_with_its_country_prefix(self):
        assert normalize_vat_number("fr 25 200 053 742") == "FR25200053742"
        assert normalize_vat_number("ATU12345675") == "ATU12345675"

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("FR26200053742", "invalid VAT number (checksum)"),
            ("FR2520005374", "invalid VAT number (length)"),
            ("XX25200053742", "invalid VAT number (unknown country prefix)"),
        ],
    )
    def test_refusals_say_why(self, value, message):
        with pytest.raises(InvalidValue, match=re.escape(message)):
            normalize_vat_number(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("59350", "59350"), (" 62041 ", "62041"), ("2a004", "2A004"), ("2B033", "2B033")],
)
def test_insee_codes_accepted(value, expected):
    assert normalize_insee_code(value) == expected


@pytest.mark.parametrize("value", ["5935", "593500", "2C004", "A9350", "59 35"])
def test_insee_codes_refused(value):
    with pytest.raises(InvalidValue, match="invalid INSEE code"):
        normalize_insee_code(value)


@pytest.mark.parametrize(
    ("value", "expected"), [("59", "59"), ("01", "01"), ("2a", "2A"), ("95", "95"), ("974", "974")]
)
def test_departement_codes_accepted(value, expected):
    assert normalize_departement_code(value) == expected


@pytest.mark.parametrize("value", ["00", "20", "96", "9", "977", "590", "2C"])
def test_departement_codes_refused(value):
    with pytest.raises(InvalidValue, match="unknown département code"):
        normalize_departement_code(value)


def test_a_postal_code_is_trimmed():
    assert normalize_postal_code(" 59000 ") == "59000"


@pytest.mark.parametrize(
    "value", ["5900", "590000", "59 000", "F-59000", "\u0665\u0669\u0660\u0660\u0660"]
)
def test_a_postal_code_is_five_digits(value):
    with pytest.raises(InvalidValue, match=r"^invalid postal code \(5 digits\)$"):
        normalize_postal_code(value)


class TestMemberProblems:
    COMMUNE = {
        "kind": MemberKind.COMMUNE,
        "insee_code": "62041",
        "departement_code": "62",
        "siret": "21620041000019",
    }

    def test_a_consistent_member_has_none(self):
        assert member_problems(self.COMMUNE) == {}

    def test_a_commune_needs_an_insee_code_other_kinds_do_not(self):
        assert member_problems({**self.COMMUNE, "insee_code": None}) == {
            "insee_code": ["required for a commune"]
        }
        assert member_problems({**self.COMMUNE, "kind": MemberKind.EPCI, "insee_code": None}) == {}

    def test_the_insee_code_lies_in_the_departement(self):
        problems = member_problems({**self.COMMUNE, "departement_code": "59"})
        assert problems == {"insee_code": ["not a commune of département 59"]}
        corsica = {**self.COMMUNE, "insee_code": "2A004", "departement_code": "2A"}
        assert member_problems(corsica) == {}

    def test_a_french_vat_number_carries_the_siren(self):
        assert member_problems({**self.COMMUNE, "vat_number": "FR72216200410"}) == {}
        problems = member_problems({**self.COMMUNE, "vat_number": "FR25200053742"})
        assert problems == {"vat_number": ["a French VAT number must carry the SIREN 216200410"]}

    def test_a_foreign_vat_number_is_not_compared_with_the_siren(self):
        assert member_problems({**self.COMMUNE, "vat_number": "ATU12345675"}) == {}


def _band(low: int, high: int | None) -> AdhesionFeeBand:
    return AdhesionFeeBand(population_min=low, population_max=high, amount=Decimal("400.00"))


class TestFeeSchedule:
    def test_contiguous_bands_with_an_open_top_are_fine(self):
        bands = [_band(10_000, 49_999), _band(0, 9_999), _band(50_000, None)]
        assert fee_schedule_problems(bands) == []

    def test_overlapping_bands_are_named(self):
        assert fee_schedule_problems([_band(0, 10_000), _band(10_000, None)]) == [
            "bands 0-10000 and 10000+ overlap"
        ]

    def test_an_open_ended_band_below_another_overlaps_it(self):
        assert fee_schedule_problems([_band(0, None), _band(5_000, 9_999)]) == [
            "bands 0+ and 5000-9999 overlap"
        ]

    def test_reversed_bounds_are_refused(self):
        assert fee_schedule_problems([_band(5_000, 4_999)]) == [
            "band 5000-4999: population_max below population_min"
        ]

    def test_a_band_covers_its_bounds(self):
        band = _band(3_500, 9_999)
        assert band.covers(3_500) and band.covers(9_999)
        assert not band.covers(3_499) and not band.covers(10_000)
        assert _band(50_000, None).covers(2_000_000)


class TestAmountField:
    def test_reads_strings_and_numbers_exactly_to_the_cent(self):
        loaded = FeeBandInputSchema().load({"population_min": 0, "amount": "1234.5"})
        assert loaded["amount"] == Decimal("1234.50")
        assert FeeBandInputSchema().load({"population_min": 0, "amount": 400})["amount"] == 400

    @pytest.mark.parametrize(
        ("amount", "message"),
        [
            ("12.345", "at most 2 decimal places"),
            ("-1.00", "must be from 0 to 999999999999.99"),
            ("1000000000000", "must be from 0 to 999999999999.99"),
            ("12,50", "Not a valid number."),
            ("NaN", "Special numeric values (nan or infinity) are not permitted."),
        ],
    )
    def test_refusals_name_the_field(self, amount, message):
        with pytest.raises(ValidationError) as refused:
            FeeBandInputSchema().load({"population_min": 0, "amount": amount})
        assert refused.value.messages == {"amount": [message]}

    def test_is_answered_as_a_string(self):
        assert FeeBandSchema().dump({"amount": Decimal("30000")})["amount"] == "30000.00"


class TestMemberSchema:
    VALID = {
        "name": " Commune d'Arras ",
        "kind": "commune",
        "siret": "216 200 410 00019",
        "insee_code": "62041",
        "population": 41555,
        "departement_code": "62",
        "address_line1": "Place des Héros",
        "postal_code": "62000",
        "city": "Arras",
        "billing_email": "factures@ville-arras.fr",
    }

    def test_normalises_what_it_reads(self):
        data = MemberSchema().load({**self.VALID, "address_line2": "  ", "vat_number": ""})
        assert data["name"] == "Commune d'Arras"
        assert data["siret"] == "21620041000019"
        assert data["address_line2"] is None
        assert data["vat_number"] is None
        assert data["chorus_engagement_required"] is False

    def test_names_every_faulty_field(self):
        faulty = {
            **self.VALID,
            "name": "   ",
            "siret": "21620041000018",
            "population": -1,
            "billing_email": "factures",
            "kind": "mairie",
        }
        with pytest.raises(ValidationError) as refused:
            MemberSchema().load(faulty)
        assert set(refused.value.messages) == {
            "name",
            "siret",
            "population",
            "billing_email",
            "kind",
        }
        assert refused.value.messages["siret"] == ["invalid SIRET (checksum)"]

    def test_a_population_must_be_a_whole_number(self):
        with pytest.raises(ValidationError) as refused:
            MemberSchema().load({**self.VALID, "population": 1200.5})
        assert "population" in refused.value.messages


class TestCsvRow:
    ROW = {
        "name": "Commune d'Audresselles",
        "kind": "commune",
        "siret": "21620054300017",
        "insee_code": "62054",
        "population": "611",
        "departement_code": "62",
        "address_line1": "Mairie",
        "address_line2": "",
        "postal_code": "62164",
        "city": "Audresselles",
        "billing_email": "mairie@audresselles.fr",
        "chorus_engagement_required": "",
    }

    def test_reads_spreadsheet_habits(self):
        row = {
            **self.ROW,
            "population": "12\u202f345",
            "chorus_engagement_required": "Oui",
            "adhesion_status": "active",
            "deliberation_date": "11/04/2023",
            "adhesion_start_date": "2023-06-01",
        }
        data = MemberCsvRowSchema().load(row)
        assert data["population"] == 12345
        assert data["chorus_engagement_required"] is True
        assert data["deliberation_date"] == date(2023, 4, 11)
        assert data["start_date"] == date(2023, 6, 1)
        assert "address_line2" not in data or data["address_line2"] is None

    def test_an_empty_yes_no_cell_means_no(self):
        assert MemberCsvRowSchema().load(self.ROW)["chorus_engagement_required"] is False

    @pytest.mark.parametrize(
        ("column", "value"),
        [
            ("population", "12.5"),
            ("population", "12,5"),
            ("deliberation_date", "31/02/2023"),
            ("chorus_engagement_required", "peut-être"),
            ("adhesion_status", "suspended"),
        ],
    )
    def test_refuses_what_it_cannot_read_exactly(self, column, value):
        row = {**self.ROW, column: value}
        if column == "deliberation_date":
            row["adhesion_status"] = "active"
        with pytest.raises(ValidationError) as refused:
            MemberCsvRowSchema().load(row)
        assert column in refused.value.messages

    def test_documented_columns_are_the_row_schema_fields(self):
        schema_columns = {
            field.data_key or name for name, field in MemberCsvRowSchema().load_fields.items()
        }
        assert set(CSV_COLUMNS) == schema_columns
        documented = [
            line.split()[0] for line in services.__doc__.splitlines() if line[:1].isalpha()
        ]
        assert [name for name in documented if name in schema_columns] == list(CSV_COLUMNS)
        assert {
            "name",
            "kind",
            "siret",
            "population",
            "departement_code",
            "address_line1",
            "postal_code",
            "city",
            "billing_email",
        } == REQUIRED_CSV_COLUMNS
