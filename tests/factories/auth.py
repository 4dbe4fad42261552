from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from purchasing.auth import services
from purchasing.auth.models import User

_seq = itertools.count(1)
PASSWORD = "correct horse battery"


def make_user(
    session: Session, *, role: str = "finance", member=None, password: str | None = PASSWORD, **kw
) -> tuple[User, str]:
    """A user and a fresh API token for it. ``member`` binds a member user."""
    if role == "member" and member is None:
        from tests.factories.members import make_member

        member = make_member(session)
    user = services.create_user(
        session,
        email=kw.pop("email", f"user{next(_seq)}@example.org"),
        role=role,
        member_id=member.id if member is not None else None,
        password=password,
        created_by=None,
        **kw,
    )
    issued = services.issue_token(session, user_id=user.id, issued_by=None)
    return user, issued.secret
