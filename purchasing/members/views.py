"""API of members, their adhesions and the adhesion fee schedule.

Staff see every member; a member user sees only its own collectivity, and another member's
id answers 404. Members and adhesions are managed by the purchasing staff and admins; the
fee schedule, set by a deliberation, by admins only.
"""

from __future__ import annotations

from typing import Any

from purchasing.api import Blueprint as ApiBlueprint
from purchasing.auth.access import allow, allow_any_user, current_actor
from purchasing.auth.roles import STAFF_ROLES, Role
from purchasing.catalog.models import ServiceDomain
from purchasing.db import get_session
from purchasing.errors import NotFound
from purchasing.members import services
from purchasing.members.schemas import (
    AdhesionActivateSchema,
    AdhesionRequestSchema,
    AdhesionSchema,
    AdhesionSuspendSchema,
    AdhesionWithdrawSchema,
    FeeBandQuerySchema,
    FeeBandSchema,
    FeeScheduleInputSchema,
    MemberPageSchema,
    MemberQuerySchema,
    MemberSchema,
    MemberUpdateSchema,
    ServiceDomainJoinSchema,
    ServiceDomainLeaveSchema,
    ServiceDomainSchema,
)

# Members live under /members and the fee schedule under /adhesion-fees: one blueprint
# rooted at /api/v1 serves both, as the application registers one members blueprint.
api_bp = ApiBlueprint(
    "members_api", __name__, "", description="Members, adhesions and adhesion fees"
)

MANAGERS = (Role.PURCHASING, Role.ADMIN)


@api_bp.route("/members", methods=["GET"])
@api_bp.arguments(MemberQuerySchema, location="query")
@api_bp.response(200, MemberPageSchema)
@allow_any_user
def list_members(args: dict[str, Any]) -> Any:
    """Members by name, filtered and paginated; a member user gets only its own."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return services.list_members(
        get_session(),
        actor=current_actor(),
        filters=services.MemberFilters(**args),
        page=page,
        per_page=per_page,
    )


@api_bp.route("/members", methods=["POST"])
@api_bp.arguments(MemberSchema)
@api_bp.response(201, MemberSchema)
@api_bp.alt_response(409, response="CONFLICT")
@allow(*MANAGERS)
def create_member(data: dict[str, Any]) -> Any:
    """Register a member."""
    return services.create_member(get_session(), data, actor=current_actor())


@api_bp.route("/members/<int:member_id>", methods=["GET"])
@api_bp.response(200, MemberSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@allow_any_user
def get_member(member_id: int) -> Any:
    """One member, with its current adhesion."""
    return services.get_member(get_session(), member_id, actor=current_actor())


@api_bp.route("/members/<int:member_id>", methods=["PATCH"])
@api_bp.arguments(MemberUpdateSchema)
@api_bp.response(200, MemberSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*MANAGERS)
def update_member(changes: dict[str, Any], member_id: int) -> Any:
    """Change some fields of a member."""
    return services.update_member(get_session(), member_id, changes, actor=current_actor())


@api_bp.route("/members/<int:member_id>/adhesions", methods=["GET"])
@api_bp.response(200, AdhesionSchema(many=True))
@api_bp.alt_response(404, response="NOT_FOUND")
@allow_any_user
def list_adhesions(member_id: int) -> Any:
    """A member's adhesions, oldest first."""
    return services.list_adhesions(get_session(), member_id, actor=current_actor())


@api_bp.route("/members/<int:member_id>/adhesions", methods=["POST"])
@api_bp.arguments(AdhesionRequestSchema)
@api_bp.response(201, AdhesionSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*MANAGERS)
def request_adhesion(data: dict[str, Any], member_id: int) -> Any:
    """Record a member's request to join; refused while another adhesion is live."""
    return services.request_adhesion(get_session(), member_id, actor=current_actor(), **data)


@api_bp.route("/members/<int:member_id>/adhesion/activate", methods=["POST"])
@api_bp.arguments(AdhesionActivateSchema)
@api_bp.response(200, AdhesionSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*MANAGERS)
def activate_adhesion(data: dict[str, Any], member_id: int) -> Any:
    """Bring the member's requested adhesion into force, or reinstate a suspended one."""
    return services.activate_adhesion(get_session(), member_id, actor=current_actor(), **data)


@api_bp.route("/members/<int:member_id>/adhesion/suspend", methods=["POST"])
@api_bp.arguments(AdhesionSuspendSchema)
@api_bp.response(200, AdhesionSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*MANAGERS)
def suspend_adhesion(data: dict[str, Any], member_id: int) -> Any:
    """Suspend the member's active adhesion: it may not order until reinstated."""
    return services.suspend_adhesion(get_session(), member_id, actor=current_actor(), **data)


@api_bp.route("/members/<int:member_id>/adhesion/withdraw", methods=["POST"])
@api_bp.arguments(AdhesionWithdrawSchema)
@api_bp.response(200, AdhesionSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*MANAGERS)
def withdraw_adhesion(data: dict[str, Any], member_id: int) -> Any:
    """End the member's adhesion, or abandon its request."""
    return services.withdraw_adhesion(get_session(), member_id, actor=current_actor(), **data)


@api_bp.route("/members/<int:member_id>/service-domains", methods=["GET"])
@api_bp.response(200, ServiceDomainSchema(many=True))
@api_bp.alt_response(404, response="NOT_FOUND")
@allow_any_user
def list_service_domains(member_id: int) -> Any:
    """The service domains a member joined, past ones included; a member user sees its own."""
    return services.list_service_domains(get_session(), member_id, actor=current_actor())


@api_bp.route("/members/<int:member_id>/service-domains", methods=["POST"])
@api_bp.arguments(ServiceDomainJoinSchema)
@api_bp.response(201, ServiceDomainSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*MANAGERS)
def join_service_domain(data: dict[str, Any], member_id: int) -> Any:
    """The member joins a service domain, by its council's deliberation, from a date."""
    return services.join_service_domain(get_session(), member_id, actor=current_actor(), **data)


@api_bp.route("/members/<int:member_id>/service-domains/<domain>/leave", methods=["POST"])
@api_bp.arguments(ServiceDomainLeaveSchema)
@api_bp.response(200, ServiceDomainSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*MANAGERS)
def leave_service_domain(data: dict[str, Any], member_id: int, domain: str) -> Any:
    """The member leaves a service domain; the end date is its last day of orders in it."""
    try:
        service_domain = ServiceDomain(domain)
    except ValueError:
        raise NotFound(f"no service domain {domain!r}", field="domain") from None
    return services.leave_service_domain(
        get_session(), member_id, service_domain, actor=current_actor(), **data
    )


@api_bp.route("/adhesion-fees", methods=["GET"])
@api_bp.arguments(FeeBandQuerySchema, location="query")
@api_bp.response(200, FeeBandSchema(many=True))
@allow(*STAFF_ROLES)
def list_fee_bands(args: dict[str, Any]) -> Any:
    """The adhesion fee bands of every schedule, or of the one in force in a year."""
    return services.list_fee_bands(get_session(), year=args.get("year"))


@api_bp.route("/adhesion-fees", methods=["POST"])
@api_bp.arguments(FeeScheduleInputSchema)
@api_bp.response(201, FeeBandSchema(many=True))
@api_bp.alt_response(409, response="CONFLICT")
@allow(Role.ADMIN)
def set_fee_schedule(data: dict[str, Any]) -> Any:
    """Record the fee schedule a deliberation sets from a year onwards."""
    return services.set_fee_schedule(get_session(), actor=current_actor(), **data)
