"""Members of the purchasing centre, their adhesions and the adhesion fee schedule.

A member is a public body (commune, EPCI, département, syndicat, collège...) identified by
the SIRET of the establishment the centre bills. It may order once its adhesion is active:
the adhesion convention is signed and approved by a deliberation of the member's council.

The rules for identifiers and codes (SIRET, VAT number, INSEE code...) are pure functions
at the top of this module: the models guard their columns with them and the input schemas
reuse them, so each rule is written once.
"""

from __future__ import annotations

import enum
import itertools
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from stdnum.eu import vat
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidLength
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siret

from purchasing.catalog.deliberations import Deliberation
from purchasing.catalog.models import ServiceDomain
from purchasing.db import Base, enum_column, utcnow
from purchasing.errors import Conflict, InvalidTransition, ValidationFailed

__all__ = [
    "ADHESION_TRANSITIONS",
    "Adhesion",
    "AdhesionFeeBand",
    "AdhesionStatus",
    "InvalidValue",
    "Member",
    "MemberKind",
    "MemberServiceDomain",
    "fee_schedule_problems",
    "member_problems",
    "normalize_departement_code",
    "normalize_insee_code",
    "normalize_postal_code",
    "normalize_siret",
    "normalize_vat_number",
]

# Column sizes, shared with the input schemas so that input is refused before the database.
NAME_LENGTH = 200
ADDRESS_LENGTH = 200
CITY_LENGTH = 100
EMAIL_LENGTH = 254
#: Chorus Pro accepts service codes of up to 100 characters.
CHORUS_SERVICE_CODE_LENGTH = 100
#: The longest intra-EU VAT number, country prefix included, is 14 characters.
VAT_NUMBER_LENGTH = 14
CONVENTION_NUMBER_LENGTH = 50
DELIBERATION_REFERENCE_LENGTH = 100
REASON_LENGTH = 500


# --- Identifiers and codes --------------------------------------------------------------


class InvalidValue(ValueError):
    """A value breaks the format rule of its kind; the message says how."""


_INSEE_CODE = re.compile(r"(?:[0-9]{2}|2[AB])[0-9]{3}")
#: Metropolitan départements 01-95 (Corsica as 2A/2B, never 20) and overseas 971-976.
_DEPARTEMENT_CODE = re.compile(r"0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5]|97[1-6]")
_POSTAL_CODE = re.compile(r"[0-9]{5}")


def normalize_siret(value: str) -> str:
    """The SIRET as 14 digits (spaces and dots removed), checked by its Luhn key."""
    try:
        return siret.validate(value)
    except InvalidChecksum:
        raise InvalidValue("invalid SIRET (checksum)") from None
    except InvalidLength:
        raise InvalidValue("invalid SIRET (14 digits expected)") from None
    except StdnumError:
        raise InvalidValue("invalid SIRET (digits only)") from None


def normalize_vat_number(value: str) -> str:
    """An intra-EU VAT number, compacted with its country prefix (``FR40303265045``)."""
    try:
        return vat.validate(value)
    except InvalidChecksum:
        raise InvalidValue("invalid VAT number (checksum)") from None
    except InvalidLength:
        raise InvalidValue("invalid VAT number (length)") from None
    except InvalidComponent:
        raise InvalidValue("invalid VAT number (unknown country prefix)") from None
    except StdnumError:
        raise InvalidValue("invalid VAT number (format)") from None


def normalize_insee_code(value: str) -> str:
    """A commune's INSEE code: 2 digits (or 2A/2B for Corsica), then 3 digits."""
    code = value.strip().upper()
    if not _INSEE_CODE.fullmatch(code):
        raise InvalidValue("invalid INSEE code (2 digits or 2A/2B, then 3 digits)")
    return code


def normalize_departement_code(value: str) -> str:
    """A département code: ``01``-``95``, ``2A``, ``2B`` or ``971``-``976``."""
    code = value.strip().upper()
    if not _DEPARTEMENT_CODE.fullmatch(code):
        raise InvalidValue("unknown département code (like 59, 2A or 974)")
    return code


def normalize_postal_code(value: str) -> str:
    code = value.strip()
    if not _POSTAL_CODE.fullmatch(code):
        raise InvalidValue("invalid postal code (5 digits)")
    return code


#: The rule of each coded column of ``Member``.
_CODE_RULES = {
    "siret": normalize_siret,
    "vat_number": normalize_vat_number,
    "insee_code": normalize_insee_code,
    "departement_code": normalize_departement_code,
    "postal_code": normalize_postal_code,
}


# --- Members ----------------------------------------------------------------------------


class MemberKind(enum.StrEnum):
    COMMUNE = "commune"
    #: Établissement public de coopération intercommunale (communauté de communes...).
    EPCI = "epci"
    DEPARTEMENT = "departement"
    REGION = "region"
    SYNDICAT = "syndicat"
    #: Collège, lycée, SDIS, hospital...
    ETABLISSEMENT_PUBLIC = "etablissement_public"
    OTHER = "other"


def member_problems(values: Mapping[str, Any]) -> dict[str, list[str]]:
    """What breaks the rules tying a member's fields together, by field.

    Takes the member's values as a mapping (a row being imported, or a member with its
    pending changes); a rule whose fields are missing is not checked.
    """
    problems: dict[str, list[str]] = {}
    kind, insee_code = values.get("kind"), values.get("insee_code")
    departement_code = values.get("departement_code")
    if kind == MemberKind.COMMUNE and not insee_code:
        problems["insee_code"] = ["required for a commune"]
    if insee_code and departement_code and not insee_code.startswith(departement_code):
        problems["insee_code"] = [f"not a commune of département {departement_code}"]
    vat_number, siret_number = values.get("vat_number"), values.get("siret")
    if vat_number and siret_number and vat_number.startswith("FR"):
        siren = siret_number[:9]
        # FR + 2-character key + SIREN: a French number belongs to one legal entity.
        if vat_number[4:] != siren:
            problems["vat_number"] = [f"a French VAT number must carry the SIREN {siren}"]
    return problems


class Member(Base):
    """A public body that joined (or asked to join) the purchasing centre."""

    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint("population >= 0", name="population_not_negative"),
        CheckConstraint(
            "kind != 'commune' OR insee_code IS NOT NULL", name="commune_has_insee_code"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    kind: Mapped[MemberKind] = mapped_column(
        enum_column(MemberKind, length=32, name="member_kind", check=True)
    )
    #: The establishment the centre bills (usually the seat): 14 digits, Luhn-checked.
    siret: Mapped[str] = mapped_column(String(14), unique=True)
    #: Code officiel géographique of a commune (59350 for Lille); required for communes.
    insee_code: Mapped[str | None] = mapped_column(String(5))
    #: Municipal population (INSEE) or population served; it sets the adhesion fee band.
    population: Mapped[int]
    departement_code: Mapped[str] = mapped_column(String(3), index=True)
    address_line1: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    address_line2: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    postal_code: Mapped[str] = mapped_column(String(5))
    city: Mapped[str] = mapped_column(String(CITY_LENGTH))
    #: Billing contact: where invoice notices and reminders are sent.
    billing_email: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    #: Chorus Pro "code service" that must appear on invoices, when the member uses one.
    chorus_service_code: Mapped[str | None] = mapped_column(String(CHORUS_SERVICE_CODE_LENGTH))
    #: Whether Chorus Pro refuses this member's invoices without a "numéro d'engagement"
    #: (its purchase order number).
    chorus_engagement_required: Mapped[bool] = mapped_column(default=False)
    #: Intra-EU VAT number, compacted (FR40303265045); most public bodies have none.
    vat_number: Mapped[str | None] = mapped_column(String(VAT_NUMBER_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    adhesions: Mapped[list[Adhesion]] = relationship(
        back_populates="member", order_by="Adhesion.id"
    )
    service_domains: Mapped[list[MemberServiceDomain]] = relationship(
        back_populates="member", order_by="MemberServiceDomain.id"
    )

    @property
    def siren(self) -> str:
        """The legal entity: the first 9 digits of the SIRET."""
        return self.siret[:9]

    @property
    def current_adhesion(self) -> Adhesion | None:
        """The live adhesion, else the last withdrawn one; None if the member never applied.

        A new adhesion can only be requested once the previous one is withdrawn, so the
        most recent adhesion is the live one whenever there is one.
        """
        return self.adhesions[-1] if self.adhesions else None

    def service_domain(self, domain: ServiceDomain) -> MemberServiceDomain | None:
        """The member's live membership of ``domain``, else its last ended one, else None."""
        rows = [row for row in self.service_domains if row.domain is domain]
        live = [row for row in rows if row.is_live]
        return live[0] if live else (rows[-1] if rows else None)

    def has_joined(self, domain: ServiceDomain, on: date) -> bool:
        """Whether the member may order in ``domain`` on day ``on``."""
        return any(row.domain is domain and row.covers(on) for row in self.service_domains)

    @validates("name", "address_line1", "city", "billing_email")
    def _validate_required_text(self, key: str, value: str) -> str:
        if not value or not value.strip():
            raise ValidationFailed("may not be blank", field=key)
        return value.strip()

    @validates("population")
    def _validate_population(self, key: str, value: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationFailed("a whole number, 0 or more", field=key)
        return value

    @validates("siret", "vat_number", "insee_code", "departement_code", "postal_code")
    def _validate_code(self, key: str, value: str | None) -> str | None:
        if value is None and key in {"vat_number", "insee_code"}:
            return None
        try:
            return _CODE_RULES[key](value or "")
        except InvalidValue as exc:
            raise ValidationFailed(str(exc), field=key) from None


# --- Adhesions --------------------------------------------------------------------------


class AdhesionStatus(enum.StrEnum):
    REQUESTED = "requested"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"


#: Where each status may go next. Withdrawn is final: the member may request a new adhesion.
ADHESION_TRANSITIONS: Mapping[AdhesionStatus, frozenset[AdhesionStatus]] = {
    AdhesionStatus.REQUESTED: frozenset({AdhesionStatus.ACTIVE, AdhesionStatus.WITHDRAWN}),
    AdhesionStatus.ACTIVE: frozenset({AdhesionStatus.SUSPENDED, AdhesionStatus.WITHDRAWN}),
    AdhesionStatus.SUSPENDED: frozenset({AdhesionStatus.ACTIVE, AdhesionStatus.WITHDRAWN}),
    AdhesionStatus.WITHDRAWN: frozenset(),
}

_LIVE = f"status != '{AdhesionStatus.WITHDRAWN.value}'"


class Adhesion(Base):
    """A member's adhesion to the centre, under a convention its council approved.

    Requested, then active once the convention is signed; it may be suspended and
    reinstated, and ends withdrawn. A member has at most one adhesion that is not
    withdrawn, which the database enforces with a partial unique index.
    """

    __tablename__ = "adhesions"
    __table_args__ = (
        Index(
            "uq_adhesions_member_id_live",
            "member_id",
            unique=True,
            sqlite_where=text(_LIVE),
            postgresql_where=text(_LIVE),
        ),
        CheckConstraint(
            "status NOT IN ('active', 'suspended') OR (convention_number IS NOT NULL"
            " AND deliberation_reference IS NOT NULL AND deliberation_date IS NOT NULL"
            " AND start_date IS NOT NULL)",
            name="in_force_has_convention",
        ),
        CheckConstraint(
            "(status = 'withdrawn') = (end_date IS NOT NULL)", name="withdrawn_has_end_date"
        ),
        CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
            name="ends_after_start",
        ),
        CheckConstraint(
            "deliberation_date IS NULL OR start_date IS NULL OR deliberation_date <= start_date",
            name="starts_after_deliberation",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    status: Mapped[AdhesionStatus] = mapped_column(
        enum_column(AdhesionStatus, length=32, name="adhesion_status", check=True),
        default=AdhesionStatus.REQUESTED,
    )
    #: Number of the signed adhesion convention (CONV-2023-014).
    convention_number: Mapped[str | None] = mapped_column(String(CONVENTION_NUMBER_LENGTH))
    #: Reference of the member council's deliberation approving the adhesion.
    deliberation_reference: Mapped[str | None] = mapped_column(
        String(DELIBERATION_REFERENCE_LENGTH)
    )
    deliberation_date: Mapped[date | None]
    #: Date of the member's request; None for adhesions imported from an earlier register.
    requested_on: Mapped[date | None]
    #: First day the member may order.
    start_date: Mapped[date | None]
    #: Day the withdrawal took effect; set exactly when the adhesion is withdrawn.
    end_date: Mapped[date | None]
    #: Why the adhesion was last suspended or withdrawn; cleared on reinstatement.
    status_reason: Mapped[str | None] = mapped_column(String(REASON_LENGTH))

    member: Mapped[Member] = relationship(back_populates="adhesions")

    @classmethod
    def request(
        cls,
        member: Member,
        *,
        requested_on: date | None,
        convention_number: str | None = None,
        deliberation_reference: str | None = None,
        deliberation_date: date | None = None,
    ) -> Adhesion:
        """A new requested adhesion; the convention data may already be known."""
        return cls(
            member=member,
            status=AdhesionStatus.REQUESTED,
            requested_on=requested_on,
            convention_number=convention_number,
            deliberation_reference=deliberation_reference,
            deliberation_date=deliberation_date,
        )

    @property
    def is_live(self) -> bool:
        return self.status is not AdhesionStatus.WITHDRAWN

    def allows_ordering_on(self, day: date) -> bool:
        return self.status is AdhesionStatus.ACTIVE and self.start_date <= day

    def activate(
        self,
        *,
        convention_number: str | None = None,
        deliberation_reference: str | None = None,
        deliberation_date: date | None = None,
        start_date: date | None = None,
    ) -> None:
        """Bring a requested adhesion into force, or reinstate a suspended one.

        Values left out keep what is recorded. A first activation needs the convention
        number, the deliberation (reference and date) and a start date; a reinstatement
        keeps the convention in force as it was signed.
        """
        self._check_transition(AdhesionStatus.ACTIVE)
        given = {
            "convention_number": convention_number,
            "deliberation_reference": deliberation_reference,
            "deliberation_date": deliberation_date,
            "start_date": start_date,
        }
        if self.status is AdhesionStatus.SUSPENDED:
            changed = [f for f, v in given.items() if v is not None and v != getattr(self, f)]
            if changed:
                raise ValidationFailed(
                    "a reinstated adhesion keeps its convention",
                    errors={f: ["cannot change when reinstating an adhesion"] for f in changed},
                )
            self.status = AdhesionStatus.ACTIVE
            self.status_reason = None
            return

        merged = {f: getattr(self, f) if v is None else v for f, v in given.items()}
        problems = {f: ["required to activate an adhesion"] for f, v in merged.items() if not v}
        deliberated, starts = merged["deliberation_date"], merged["start_date"]
        if deliberated and starts and starts < deliberated:
            problems["start_date"] = [
                f"before the deliberation approving the adhesion ({deliberated.isoformat()})"
            ]
        if problems:
            raise ValidationFailed("the adhesion cannot be activated", errors=problems)
        for field, value in merged.items():
            setattr(self, field, value)
        self.status = AdhesionStatus.ACTIVE

    def suspend(self, *, reason: str) -> None:
        """Stop orders for a while (unpaid invoices, convention under review...)."""
        self._check_transition(AdhesionStatus.SUSPENDED)
        reason = (reason or "").strip()
        if not reason:
            raise ValidationFailed("a suspension needs a reason", field="reason")
        self.status = AdhesionStatus.SUSPENDED
        self.status_reason = reason

    def withdraw(self, *, end_date: date, reason: str | None = None) -> None:
        """End the adhesion on ``end_date``; a requested one is abandoned."""
        self._check_transition(AdhesionStatus.WITHDRAWN)
        began = self.start_date or self.requested_on
        if began is not None and end_date < began:
            raise ValidationFailed(
                f"before the start of the adhesion ({began.isoformat()})", field="end_date"
            )
        self.status = AdhesionStatus.WITHDRAWN
        self.end_date = end_date
        self.status_reason = (reason or "").strip() or None

    def _check_transition(self, target: AdhesionStatus) -> None:
        if target not in ADHESION_TRANSITIONS[self.status]:
            raise InvalidTransition("adhesion", self.status.value, target.value)


# --- Service domains --------------------------------------------------------------------

_LIVE_DOMAIN = "end_date IS NULL"


class MemberServiceDomain(Base):
    """A member's membership of one service domain, joined à la carte within its adhesion.

    Each domain is joined by a deliberation of the member's council, from a start date,
    and left on an end date (the last day the member may order in it). A member has at
    most one live membership per domain, which a partial unique index enforces; after
    leaving, it may join again (a new row, the history stays).
    """

    __tablename__ = "member_service_domains"
    __table_args__ = (
        Index(
            "uq_member_service_domains_member_id_domain_live",
            "member_id",
            "domain",
            unique=True,
            sqlite_where=text(_LIVE_DOMAIN),
            postgresql_where=text(_LIVE_DOMAIN),
        ),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="ends_after_start"),
        CheckConstraint("deliberation_date <= start_date", name="starts_after_deliberation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    domain: Mapped[ServiceDomain] = mapped_column(
        enum_column(ServiceDomain, length=32, name="service_domain", check=True)
    )
    #: First day the member may order in the domain.
    start_date: Mapped[date]
    #: The member council's deliberation joining the domain.
    deliberation_reference: Mapped[str] = mapped_column(String(DELIBERATION_REFERENCE_LENGTH))
    deliberation_date: Mapped[date]
    #: Last day the member may order in the domain, once it left; None while it is in.
    end_date: Mapped[date | None]
    end_reason: Mapped[str | None] = mapped_column(String(REASON_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    member: Mapped[Member] = relationship(back_populates="service_domains")

    @classmethod
    def join(
        cls, member: Member, domain: ServiceDomain, *, start_date: date, deliberation: Deliberation
    ) -> MemberServiceDomain:
        """A new membership of ``domain``; refused while the member is in it already."""
        current = member.service_domain(domain)
        if current is not None and current.is_live:
            since = current.start_date.isoformat()
            raise Conflict(
                f"{member.name} is already in {domain.value} since {since}", field="domain"
            )
        if start_date < deliberation.adopted_on:
            adopted = deliberation.adopted_on.isoformat()
            raise ValidationFailed(
                f"before the deliberation joining the domain ({adopted})", field="start_date"
            )
        if current is not None and start_date <= current.end_date:
            raise ValidationFailed(
                f"the member was in {domain.value} until {current.end_date.isoformat()}: "
                "join again from the day after",
                field="start_date",
            )
        return cls(
            member=member,
            domain=domain,
            start_date=start_date,
            deliberation_reference=deliberation.reference,
            deliberation_date=deliberation.adopted_on,
        )

    @property
    def is_live(self) -> bool:
        return self.end_date is None

    @property
    def deliberation(self) -> Deliberation:
        return Deliberation(self.deliberation_reference, self.deliberation_date)

    def covers(self, day: date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)

    def leave(self, *, end_date: date, reason: str | None = None) -> None:
        """End the membership: ``end_date`` is the last day the member may order in it."""
        if not self.is_live:
            raise Conflict(
                f"already left {self.domain.value} on {self.end_date.isoformat()}", field="domain"
            )
        if end_date < self.start_date:
            raise ValidationFailed(
                f"before the member joined the domain ({self.start_date.isoformat()})",
                field="end_date",
            )
        self.end_date = end_date
        self.end_reason = (reason or "").strip() or None


# --- Adhesion fee schedule --------------------------------------------------------------


class AdhesionFeeBand(Base):
    """One population band of the yearly adhesion fee, set by a deliberation of the centre.

    The bands sharing a ``valid_from_year`` form a schedule; the schedule in force for a
    year is the one with the latest ``valid_from_year`` not after it. A member owes the
    amount of the band its population falls in, and nothing when no band applies: the
    adhesion is free (deliberation 2023-02) until a schedule says otherwise.
    """

    __tablename__ = "adhesion_fee_bands"
    __table_args__ = (
        UniqueConstraint("valid_from_year", "population_min"),
        CheckConstraint("population_min >= 0", name="population_min_not_negative"),
        CheckConstraint(
            "population_max IS NULL OR population_max >= population_min",
            name="population_range_ordered",
        ),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: First year of the schedule this band belongs to; in force until a later schedule.
    valid_from_year: Mapped[int] = mapped_column(index=True)
    population_min: Mapped[int]
    #: Inclusive upper bound; None for the open-ended top band.
    population_max: Mapped[int | None]
    #: Yearly fee in euros.
    amount: Mapped[Decimal]
    #: The centre's deliberation setting the schedule: its reference and date.
    deliberation_reference: Mapped[str] = mapped_column(String(DELIBERATION_REFERENCE_LENGTH))
    #: None only for schedules recorded before the dates were kept; required since.
    deliberation_date: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def deliberation(self) -> Deliberation | None:
        if self.deliberation_date is None:
            return None
        return Deliberation(self.deliberation_reference, self.deliberation_date)

    def covers(self, population: int) -> bool:
        return self.population_min <= population and (
            self.population_max is None or population <= self.population_max
        )

    @property
    def label(self) -> str:
        if self.population_max is None:
            return f"{self.population_min}+"
        return f"{self.population_min}-{self.population_max}"


def fee_schedule_problems(bands: Sequence[AdhesionFeeBand]) -> list[str]:
    """What is wrong with the bands of one schedule: reversed bounds, overlaps."""
    problems = [
        f"band {band.label}: population_max below population_min"
        for band in bands
        if band.population_max is not None and band.population_max < band.population_min
    ]
    ordered = sorted(bands, key=lambda band: band.population_min)
    for lower, upper in itertools.pairwise(ordered):
        if lower.population_max is None or lower.population_max >= upper.population_min:
            problems.append(f"bands {lower.label} and {upper.label} overlap")
    return problems
