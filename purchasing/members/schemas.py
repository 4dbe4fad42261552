"""What the members API and the members CSV import accept, and what the API answers.

Each field rule is written once and shared by the API and the CSV import: identifiers and
codes go through the normalisers of :mod:`purchasing.members.models`, text lengths come from
the column sizes, so input is refused with a message naming the field before it reaches the
database.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load
from marshmallow.validate import Email, Length, OneOf, Range

from purchasing.catalog.models import ServiceDomain
from purchasing.fields import Amount, PaginationQuerySchema, Text, today_in_paris
from purchasing.members.models import (
    ADDRESS_LENGTH,
    CHORUS_SERVICE_CODE_LENGTH,
    CITY_LENGTH,
    CONVENTION_NUMBER_LENGTH,
    DELIBERATION_REFERENCE_LENGTH,
    EMAIL_LENGTH,
    NAME_LENGTH,
    REASON_LENGTH,
    AdhesionStatus,
    InvalidValue,
    MemberKind,
    normalize_departement_code,
    normalize_insee_code,
    normalize_postal_code,
    normalize_siret,
    normalize_vat_number,
)

# --- Fields -----------------------------------------------------------------------------


class Code(Text):
    """An identifier or code, checked and normalised by a rule of the members models."""

    def __init__(self, normalize: Callable[[str], str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.normalize = normalize

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is None:
            return None
        try:
            return self.normalize(text)
        except InvalidValue as exc:
            raise ValidationError(str(exc)) from None


class CsvDate(fields.Date):
    """A date as spreadsheets save it: ISO (2023-03-15) or French (15/03/2023)."""

    _FRENCH = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and (match := self._FRENCH.fullmatch(value.strip())):
            day, month, year = match.groups()
            value = f"{year}-{int(month):02d}-{int(day):02d}"
        return super()._deserialize(value, attr, data, **kwargs)


def _optional_text(max_length: int, **kwargs: Any) -> Text:
    return Text(max_length=max_length, load_default=None, allow_none=True, **kwargs)


# --- Adhesions --------------------------------------------------------------------------


class AdhesionSchema(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    status = fields.Enum(AdhesionStatus, by_value=True)
    convention_number = fields.String(allow_none=True)
    deliberation_reference = fields.String(allow_none=True)
    deliberation_date = fields.Date(allow_none=True)
    requested_on = fields.Date(allow_none=True)
    start_date = fields.Date(allow_none=True)
    end_date = fields.Date(allow_none=True)
    status_reason = fields.String(allow_none=True)


class ConventionInputSchema(Schema):
    """The convention and the member council's deliberation approving it."""

    convention_number = _optional_text(
        CONVENTION_NUMBER_LENGTH, metadata={"example": "CONV-2023-014"}
    )
    deliberation_reference = _optional_text(
        DELIBERATION_REFERENCE_LENGTH, metadata={"example": "DEL-2023-045"}
    )
    deliberation_date = fields.Date(load_default=None, allow_none=True)


class AdhesionRequestSchema(ConventionInputSchema):
    requested_on = fields.Date(required=True, metadata={"description": "Date of the request"})


class AdhesionActivateSchema(ConventionInputSchema):
    """Activating a requested adhesion needs all four values, given now or at the request.

    Reinstating a suspended adhesion needs none: its convention stays as signed.
    """

    start_date = fields.Date(
        load_default=None, allow_none=True, metadata={"description": "First day of orders"}
    )


class AdhesionSuspendSchema(Schema):
    reason = Text(required=True, max_length=REASON_LENGTH)


class AdhesionWithdrawSchema(Schema):
    end_date = fields.Date(required=True, metadata={"description": "Day the withdrawal applies"})
    reason = _optional_text(REASON_LENGTH)


# --- Service domains --------------------------------------------------------------------


class ServiceDomainSchema(Schema):
    """A member's membership of a service domain."""

    id = fields.Integer()
    member_id = fields.Integer()
    domain = fields.Enum(ServiceDomain, by_value=True)
    domain_name = fields.Function(lambda row: row.domain.label)
    start_date = fields.Date(metadata={"description": "First day it may order in the domain"})
    deliberation_reference = fields.String()
    deliberation_date = fields.Date()
    end_date = fields.Date(
        allow_none=True, metadata={"description": "Last day it may order in it, once it left"}
    )
    end_reason = fields.String(allow_none=True)
    active_today = fields.Method("_active_today")

    def _active_today(self, row: Any) -> bool:
        return row.covers(today_in_paris())


class ServiceDomainJoinSchema(Schema):
    """Joining a domain, by a deliberation of the member's council."""

    domain = fields.Enum(ServiceDomain, by_value=True, required=True)
    start_date = fields.Date(required=True, metadata={"description": "First day of orders"})
    deliberation_reference = Text(
        required=True,
        max_length=DELIBERATION_REFERENCE_LENGTH,
        metadata={"example": "DEL-2025-031"},
    )
    deliberation_date = fields.Date(required=True)


class ServiceDomainLeaveSchema(Schema):
    end_date = fields.Date(
        required=True, metadata={"description": "Last day the member may order in the domain"}
    )
    reason = _optional_text(REASON_LENGTH)


# --- Members ----------------------------------------------------------------------------


class MemberSchema(Schema):
    """A member as the API shows it, and as it is created (read-only fields aside)."""

    id = fields.Integer(dump_only=True)
    name = Text(
        required=True, max_length=NAME_LENGTH, metadata={"example": "Commune d'Audresselles"}
    )
    kind = fields.Enum(MemberKind, by_value=True, required=True)
    siret = Code(
        normalize_siret,
        required=True,
        metadata={"description": "14 digits, Luhn-checked", "example": "21620054100015"},
    )
    siren = fields.String(dump_only=True, metadata={"description": "The SIRET's first 9 digits"})
    insee_code = Code(
        normalize_insee_code,
        load_default=None,
        allow_none=True,
        metadata={"description": "Required for a commune", "example": "62054"},
    )
    population = fields.Integer(required=True, strict=True, validate=Range(min=0))
    departement_code = Code(normalize_departement_code, required=True, metadata={"example": "62"})
    address_line1 = Text(required=True, max_length=ADDRESS_LENGTH)
    address_line2 = _optional_text(ADDRESS_LENGTH)
    postal_code = Code(normalize_postal_code, required=True, metadata={"example": "62164"})
    city = Text(required=True, max_length=CITY_LENGTH)
    billing_email = Text(required=True, max_length=EMAIL_LENGTH, validate=Email())
    chorus_service_code = _optional_text(CHORUS_SERVICE_CODE_LENGTH)
    chorus_engagement_required = fields.Boolean(load_default=False)
    vat_number = Code(
        normalize_vat_number,
        load_default=None,
        allow_none=True,
        metadata={"description": "Intra-EU VAT number; a French one carries the SIREN"},
    )
    created_at = fields.DateTime(dump_only=True)
    adhesion = fields.Nested(
        AdhesionSchema,
        attribute="current_adhesion",
        dump_only=True,
        allow_none=True,
        metadata={"description": "The live adhesion, else the last withdrawn one"},
    )
    service_domains = fields.List(
        fields.Nested(ServiceDomainSchema),
        dump_only=True,
        metadata={"description": "The service domains joined, past ones included"},
    )


class MemberUpdateSchema(MemberSchema):
    """Changes to a member: any field of the creation, none required."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("partial", True)
        super().__init__(**kwargs)


class MemberQuerySchema(PaginationQuerySchema):
    kind = fields.Enum(MemberKind, by_value=True)
    departement_code = Code(normalize_departement_code)
    adhesion_status = fields.Enum(
        AdhesionStatus,
        by_value=True,
        metadata={"description": "Status of the live adhesion, or withdrawn if none is live"},
    )
    q = _optional_text(
        100,
        metadata={"description": "Part of the name or city, start of the SIRET, or INSEE code"},
    )


class MemberPageSchema(Schema):
    items = fields.List(fields.Nested(MemberSchema))
    total = fields.Integer(metadata={"description": "Members matching, over all pages"})
    page = fields.Integer()
    per_page = fields.Integer()


def _any_case(*words: str) -> frozenset[str]:
    return frozenset(form for word in words for form in (word, word.upper(), word.title()))


#: Cell values read as yes/no in a CSV file, French ones included.
CSV_TRUE = _any_case("1", "true", "yes", "y", "oui", "o", "vrai")
CSV_FALSE = _any_case("0", "false", "no", "n", "non", "faux")
#: Spaces a spreadsheet may put between thousands (12 345); never a decimal mark.
_THOUSANDS_SEPARATORS = re.compile(r"[ \u00a0\u202f]")
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


class MemberCsvRowSchema(MemberSchema, ConventionInputSchema):
    """One row of a members CSV file: a member and, optionally, its adhesion in force.

    Cells are text: an empty cell is a missing value, yes/no columns take ``oui``/``non``
    too, dates may be written 15/03/2023 and populations 12 345.
    """

    chorus_engagement_required = fields.Boolean(
        load_default=False,
        truthy=CSV_TRUE,
        falsy=CSV_FALSE,
    )
    adhesion_status = fields.String(validate=OneOf([AdhesionStatus.ACTIVE.value]))
    deliberation_date = CsvDate(load_default=None)
    start_date = CsvDate(load_default=None, data_key="adhesion_start_date")

    @pre_load
    def _read_cells(self, row: dict[str, str | None], **_kwargs: Any) -> dict[str, Any]:
        cells: dict[str, Any] = {k: v.strip() for k, v in row.items() if v and v.strip()}
        population = _THOUSANDS_SEPARATORS.sub("", cells.get("population", ""))
        if _WHOLE_NUMBER.fullmatch(population):
            cells["population"] = int(population)
        return cells


# --- Adhesion fees ----------------------------------------------------------------------


class FeeBandInputSchema(Schema):
    population_min = fields.Integer(required=True, strict=True, validate=Range(min=0))
    population_max = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=Range(min=0),
        metadata={"description": "Inclusive; null for the open-ended top band"},
    )
    amount = Amount(required=True, metadata={"example": "400.00"})


class FeeScheduleInputSchema(Schema):
    """A fee schedule set by a deliberation: its bands, in force from a year onwards."""

    valid_from_year = fields.Integer(required=True, strict=True, validate=Range(min=2000, max=2100))
    deliberation_reference = Text(
        required=True, max_length=DELIBERATION_REFERENCE_LENGTH, metadata={"example": "2024-17"}
    )
    deliberation_date = fields.Date(
        required=True, metadata={"description": "The day the syndicat adopted it"}
    )
    bands = fields.List(fields.Nested(FeeBandInputSchema), required=True, validate=Length(min=1))


class FeeBandSchema(Schema):
    id = fields.Integer()
    valid_from_year = fields.Integer()
    population_min = fields.Integer()
    population_max = fields.Integer(allow_none=True)
    amount = Amount()
    deliberation_reference = fields.String()
    deliberation_date = fields.Date(
        allow_none=True, metadata={"description": "null only for schedules recorded before 2026"}
    )


class FeeBandQuerySchema(Schema):
    year = fields.Integer(
        validate=Range(min=2000, max=2100),
        metadata={"description": "Only the schedule in force that year"},
    )
