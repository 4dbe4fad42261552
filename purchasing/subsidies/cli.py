"""``centrale subsidies``: load a programme file, print a programme's statement."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from purchasing.cli_support import reports_domain_errors
from purchasing.db import get_session
from purchasing.errors import NotFound
from purchasing.fields import today_in_paris
from purchasing.subsidies import services
from purchasing.subsidies.loader import read_programme_file
from purchasing.subsidies.models import SubsidyProgramme


@click.group("subsidies")
def subsidies() -> None:
    """FEDER subsidy programmes."""


@subsidies.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
@reports_domain_errors
def load(path: Path) -> None:
    """Create or update the programme of PATH (YAML), with its receipts and reversals.

    All or nothing, and safe to run again: what is already recorded is left alone.
    """
    summary = services.load_programme(get_session(), read_programme_file(path), loaded_by=None)
    click.echo(f"programme {summary.code}: {summary.programme}")
    click.echo(
        f"receipts: {summary.receipts_recorded} recorded, "
        f"{summary.receipts_unchanged} already recorded"
    )
    click.echo(
        f"reversals: {summary.reversals_recorded} recorded, "
        f"{summary.reversals_unchanged} already recorded"
    )


@subsidies.command("statement")
@click.argument("code")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), help="default: today")
@with_appcontext
@reports_domain_errors
def statement(code: str, as_of: datetime | None) -> None:
    """Print where programme CODE stands: envelope, aid consumed, grant received and reversed."""
    session = get_session()
    programme_id = session.scalar(select(SubsidyProgramme.id).where(SubsidyProgramme.code == code))
    if programme_id is None:
        raise NotFound(f"no subsidy programme {code}", field="code")
    figures = services.programme_statement(
        session, programme_id, as_of=as_of.date() if as_of else today_in_paris()
    )
    click.echo(f"{figures.code} — {figures.name}, as of {figures.as_of.isoformat()}")
    for label, amount in (
        ("grant", figures.grant_total),
        ("envelope", figures.envelope),
        ("consumed", figures.consumed),
        ("remaining", figures.remaining),
        ("received", figures.received),
        ("reversed", figures.reversed),
    ):
        click.echo(f"  {label:<10}{amount:>16}")
    for partner in figures.partners:
        click.echo(
            f"  partner {partner.code}: share {partner.share}, reversed {partner.reversed}, "
            f"left {partner.left}"
        )
