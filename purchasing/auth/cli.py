"""``centrale users``: create accounts and print their API token."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from purchasing.auth import services
from purchasing.cli_support import reports_domain_errors
from purchasing.db import get_session


@click.group("users")
def users() -> None:
    """User accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, help="member, purchasing, finance, auditor or admin")
@click.option("--member", "member_id", type=int, help="member id (role member only)")
@click.option("--name", "full_name", default="")
@click.option(
    "--password",
    prompt=False,
    default=None,
    help="web login password; leave out for an API-only account",
)
@with_appcontext
@reports_domain_errors
def create(
    email: str, role: str, member_id: int | None, full_name: str, password: str | None
) -> None:
    """Create a user and print a new API token for it."""
    session = get_session()
    user = services.create_user(
        session,
        email=email,
        role=role,
        member_id=member_id,
        password=password,
        full_name=full_name,
        created_by=None,
    )
    issued = services.issue_token(session, user_id=user.id, label="cli", issued_by=None)
    click.echo(f"user {user.id} {user.email} ({user.role.value})")
    click.echo(f"token: {issued.secret}")
