"""Use cases of the members domain: members, their adhesions, the adhesion fee schedule.

Each public function is one use case and one transaction: it commits once, at its end, and
leaves nothing behind when it refuses. The acting user comes in as ``actor`` (None for an
operator command). A member user only ever sees its own collectivity: another member's id
is unknown to it (``NotFound``), never forbidden. Every change writes an audit record.

Other domains call :func:`ensure_member_can_order` before taking an order,
:func:`ensure_member_in_domain` before taking an item of a service domain, and
:func:`adhesion_fee` when billing the yearly adhesion fee.

Service domains à la carte
--------------------------
Within its adhesion, a member joins the service domains it wants (telecom,
video-protection, Mairie Connectée, IoT, cybersecurity), each by a deliberation of its own
council and from its own start date (:func:`join_service_domain`), and may leave one
(:func:`leave_service_domain`). It orders only the items of the domains it has joined.

Members CSV import
------------------
:func:`import_members_csv` reads UTF-8 text (a byte-order mark is accepted) whose first line
names the columns, separated by ``;`` or ``,`` (whichever the header line uses). Columns
come in any order; optional ones may be left out. An empty cell is a missing value.

==========================  =========  ==================================================
column                      required   content
==========================  =========  ==================================================
name                        yes        Commune d'Audresselles
kind                        yes        commune, epci, departement, region, syndicat,
                                       etablissement_public or other
siret                       yes        14 digits (spaces allowed), Luhn-checked, unique
insee_code                  communes   2 digits (or 2A/2B) then 3 digits, in the
                                       member's département
population                  yes        whole number, 0 or more (12 345 accepted)
departement_code            yes        01-95, 2A, 2B or 971-976
address_line1               yes
address_line2               no
postal_code                 yes        5 digits
city                        yes
billing_email               yes
chorus_service_code         no         Chorus Pro service code
chorus_engagement_required  no         oui/non (or yes/no, true/false, 1/0); non if empty
vat_number                  no         intra-EU VAT number; a French one has the SIREN
adhesion_status             no         empty (no adhesion) or ``active``
convention_number           if active  CONV-2023-014
deliberation_reference      if active  reference of the member council's deliberation
deliberation_date           if active  2023-03-15 or 15/03/2023
adhesion_start_date         if active  first day of orders, not before the deliberation
==========================  =========  ==================================================

The file is imported whole or not at all. Every problem is reported with its line and
column (``line 7: siret: invalid SIRET (checksum)``); a SIRET found twice in the file, or
already a member's, is a problem.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from marshmallow import ValidationError
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from purchasing.audit.services import record_change, snapshot
from purchasing.auth.roles import Actor, member_scope, visible_to
from purchasing.catalog.deliberations import Deliberation, NotADeliberation
from purchasing.catalog.models import ServiceDomain
from purchasing.errors import Conflict, ImportRefused, NotFound, ValidationFailed
from purchasing.members.models import (
    Adhesion,
    AdhesionFeeBand,
    AdhesionStatus,
    Member,
    MemberKind,
    MemberServiceDomain,
    fee_schedule_problems,
    member_problems,
)
from purchasing.members.schemas import MemberCsvRowSchema
from purchasing.money import ZERO
from purchasing.unit_of_work import Page, paginate, transaction

__all__ = [
    "CSV_COLUMNS",
    "MEMBER_FIELDS",
    "AdhesionNotActive",
    "MemberFilters",
    "Page",
    "ServiceDomainNotJoined",
    "activate_adhesion",
    "adhesion_fee",
    "adhesion_fee_band",
    "create_member",
    "ensure_member_can_order",
    "ensure_member_in_domain",
    "get_member",
    "import_members_csv",
    "join_service_domain",
    "leave_service_domain",
    "list_adhesions",
    "list_fee_bands",
    "list_members",
    "list_service_domains",
    "request_adhesion",
    "set_fee_schedule",
    "suspend_adhesion",
    "update_member",
    "withdraw_adhesion",
]

T = TypeVar("T")

#: What a member is made of, as created, updated and imported.
MEMBER_FIELDS = frozenset(
    {
        "name",
        "kind",
        "siret",
        "insee_code",
        "population",
        "departement_code",
        "address_line1",
        "address_line2",
        "postal_code",
        "city",
        "billing_email",
        "chorus_service_code",
        "chorus_engagement_required",
        "vat_number",
    }
)


class AdhesionNotActive(ValidationFailed):
    """Only an active member can order: the member's adhesion is not in force that day."""

    def __init__(self, member_id: int, reason: str) -> None:
        super().__init__(f"only an active member can order: {reason}", field="member_id")
        self.member_id = member_id


class ServiceDomainNotJoined(ValidationFailed):
    """The member has not joined, that day, the service domain of the item it orders."""

    def __init__(self, member: Member, domain: ServiceDomain, on: date, *, field: str) -> None:
        row = member.service_domain(domain)
        if row is None:
            why = "it has not joined it"
        elif on < row.start_date:
            why = f"it joined it from {row.start_date.isoformat()}"
        else:
            why = f"it left it on {row.end_date.isoformat()}"
        super().__init__(
            f"{member.name} may not order in the {domain.label} domain "
            f"({domain.value}) on {on.isoformat()}: {why}",
            field=field,
        )
        self.member_id = member.id
        self.domain = domain


@dataclass(frozen=True)
class MemberFilters:
    kind: MemberKind | None = None
    departement_code: str | None = None
    #: The live adhesion's status; ``withdrawn`` for members whose adhesions all ended.
    adhesion_status: AdhesionStatus | None = None
    #: Part of the name or city, start of the SIRET, or INSEE code.
    q: str | None = None


# --- Members ----------------------------------------------------------------------------


def create_member(session: Session, data: Mapping[str, Any], *, actor: Actor | None) -> Member:
    """Register a member from the values of ``MEMBER_FIELDS`` (a loaded ``MemberSchema``)."""
    _refuse_unknown_fields(data)
    with transaction(session):
        member = Member(**data)
        _check_member_rules(member)
        _check_siret_is_free(session, member)
        session.add(member)
        _flush_or_conflict(
            session, "a member with this SIRET already exists", field="siret", column="siret"
        )
        record_change(
            session,
            actor=actor,
            action="member.created",
            entity="member",
            entity_id=member.id,
            after=snapshot(member),
        )
    return member


def update_member(
    session: Session, member_id: int, changes: Mapping[str, Any], *, actor: Actor | None
) -> Member:
    """Change some fields of a member; the rules across fields hold on the result."""
    _refuse_unknown_fields(changes)
    with transaction(session):
        member = get_member(session, member_id, actor=actor)
        before = snapshot(member)
        with session.no_autoflush:  # check the new values before the database sees them
            for field, value in changes.items():
                setattr(member, field, value)
            _check_member_rules(member)
            _check_siret_is_free(session, member)
        _flush_or_conflict(
            session, "a member with this SIRET already exists", field="siret", column="siret"
        )
        after = snapshot(member)
        if after != before:
            record_change(
                session,
                actor=actor,
                action="member.updated",
                entity="member",
                entity_id=member.id,
                before=before,
                after=after,
            )
    return member


def get_member(session: Session, member_id: int, *, actor: Actor | None) -> Member:
    """The member, if the actor may see it: a member user sees only its own."""
    scope = member_scope(actor)
    member = session.get(Member, member_id) if scope in (None, member_id) else None
    if member is None:
        raise NotFound(f"no member with id {member_id}", field="member_id")
    return member


def list_members(
    session: Session,
    *,
    actor: Actor | None,
    filters: MemberFilters | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Member]:
    """Members by name, one page of them; a member user gets only its own."""
    filters = filters or MemberFilters()
    query = visible_to(actor, select(Member), Member.id)
    if filters.kind is not None:
        query = query.where(Member.kind == filters.kind)
    if filters.departement_code is not None:
        query = query.where(Member.departement_code == filters.departement_code)
    if filters.adhesion_status is not None:
        query = query.where(_adhesion_status_is(filters.adhesion_status))
    if filters.q:
        query = query.where(_matches(filters.q))
    query = query.options(
        selectinload(Member.adhesions), selectinload(Member.service_domains)
    ).order_by(Member.name, Member.id)
    return paginate(session, query, page=page, per_page=per_page)


def _refuse_unknown_fields(data: Mapping[str, Any]) -> None:
    unknown = sorted(set(data) - MEMBER_FIELDS)
    if unknown:
        raise ValueError(f"not member fields: {', '.join(unknown)}")


def _check_member_rules(member: Member) -> None:
    problems = member_problems({field: getattr(member, field) for field in MEMBER_FIELDS})
    if problems:
        raise ValidationFailed("the member's data do not hold together", errors=problems)


def _check_siret_is_free(session: Session, member: Member) -> None:
    query = select(Member.id).where(Member.siret == member.siret)
    if member.id is not None:
        query = query.where(Member.id != member.id)
    holder = session.scalar(query)
    if holder is not None:
        raise Conflict(f"already the SIRET of member {holder}", field="siret")


def _flush_or_conflict(session: Session, message: str, *, field: str, column: str) -> None:
    """Flush; a uniqueness race on ``column``, lost to a concurrent transaction, is a Conflict.

    The use case checked uniqueness first; only a concurrent insert gets here.
    """
    try:
        session.flush()
    except IntegrityError as exc:
        if column not in str(exc.orig):
            raise
        raise Conflict(message, field=field) from None


def _adhesion_status_is(status: AdhesionStatus) -> ColumnElement[bool]:
    def adhesions_of_member_where(*conditions: ColumnElement[bool]) -> Any:
        return select(Adhesion.id).where(Adhesion.member_id == Member.id, *conditions).exists()

    if status is AdhesionStatus.WITHDRAWN:
        return and_(
            ~adhesions_of_member_where(Adhesion.status != AdhesionStatus.WITHDRAWN),
            adhesions_of_member_where(Adhesion.status == AdhesionStatus.WITHDRAWN),
        )
    return adhesions_of_member_where(Adhesion.status == status)


def _matches(q: str) -> ColumnElement[bool]:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    conditions = [
        Member.name.ilike(pattern, escape="\\"),
        Member.city.ilike(pattern, escape="\\"),
        Member.insee_code == q.upper(),
    ]
    digits = re.sub(r"[\s.]", "", q)
    if digits.isascii() and digits.isdigit():
        conditions.append(Member.siret.startswith(digits))
    return or_(*conditions)


# --- Adhesions --------------------------------------------------------------------------


def request_adhesion(
    session: Session,
    member_id: int,
    *,
    requested_on: date,
    convention_number: str | None = None,
    deliberation_reference: str | None = None,
    deliberation_date: date | None = None,
    actor: Actor | None,
) -> Adhesion:
    """Record a member's request to join; refused while another adhesion is live."""
    with transaction(session):
        member = get_member(session, member_id, actor=actor)
        current = member.current_adhesion
        if current is not None and current.is_live:
            raise Conflict(
                f"the member already has an adhesion {current.status.value}", field="adhesion"
            )
        adhesion = Adhesion.request(
            member,
            requested_on=requested_on,
            convention_number=convention_number,
            deliberation_reference=deliberation_reference,
            deliberation_date=deliberation_date,
        )
        session.add(adhesion)
        _flush_or_conflict(
            session,
            "the member already has an adhesion in progress",
            field="adhesion",
            column="member_id",
        )
        record_change(
            session,
            actor=actor,
            action="adhesion.requested",
            entity="adhesion",
            entity_id=adhesion.id,
            after=snapshot(adhesion),
        )
    return adhesion


def activate_adhesion(
    session: Session,
    member_id: int,
    *,
    convention_number: str | None = None,
    deliberation_reference: str | None = None,
    deliberation_date: date | None = None,
    start_date: date | None = None,
    actor: Actor | None,
) -> Adhesion:
    """Bring the member's requested adhesion into force, or reinstate a suspended one."""
    with transaction(session):
        adhesion = _current_adhesion(session, member_id, actor=actor)
        before = snapshot(adhesion)
        reinstating = adhesion.status is AdhesionStatus.SUSPENDED
        adhesion.activate(
            convention_number=convention_number,
            deliberation_reference=deliberation_reference,
            deliberation_date=deliberation_date,
            start_date=start_date,
        )
        _record_adhesion_change(
            session,
            adhesion,
            before,
            action="adhesion.reinstated" if reinstating else "adhesion.activated",
            actor=actor,
        )
    return adhesion


def suspend_adhesion(
    session: Session, member_id: int, *, reason: str, actor: Actor | None
) -> Adhesion:
    """Stop the member's orders until its adhesion is reinstated."""
    with transaction(session):
        adhesion = _current_adhesion(session, member_id, actor=actor)
        before = snapshot(adhesion)
        adhesion.suspend(reason=reason)
        _record_adhesion_change(session, adhesion, before, action="adhesion.suspended", actor=actor)
    return adhesion


def withdraw_adhesion(
    session: Session,
    member_id: int,
    *,
    end_date: date,
    reason: str | None = None,
    actor: Actor | None,
) -> Adhesion:
    """End the member's adhesion (or abandon its request); it may request a new one."""
    with transaction(session):
        adhesion = _current_adhesion(session, member_id, actor=actor)
        before = snapshot(adhesion)
        adhesion.withdraw(end_date=end_date, reason=reason)
        _record_adhesion_change(session, adhesion, before, action="adhesion.withdrawn", actor=actor)
    return adhesion


def list_adhesions(session: Session, member_id: int, *, actor: Actor | None) -> list[Adhesion]:
    """A member's adhesions, oldest first."""
    return list(get_member(session, member_id, actor=actor).adhesions)


def ensure_member_can_order(session: Session, member_id: int, on: date) -> Member:
    """The member, if its adhesion is active on day ``on``; else ``AdhesionNotActive``."""
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(f"no member with id {member_id}", field="member_id")
    adhesion = member.current_adhesion
    if adhesion is None:
        raise AdhesionNotActive(member_id, f"{member.name} has no adhesion")
    if not adhesion.allows_ordering_on(on):
        raise AdhesionNotActive(member_id, f"{member.name}: {_why_not_in_force(adhesion)}")
    return member


def _why_not_in_force(adhesion: Adhesion) -> str:
    match adhesion.status:
        case AdhesionStatus.REQUESTED:
            return "its adhesion is requested, not yet active"
        case AdhesionStatus.ACTIVE:
            return f"its adhesion starts on {adhesion.start_date.isoformat()}"
        case AdhesionStatus.SUSPENDED:
            return "its adhesion is suspended"
        case AdhesionStatus.WITHDRAWN:
            return f"its adhesion ended on {adhesion.end_date.isoformat()}"


def _current_adhesion(session: Session, member_id: int, *, actor: Actor | None) -> Adhesion:
    member = get_member(session, member_id, actor=actor)
    adhesion = member.current_adhesion
    if adhesion is None:
        raise Conflict("the member has no adhesion; request one first", field="adhesion")
    return adhesion


def _record_adhesion_change(
    session: Session,
    adhesion: Adhesion,
    before: dict[str, Any],
    *,
    action: str,
    actor: Actor | None,
) -> None:
    record_change(
        session,
        actor=actor,
        action=action,
        entity="adhesion",
        entity_id=adhesion.id,
        before=before,
        after=snapshot(adhesion),
    )


# --- Service domains --------------------------------------------------------------------


def join_service_domain(
    session: Session,
    member_id: int,
    *,
    domain: ServiceDomain,
    start_date: date,
    deliberation_reference: str,
    deliberation_date: date,
    actor: Actor | None,
) -> MemberServiceDomain:
    """The member joins a service domain from ``start_date``, by its council's deliberation.

    It must adhere to the centre (an adhesion requested, active or suspended); a domain
    it is in already is refused, and so is a start before the deliberation.
    """
    with transaction(session):
        member = _lock_member(session, member_id, actor=actor)
        adhesion = member.current_adhesion
        if adhesion is None or not adhesion.is_live:
            raise Conflict(
                f"{member.name} does not adhere to the centre: a domain is joined within an "
                "adhesion",
                field="domain",
            )
        try:
            deliberation = Deliberation(deliberation_reference, deliberation_date)
        except NotADeliberation as exc:
            raise ValidationFailed(str(exc), field="deliberation_reference") from None
        row = MemberServiceDomain.join(
            member, domain, start_date=start_date, deliberation=deliberation
        )
        session.add(row)
        _flush_or_conflict(
            session,
            f"the member joined {domain.value} meanwhile",
            field="domain",
            column="member_service_domains",
        )
        record_change(
            session,
            actor=actor,
            action="service_domain.joined",
            entity="member_service_domain",
            entity_id=row.id,
            after=snapshot(row),
        )
    return row


def leave_service_domain(
    session: Session,
    member_id: int,
    domain: ServiceDomain,
    *,
    end_date: date,
    reason: str | None = None,
    actor: Actor | None,
) -> MemberServiceDomain:
    """The member leaves a domain: ``end_date`` is the last day it may order in it."""
    with transaction(session):
        member = _lock_member(session, member_id, actor=actor)
        row = member.service_domain(domain)
        if row is None:
            raise Conflict(f"{member.name} never joined {domain.value}", field="domain")
        before = snapshot(row)
        row.leave(end_date=end_date, reason=reason)
        record_change(
            session,
            actor=actor,
            action="service_domain.left",
            entity="member_service_domain",
            entity_id=row.id,
            before=before,
            after=snapshot(row),
        )
    return row


def list_service_domains(
    session: Session, member_id: int, *, actor: Actor | None
) -> list[MemberServiceDomain]:
    """A member's domain memberships, past ones included, oldest first; a member user sees
    only its own member's."""
    return list(get_member(session, member_id, actor=actor).service_domains)


def ensure_member_in_domain(
    session: Session, member_id: int, domain: ServiceDomain, on: date, *, field: str
) -> Member:
    """The member, if it has joined ``domain`` on day ``on``; else ``ServiceDomainNotJoined``
    naming ``field`` (the product the caller was given)."""
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(f"no member with id {member_id}", field="member_id")
    if not member.has_joined(domain, on):
        raise ServiceDomainNotJoined(member, domain, on, field=field)
    return member


def _lock_member(session: Session, member_id: int, *, actor: Actor | None) -> Member:
    """The member, locked: its domain memberships change one at a time."""
    scope = member_scope(actor)
    member = (
        session.scalar(
            select(Member)
            .where(Member.id == member_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if scope in (None, member_id)
        else None
    )
    if member is None:
        raise NotFound(f"no member with id {member_id}", field="member_id")
    return member


# --- Adhesion fees ----------------------------------------------------------------------


def set_fee_schedule(
    session: Session,
    *,
    valid_from_year: int,
    deliberation_reference: str,
    deliberation_date: date,
    bands: Sequence[Mapping[str, Any]],
    actor: Actor | None,
) -> list[AdhesionFeeBand]:
    """Record the fee bands a deliberation sets from ``valid_from_year`` onwards.

    ``bands`` holds ``population_min``, ``population_max`` (None: no upper bound) and
    ``amount``. The deliberation setting them is cited by its reference and its date,
    both required: a fee is never charged without the act that set it. A schedule is set
    once: a later deliberation sets a later schedule.
    """
    if deliberation_date is None:
        raise ValidationFailed(
            "required: the date of the deliberation setting the schedule",
            field="deliberation_date",
        )
    try:
        deliberation = Deliberation(deliberation_reference, deliberation_date)
    except NotADeliberation as exc:
        raise ValidationFailed(str(exc), field="deliberation_reference") from None
    with transaction(session):
        if session.scalar(
            select(func.count()).where(AdhesionFeeBand.valid_from_year == valid_from_year)
        ):
            raise Conflict(
                f"a fee schedule from {valid_from_year} already exists", field="valid_from_year"
            )
        if not bands:
            raise ValidationFailed("a fee schedule needs at least one band", field="bands")
        rows = sorted(
            (
                AdhesionFeeBand(
                    valid_from_year=valid_from_year,
                    deliberation_reference=deliberation.reference,
                    deliberation_date=deliberation.adopted_on,
                    population_min=band["population_min"],
                    population_max=band.get("population_max"),
                    amount=band["amount"],
                )
                for band in bands
            ),
            key=lambda row: row.population_min,
        )
        problems = fee_schedule_problems(rows)
        if problems:
            raise ValidationFailed("the fee bands do not hold together", errors={"bands": problems})
        session.add_all(rows)
        session.flush()
        for row in rows:
            record_change(
                session,
                actor=actor,
                action="adhesion_fee_band.created",
                entity="adhesion_fee_band",
                entity_id=row.id,
                after=snapshot(row),
            )
    return rows


def list_fee_bands(session: Session, *, year: int | None = None) -> list[AdhesionFeeBand]:
    """Every fee band, or only those of the schedule in force in ``year``."""
    query = select(AdhesionFeeBand)
    if year is not None:
        query = query.where(AdhesionFeeBand.valid_from_year == _schedule_year(year))
    return list(
        session.scalars(
            query.order_by(AdhesionFeeBand.valid_from_year, AdhesionFeeBand.population_min)
        )
    )


def adhesion_fee(session: Session, member: Member, year: int) -> Decimal:
    """The member's adhesion fee for ``year``: its population band's amount, else 0.00."""
    band = adhesion_fee_band(session, member, year)
    return band.amount if band is not None else ZERO


def adhesion_fee_band(session: Session, member: Member, year: int) -> AdhesionFeeBand | None:
    """The band of the schedule in force in ``year`` the member's population falls in, with
    the deliberation that set it; None when no schedule applies (the adhesion is free)."""
    return session.scalar(
        select(AdhesionFeeBand).where(
            AdhesionFeeBand.valid_from_year == _schedule_year(year),
            AdhesionFeeBand.population_min <= member.population,
            or_(
                AdhesionFeeBand.population_max.is_(None),
                AdhesionFeeBand.population_max >= member.population,
            ),
        )
    )


def _schedule_year(year: int) -> Any:
    """The first year of the schedule in force in ``year`` (NULL when there is none)."""
    return (
        select(func.max(AdhesionFeeBand.valid_from_year))
        .where(AdhesionFeeBand.valid_from_year <= year)
        .scalar_subquery()
    )


# --- Members CSV import -----------------------------------------------------------------

_ROW_SCHEMA = MemberCsvRowSchema()
#: The columns a members file may have, in the order of the module docstring.
CSV_COLUMNS = (
    "name",
    "kind",
    "siret",
    "insee_code",
    "population",
    "departement_code",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "billing_email",
    "chorus_service_code",
    "chorus_engagement_required",
    "vat_number",
    "adhesion_status",
    "convention_number",
    "deliberation_reference",
    "deliberation_date",
    "adhesion_start_date",
)
#: The columns a members file must have: the row schema's required fields.
REQUIRED_CSV_COLUMNS = frozenset(
    field.data_key or name for name, field in _ROW_SCHEMA.load_fields.items() if field.required
)
#: The row's adhesion values, as ``Adhesion.activate`` takes them.
_ADHESION_FIELDS = (
    "convention_number",
    "deliberation_reference",
    "deliberation_date",
    "start_date",
)
#: Adhesion attributes named otherwise in the file.
_CSV_COLUMN_OF = {"start_date": "adhesion_start_date"}


@dataclass(frozen=True)
class _Problem:
    line: int
    text: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.text}"


def import_members_csv(
    session: Session, content: str | bytes, *, source_name: str, imported_by: Actor | None
) -> int:
    """Import every member of a CSV file, with its adhesion in force if given.

    Returns how many members were imported. Refuses the whole file with
    ``ImportRefused`` listing every problem, line by line, if anything is wrong.
    """
    rows, problems = _read_csv_rows(content)
    members: list[Member] = []
    line_of_siret: dict[str, int] = {}
    for line, row in rows:
        member, siret, row_problems = _member_from_row(row)
        problems += [_Problem(line, text) for text in row_problems]
        if siret in line_of_siret:
            problems.append(_Problem(line, f"siret: duplicate of line {line_of_siret[siret]}"))
        elif siret is not None:
            line_of_siret[siret] = line
            if member is not None:
                members.append(member)
    if line_of_siret:
        taken = session.execute(
            select(Member.siret, Member.id).where(Member.siret.in_(line_of_siret))
        )
        problems += [
            _Problem(line_of_siret[siret], f"siret: already the SIRET of member {member_id}")
            for siret, member_id in taken
        ]
    if not rows and not problems:
        problems.append(_Problem(2, "no member rows after the header"))
    if problems:
        problems.sort(key=lambda problem: problem.line)
        raise ImportRefused(source_name, [str(problem) for problem in problems])

    with transaction(session):
        session.add_all(members)
        _flush_or_conflict(
            session,
            "a member of the file was registered meanwhile; nothing imported",
            field="file",
            column="siret",
        )
        for member in members:
            record_change(
                session,
                actor=imported_by,
                action="member.imported",
                entity="member",
                entity_id=member.id,
                after={**snapshot(member), "imported_from": source_name},
            )
            for adhesion in member.adhesions:
                record_change(
                    session,
                    actor=imported_by,
                    action="adhesion.imported",
                    entity="adhesion",
                    entity_id=adhesion.id,
                    after=snapshot(adhesion),
                )
    return len(members)


def _read_csv_rows(content: str | bytes) -> tuple[list[tuple[int, dict[str, str]]], list[_Problem]]:
    """The data rows of the file as (line number, {column: cell}), or its problems."""
    if isinstance(content, bytes):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = content.count(b"\n", 0, exc.start) + 1
            return [], [_Problem(line, "not UTF-8 text; save the file as CSV UTF-8")]
    else:
        text = content.removeprefix("\ufeff")
    header_line = text.split("\n", 1)[0]
    if not header_line.strip():
        return [], [_Problem(1, "header: the first line must name the columns")]
    # The header holds only column names, so its separators are unambiguous.
    delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, dict[str, str]]] = []
    problems: list[_Problem] = []
    try:
        header = [name.strip() for name in next(reader)]
        problems = _header_problems(header)
        if problems:
            return [], problems
        next_line = reader.line_num + 1
        for cells in reader:
            # A quoted cell may span lines: a row starts where the previous one ended.
            line, next_line = next_line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                problems.append(_Problem(line, f"{len(cells)} cells for {len(header)} columns"))
                continue
            rows.append((line, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        problems.append(_Problem(reader.line_num, f"unreadable CSV ({exc})"))
    return rows, problems


def _header_problems(header: list[str]) -> list[_Problem]:
    problems = []
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        problems.append(_Problem(1, f"header: repeated column(s) {', '.join(repeated)}"))
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if unknown:
        problems.append(_Problem(1, f"header: unknown column(s) {', '.join(unknown)}"))
    missing = [name for name in CSV_COLUMNS if name in REQUIRED_CSV_COLUMNS - set(header)]
    if missing:
        problems.append(_Problem(1, f"header: missing column(s) {', '.join(missing)}"))
    return problems


def _member_from_row(row: dict[str, str]) -> tuple[Member | None, str | None, list[str]]:
    """The member a row describes (not yet in the session), its SIRET, the row's problems.

    The member is None when the row has problems; the SIRET is there whenever it is
    valid, so that a faulty row still counts in the search for duplicates.
    """
    try:
        data, field_errors = _ROW_SCHEMA.load(row), {}
    except ValidationError as exc:
        data, field_errors = exc.valid_data or {}, exc.messages
    errors: dict[str, Any] = dict(field_errors)
    siret = data.get("siret")

    adhesion_status = data.pop("adhesion_status", None)
    convention = {name: data.pop(name, None) for name in _ADHESION_FIELDS}
    for field, messages in member_problems(data).items():
        errors.setdefault(field, messages)
    adhesion = None
    if adhesion_status is not None:
        adhesion = Adhesion(status=AdhesionStatus.REQUESTED)
        try:
            adhesion.activate(**convention)
        except ValidationFailed as exc:
            for field, messages in exc.errors.items():
                errors.setdefault(_CSV_COLUMN_OF.get(field, field), messages)
    elif any(value is not None for value in convention.values()):
        errors.setdefault("adhesion_status", ["'active' when the adhesion columns are filled"])
    if errors:
        in_file_order = sorted(errors, key=_column_position)
        return None, siret, list(_flatten({column: errors[column] for column in in_file_order}))

    member = Member(**data)
    if adhesion is not None:
        adhesion.member = member
    return member, siret, []


def _column_position(column: str) -> int:
    return CSV_COLUMNS.index(column) if column in CSV_COLUMNS else len(CSV_COLUMNS)


def _flatten(errors: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """``{"siret": ["invalid SIRET"]}`` as ``siret: invalid SIRET`` lines."""
    for field, messages in errors.items():
        name = f"{prefix}{field}"
        if isinstance(messages, Mapping):
            yield from _flatten(messages, prefix=f"{name}.")
        else:
            for message in messages:
                yield f"{name}: {message}"
