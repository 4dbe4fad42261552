"""``centrale catalog``: load the catalogue and the chart of accounts from their YAML files."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from purchasing.catalog.loader import KINDS, LoadSummary, load_catalog
from purchasing.cli_support import reports_domain_errors
from purchasing.db import get_session


@click.group("catalog")
def catalog() -> None:
    """Catalogue: families, suppliers, products, prices and the chart of accounts."""


@catalog.command("load")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--dry-run", is_flag=True, help="Check the files and count the changes, write nothing."
)
@with_appcontext
@reports_domain_errors
def load(directory: Path | None, dry_run: bool) -> None:
    """Load the catalogue files of DIRECTORY (default: the CATALOG_DIR setting).

    All or nothing: a file with a fault refuses the whole load, each fault on an
    error line, and the database is left unchanged.
    """
    directory = directory or Path(current_app.config["CATALOG_DIR"])
    summary = load_catalog(get_session(), directory, loaded_by=None, dry_run=dry_run)
    for line in summary_lines(summary):
        click.echo(line)


def summary_lines(summary: LoadSummary) -> list[str]:
    lines = [f"{'':<15}{'created':>9}{'updated':>9}{'unchanged':>11}"]
    for kind in KINDS:
        counts = summary.counts[kind]
        label = kind.replace("_", " ")
        lines.append(f"{label:<15}{counts.created:>9}{counts.updated:>9}{counts.unchanged:>11}")
    lines.extend(f"warning: {warning}" for warning in summary.warnings)
    verdict = f"{summary.changes} change(s)"
    lines.append(f"dry run: {verdict}, nothing written" if summary.dry_run else verdict)
    return lines
