"""``centrale demo``: the demo data set — members of Nord / Pas-de-Calais and a user per role.

Idempotent: members already present are kept, users already present are not recreated.
The credentials printed here are for a local demonstration only.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from purchasing.auth import services as auth_services
from purchasing.auth.models import User
from purchasing.cli_support import reports_domain_errors
from purchasing.config import PROJECT_ROOT
from purchasing.db import get_session
from purchasing.members import services as member_services
from purchasing.members.models import Member

DEMO_DIR = PROJECT_ROOT / "demo"
DEMO_PASSWORD = "demo-centrale-2026"
DEMO_TOKEN_LABEL = "demo"
STAFF = [
    ("admin@centrale.example", "admin", "Administratrice"),
    ("achats@centrale.example", "purchasing", "Service achats"),
    ("finances@centrale.example", "finance", "Service finances"),
    ("audit@centrale.example", "auditor", "Commissaire aux comptes"),
]


def load_demo_members(session: Session, csv_path: Path) -> int:
    """Import the demo members unless they are already there; the number imported."""
    if session.scalar(select(Member.id).limit(1)) is not None:
        return 0
    with csv_path.open(encoding="utf-8-sig", newline="") as stream:
        return member_services.import_members_csv(
            session, stream.read(), source_name=csv_path.name, imported_by=None
        )


def ensure_user(
    session: Session, *, email: str, role: str, full_name: str, member_id: int | None = None
) -> tuple[User, str]:
    """The user with this e-mail (created when missing) and a fresh demo API token.

    Only a token's hash is stored, so each run revokes the previous demo token and
    prints a new one: the printed credentials always work.
    """
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        user = auth_services.create_user(
            session,
            email=email,
            role=role,
            member_id=member_id,
            password=DEMO_PASSWORD,
            full_name=full_name,
            created_by=None,
        )
    for token in auth_services.list_tokens(session, user_id=user.id):
        if token.label == DEMO_TOKEN_LABEL and token.revoked_at is None:
            auth_services.revoke_token(session, token_id=token.id, revoked_by=None)
    issued = auth_services.issue_token(
        session, user_id=user.id, label=DEMO_TOKEN_LABEL, issued_by=None
    )
    return user, issued.secret


@click.command("demo")
@with_appcontext
@reports_domain_errors
def demo() -> None:
    """Load the demo members and users, and print their credentials."""
    session = get_session()
    imported = load_demo_members(session, DEMO_DIR / "members.csv")
    click.echo(f"demo members imported: {imported}")
    rows = [ensure_user(session, email=e, role=r, full_name=n) for e, r, n in STAFF]
    members = session.scalars(select(Member).order_by(Member.id).limit(3))
    for member in members:
        email = f"agent.{member.id}@{member.billing_email.split('@', 1)[1]}"
        rows.append(
            ensure_user(
                session,
                email=email,
                role="member",
                full_name=f"Agent de {member.name}",
                member_id=member.id,
            )
        )
    click.echo(f"\nDemo accounts (password for all: {DEMO_PASSWORD}):")
    for user, token in rows:
        member = f" — {session.get(Member, user.member_id).name}" if user.member_id else ""
        click.echo(f"  {user.role.value:<10} {user.email}{member}")
        click.echo(f"             API token: {token}")
