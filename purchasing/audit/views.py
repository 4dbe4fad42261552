"""Reading the audit trail. There is no route that changes it."""

from __future__ import annotations

from typing import Any

from purchasing.api import Blueprint
from purchasing.audit import services
from purchasing.audit.schemas import AuditPageSchema, AuditQuerySchema
from purchasing.auth.access import allow
from purchasing.auth.roles import Role
from purchasing.db import get_session

api_bp = Blueprint("audit_api", __name__, "/audit-records", description="Audit trail")


@api_bp.route("", methods=["GET"])
@api_bp.arguments(AuditQuerySchema, location="query")
@api_bp.response(200, AuditPageSchema)
@allow(Role.AUDITOR, Role.ADMIN)
def search(query: dict[str, Any]) -> Any:
    """Search the audit trail: who changed what, when, before and after."""
    page, per_page = query.pop("page"), query.pop("per_page")
    filters = services.AuditFilters(**query)
    return services.search_records(get_session(), filters, page=page, per_page=per_page)
