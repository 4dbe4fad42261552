"""Roles, the acting user as services see it, and the tenant rule. Imports nothing of the
project."""

from __future__ import annotations

import enum
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select

Q = TypeVar("Q", bound=Select[Any])


class Role(enum.StrEnum):
    MEMBER = "member"
    PURCHASING = "purchasing"
    FINANCE = "finance"
    AUDITOR = "auditor"
    ADMIN = "admin"


#: Staff roles see every member; a member user sees only its own collectivity.
STAFF_ROLES = frozenset({Role.PURCHASING, Role.FINANCE, Role.AUDITOR, Role.ADMIN})


class Actor(Protocol):
    """Who performs a use case. Services receive it; they never read Flask globals."""

    id: int
    email: str
    role: Role
    member_id: int | None


def member_scope(actor: Actor | None) -> int | None:
    """The member id an actor is confined to, or None when it may see every member."""
    if actor is None or actor.role in STAFF_ROLES:
        return None
    return actor.member_id


def visible_to(actor: Actor | None, query: Q, member_column: Any) -> Q:
    """``query`` limited to the actor's own member when it is a member user: the one place
    the tenant rule is written for queries."""
    scope = member_scope(actor)
    return query if scope is None else query.where(member_column == scope)
