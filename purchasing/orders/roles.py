"""Who does what in the orders domain, checked by the services as well as by the views.

The views declare these roles for the API; the services check them again because they
are also called from elsewhere (commands, other domains), and some rules depend on the
order itself (a member user cancels its own order only while the centre has not
approved it). ``actor`` None is an operator command or a system job: it may do anything.
"""

from __future__ import annotations

from purchasing.auth.roles import STAFF_ROLES, Actor, Role
from purchasing.errors import PermissionDenied

#: The centre's purchasing staff: approve orders, send them, record deliveries and
#: supplier invoices, manage subscriptions.
BUYERS = frozenset({Role.PURCHASING, Role.ADMIN})
#: Who prepares, submits and cancels an order: the member's own users, and the buyers
#: on a member's behalf.
ORDERERS = BUYERS | {Role.MEMBER}
#: Who reads purchase orders and supplier invoices: the centre's staff, never members.
STAFF = STAFF_ROLES


def require_role(actor: Actor | None, allowed: frozenset[Role], doing: str) -> None:
    """Refuse with ``PermissionDenied`` unless the actor's role is in ``allowed``."""
    if actor is not None and actor.role not in allowed:
        raise PermissionDenied(f"a {actor.role.value} user may not {doing}")


def actor_id(actor: Actor | None) -> int | None:
    return actor.id if actor is not None else None
