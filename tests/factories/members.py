"""Members for tests: valid, distinct and, unless told otherwise, allowed to order, in
every service domain."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy.orm import Session
from stdnum import luhn

from purchasing.catalog.models import ServiceDomain
from purchasing.members.models import (
    Adhesion,
    AdhesionStatus,
    Member,
    MemberKind,
    MemberServiceDomain,
)

_seq = itertools.count(1)

#: The adhesion every factory member has unless told otherwise.
DELIBERATION_DATE = date(2023, 2, 14)
START_DATE = date(2023, 3, 1)


def luhn_complete(digits: str) -> str:
    """``digits`` followed by the Luhn check digit that makes them valid."""
    return digits + luhn.calc_check_digit(digits)


def siret_for(n: int) -> str:
    """A valid SIRET, distinct for each ``n`` (prefix 219, unused by the demo data)."""
    siren = luhn_complete(f"219{n:05d}")
    return luhn_complete(f"{siren}0001")


def make_member(
    session: Session,
    *,
    adhesion_status: AdhesionStatus | str | None = AdhesionStatus.ACTIVE,
    adhesion_start: date = START_DATE,
    service_domains: Iterable[ServiceDomain | str] = tuple(ServiceDomain),
    **overrides: Any,
) -> Member:
    """A persisted member; its adhesion is active since 2023-03-01 unless told otherwise.

    ``adhesion_status=None`` gives a member without any adhesion; any other status is
    reached through the adhesion's own transitions. The member is in every service domain
    from the start of its adhesion (2023-03-01 at the latest), unless ``service_domains``
    names the ones it joined (``()``: none). Any ``Member`` field may be overridden.
    """
    n = next(_seq)
    kind = MemberKind(overrides.get("kind", MemberKind.COMMUNE))
    departement = overrides.get("departement_code", "59")
    values: dict[str, Any] = {
        "name": f"Commune test {n}",
        "kind": kind,
        "siret": siret_for(n),
        # A commune's INSEE code starts with its département code (3 digits overseas).
        "insee_code": (departement + f"{n:03d}")[:5] if kind is MemberKind.COMMUNE else None,
        "population": 1200,
        "departement_code": departement,
        "address_line1": "1 place de la Mairie",
        "postal_code": "59000",
        "city": "Lille",
        "billing_email": f"factures{n}@mairie.example",
    }
    values.update(overrides)
    member = Member(**values)
    if adhesion_status is not None:
        _give_adhesion(member, AdhesionStatus(adhesion_status), start=adhesion_start, n=n)
    joined_on = min(adhesion_start, START_DATE)
    for domain in service_domains:
        member.service_domains.append(
            MemberServiceDomain(
                domain=ServiceDomain(domain),
                start_date=joined_on,
                deliberation_reference=f"DEL-TEST-{n:04d}-D",
                deliberation_date=min(joined_on, DELIBERATION_DATE),
            )
        )
    session.add(member)  # with its adhesion and domains
    session.commit()
    return member


def _give_adhesion(member: Member, status: AdhesionStatus, *, start: date, n: int) -> None:
    adhesion = Adhesion.request(member, requested_on=min(start, DELIBERATION_DATE))
    if status is AdhesionStatus.REQUESTED:
        return
    adhesion.activate(
        convention_number=f"CONV-TEST-{n:04d}",
        deliberation_reference=f"DEL-TEST-{n:04d}",
        deliberation_date=min(start, DELIBERATION_DATE),
        start_date=start,
    )
    if status is AdhesionStatus.SUSPENDED:
        adhesion.suspend(reason="test suspension")
    elif status is AdhesionStatus.WITHDRAWN:
        adhesion.withdraw(end_date=max(start, date(2024, 12, 31)))
