"""The ``centrale`` operator command: database, catalogue, members, users, demo data.

Each command runs inside the application context and calls one service. A refused input
prints ``error: <field>: <message>`` lines on stderr and exits with status 1.
"""

from __future__ import annotations

from typing import Any

import click
from flask.cli import FlaskGroup


def _create_app() -> Any:
    from purchasing import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Centrale: order and billing service of the purchasing centre."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations up to REVISION."""
    from flask import current_app

    from purchasing.migrate import upgrade

    upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {revision}")


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
