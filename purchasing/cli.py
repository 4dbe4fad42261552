"""The ``centrale`` operator command: database (migrations, backup, restore), catalogue,
members, users, demo data.

Each command runs inside the application context and calls one service. A refused input
prints ``error: <field>: <message>`` lines on stderr and exits with status 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask.cli import FlaskGroup

from purchasing.cli_support import backup_database, reports_domain_errors, restore_database


def _create_app() -> Any:
    from purchasing import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Centrale: order and billing service of the purchasing centre."""


@main.group()
def db() -> None:
    """Database: schema migrations, backup and restore."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations up to REVISION."""
    from flask import current_app

    from purchasing.migrate import upgrade

    upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {revision}")


@db.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@reports_domain_errors
def db_backup(file: Path) -> None:
    """Write a consistent backup of the database to FILE, while the service runs.

    SQLite: a SQLite file (online backup API). PostgreSQL: a pg_dump custom-format file.
    """
    from flask import current_app

    backup_database(current_app.config["DATABASE_URL"], file)
    click.echo(f"database backed up to {file} ({file.stat().st_size:,} bytes)")


@db.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.confirmation_option(
    "--yes", prompt="Replace the whole database by this backup?", help="do not ask"
)
@reports_domain_errors
def db_restore(file: Path) -> None:
    """Replace the database's content by the backup FILE (stop the service first)."""
    from flask import current_app

    restore_database(current_app.config["DATABASE_URL"], file)
    click.echo(f"database restored from {file}")


def register_commands() -> None:
    from purchasing.auth.cli import users
    from purchasing.billing.cli import billing
    from purchasing.catalog.cli import catalog
    from purchasing.demo import demo
    from purchasing.ledger.cli import ledger
    from purchasing.members.cli import members
    from purchasing.subsidies.cli import subsidies

    for command in (users, catalog, members, billing, subsidies, ledger, demo):
        main.add_command(command)


register_commands()
