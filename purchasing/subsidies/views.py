"""API of subsidy programmes: their settings, grant receipts, reversals to partners and
statements.

Programmes are finance business: finance and admins manage them, auditors read them,
member users are refused. The aid itself reaches members on their invoices.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app

from purchasing.api import Blueprint as ApiBlueprint
from purchasing.auth.access import allow, current_actor
from purchasing.auth.roles import Role
from purchasing.db import get_session
from purchasing.subsidies import services
from purchasing.subsidies.schemas import (
    ProgrammeInputSchema,
    ProgrammeSchema,
    ProgrammeUpdateSchema,
    ReceiptInputSchema,
    ReceiptSchema,
    ReversalInputSchema,
    ReversalSchema,
    StatementQuerySchema,
    StatementSchema,
)

api_bp = ApiBlueprint(
    "subsidies_api",
    __name__,
    "/subsidy-programmes",
    description="FEDER subsidy programmes: envelopes, grant receipts, reversals to partners",
)

MANAGERS = (Role.FINANCE, Role.ADMIN)
READERS = (Role.FINANCE, Role.AUDITOR, Role.ADMIN)


@api_bp.route("", methods=["GET"])
@api_bp.response(200, ProgrammeSchema(many=True))
@allow(*READERS)
def list_programmes() -> Any:
    """Every subsidy programme, the most recent period first."""
    return services.list_programmes(get_session())


@api_bp.route("", methods=["POST"])
@api_bp.arguments(ProgrammeInputSchema)
@api_bp.response(201, ProgrammeSchema)
@api_bp.alt_response(409, response="CONFLICT")
@allow(*MANAGERS)
def create_programme(data: dict[str, Any]) -> Any:
    """Define a programme: grant, envelope, partners, eligible products and members, aid rule."""
    return services.create_programme(get_session(), data, actor=current_actor())


@api_bp.route("/<int:programme_id>", methods=["GET"])
@api_bp.response(200, ProgrammeSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@allow(*READERS)
def get_programme(programme_id: int) -> Any:
    """One programme, with what its envelope has left."""
    return services.get_programme(get_session(), programme_id)


@api_bp.route("/<int:programme_id>", methods=["PATCH"])
@api_bp.arguments(ProgrammeUpdateSchema)
@api_bp.response(200, ProgrammeSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*MANAGERS)
def update_programme(changes: dict[str, Any], programme_id: int) -> Any:
    """Change some settings; the money ones only until money moved on the programme."""
    return services.update_programme(get_session(), programme_id, changes, actor=current_actor())


@api_bp.route("/<int:programme_id>/receipts", methods=["POST"])
@api_bp.arguments(ReceiptInputSchema)
@api_bp.response(201, ReceiptSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*MANAGERS)
def record_receipt(data: dict[str, Any], programme_id: int) -> Any:
    """Record a tranche of the grant paid by the funder (never beyond the grant)."""
    return services.record_receipt(get_session(), programme_id, **data, recorded_by=current_actor())


@api_bp.route("/<int:programme_id>/reversals", methods=["POST"])
@api_bp.arguments(ReversalInputSchema)
@api_bp.response(201, ReversalSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*MANAGERS)
def record_reversal(data: dict[str, Any], programme_id: int) -> Any:
    """Record grant money passed on to a partner (never beyond its share, nor what was received)."""
    return services.record_reversal(
        get_session(), programme_id, **data, recorded_by=current_actor()
    )


@api_bp.route("/<int:programme_id>/statement", methods=["GET"])
@api_bp.arguments(StatementQuerySchema, location="query")
@api_bp.response(200, StatementSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@allow(*READERS)
def get_statement(query: dict[str, Any], programme_id: int) -> Any:
    """Envelope, consumed, remaining, received and reversed, per member and per partner."""
    return services.programme_statement(get_session(), programme_id, as_of=query["as_of"])


@api_bp.route("/<int:programme_id>/statement.pdf", methods=["GET"])
@api_bp.arguments(StatementQuerySchema, location="query")
@api_bp.response(200, content_type="application/pdf", description="The statement, in French")
@api_bp.alt_response(404, response="NOT_FOUND")
@allow(*READERS)
def get_statement_pdf(query: dict[str, Any], programme_id: int) -> Any:
    """The programme statement as a PDF, in French."""
    statement = services.programme_statement(get_session(), programme_id, as_of=query["as_of"])
    pdf = services.render_statement_pdf(statement, seller=current_app.config["SELLER"])
    filename = f"etat-{statement.code}-{statement.as_of.isoformat()}.pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )
