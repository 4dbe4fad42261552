"""Roles and the acting user as services see it. Imports nothing of the project."""

from __future__ import annotations

import enum
from typing import Protocol


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
