"""``centrale members``: import members from a CSV file, list them."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from purchasing.cli_support import reports_domain_errors
from purchasing.db import get_session
from purchasing.members import services
from purchasing.members.models import AdhesionStatus, MemberKind

PAGE_SIZE = 500


@click.group("members")
def members() -> None:
    """Members of the purchasing centre."""


@members.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
@reports_domain_errors
def import_members(path: Path) -> None:
    """Import the members of a CSV file (columns: see ``purchasing.members.services``).

    The file is imported whole or not at all; each problem is printed with its line.
    """
    count = services.import_members_csv(
        get_session(), path.read_bytes(), source_name=str(path), imported_by=None
    )
    click.echo(f"{count} members imported")


@members.command("list")
@click.option("--kind", type=click.Choice([kind.value for kind in MemberKind]))
@click.option("--departement", "departement_code", help="département code, e.g. 59")
@click.option("--adhesion-status", type=click.Choice([status.value for status in AdhesionStatus]))
@with_appcontext
@reports_domain_errors
def list_members(
    kind: str | None, departement_code: str | None, adhesion_status: str | None
) -> None:
    """List members by name: id, SIRET, kind, département, adhesion status, name."""
    filters = services.MemberFilters(
        kind=MemberKind(kind) if kind else None,
        departement_code=departement_code,
        adhesion_status=AdhesionStatus(adhesion_status) if adhesion_status else None,
    )
    page_number = 1
    while True:
        page = services.list_members(
            get_session(), actor=None, filters=filters, page=page_number, per_page=PAGE_SIZE
        )
        for member in page.items:
            adhesion = member.current_adhesion
            status = adhesion.status.value if adhesion is not None else "-"
            click.echo(
                f"{member.id:>5}  {member.siret}  {member.kind.value:<20} "
                f"{member.departement_code:<3}  {status:<9}  {member.name}"
            )
        if page_number * PAGE_SIZE >= page.total:
            break
        page_number += 1
