"""The billing API: invoices and credit notes, their stored PDF and XML, payments,
receivables and billing runs."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app

from purchasing.api import Blueprint as ApiBlueprint
from purchasing.auth.access import allow, allow_any_user, current_actor
from purchasing.auth.roles import Role
from purchasing.billing import run, services
from purchasing.billing.schemas import (
    BillingRunInputSchema,
    BillingRunResultSchema,
    CreditNoteInputSchema,
    InvoicePageSchema,
    InvoiceQuerySchema,
    InvoiceSchema,
    PaymentInputSchema,
    ReceivablesQuerySchema,
    ReceivablesReportSchema,
)
from purchasing.billing.settings import settings_from_config
from purchasing.db import get_session
from purchasing.fields import today_in_paris

api_bp = ApiBlueprint("billing_api", __name__, "", description="Invoices, payments, billing runs")

FINANCE = (Role.FINANCE, Role.ADMIN)
READERS = (Role.FINANCE, Role.AUDITOR, Role.ADMIN)
#: A stored file, documented as what it is: bytes.
FILE = {"type": "string", "format": "binary"}


@api_bp.route("/invoices", methods=["GET"])
@api_bp.arguments(InvoiceQuerySchema, location="query")
@api_bp.response(200, InvoicePageSchema)
@allow_any_user
def list_invoices(query: dict[str, Any]) -> Any:
    """Issued invoices and credit notes, newest first; a member user sees its own."""
    page, per_page = query.pop("page"), query.pop("per_page")
    return services.list_invoices(
        get_session(),
        actor=current_actor(),
        filters=services.InvoiceFilters(**query),
        page=page,
        per_page=per_page,
    )


@api_bp.route("/invoices/<int:invoice_id>", methods=["GET"])
@api_bp.response(200, InvoiceSchema)
@allow_any_user
def get_invoice(invoice_id: int) -> Any:
    """One invoice or credit note with its lines, VAT and payments."""
    return services.get_invoice(get_session(), invoice_id, actor=current_actor())


@api_bp.route("/invoices/<int:invoice_id>/pdf", methods=["GET"])
@api_bp.response(
    200,
    FILE,
    content_type="application/pdf",
    description="As issued, never re-rendered",
    headers={
        "X-Content-SHA256": {
            "description": "SHA-256 of the PDF, recorded when it was issued",
            "schema": {"type": "string"},
        }
    },
)
@allow_any_user
def get_invoice_pdf(invoice_id: int) -> Any:
    """The PDF/A-3 of the invoice, with its Factur-X XML inside, exactly as issued."""
    invoice = services.stored_document(get_session(), invoice_id, actor=current_actor())
    return Response(
        invoice.document.pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{invoice.number}.pdf"',
            "X-Content-SHA256": invoice.document.pdf_sha256,
        },
    )


@api_bp.route("/invoices/<int:invoice_id>/xml", methods=["GET"])
@api_bp.response(
    200,
    FILE,
    content_type="application/xml",
    description="Factur-X EN 16931, as issued",
    headers={
        "X-Content-SHA256": {
            "description": "SHA-256 of the XML, recorded when it was issued",
            "schema": {"type": "string"},
        }
    },
)
@allow_any_user
def get_invoice_xml(invoice_id: int) -> Any:
    """The Factur-X (EN 16931) XML of the invoice, as embedded in its PDF."""
    invoice = services.stored_document(get_session(), invoice_id, actor=current_actor())
    return Response(
        invoice.document.xml,
        mimetype="application/xml",
        headers={
            "Content-Disposition": f'attachment; filename="{invoice.number}.xml"',
            "X-Content-SHA256": invoice.document.xml_sha256,
        },
    )


@api_bp.route("/invoices/<int:invoice_id>/credit-notes", methods=["POST"])
@api_bp.arguments(CreditNoteInputSchema)
@api_bp.response(201, InvoiceSchema)
@allow(*FINANCE)
def create_credit_note(data: dict[str, Any], invoice_id: int) -> Any:
    """Issue a credit note on an invoice, whole or for some lines."""
    requests = [services.CreditRequest(**line) for line in data.get("lines") or []]
    return services.create_credit_note(
        get_session(),
        invoice_id,
        reason=data["reason"],
        lines=requests or None,
        settings=settings_from_config(current_app.config),
        issued_by=current_actor(),
    )


@api_bp.route("/invoices/<int:invoice_id>/payments", methods=["POST"])
@api_bp.arguments(PaymentInputSchema)
@api_bp.response(201, InvoiceSchema)
@allow(*FINANCE)
def record_payment(data: dict[str, Any], invoice_id: int) -> Any:
    """Record a payment received on an invoice (partial payments add up)."""
    payment = services.record_payment(
        get_session(), invoice_id, **data, recorded_by=current_actor()
    )
    return payment.invoice


@api_bp.route("/receivables", methods=["GET"])
@api_bp.arguments(ReceivablesQuerySchema, location="query")
@api_bp.response(200, ReceivablesReportSchema)
@allow(*READERS)
def receivables(query: dict[str, Any]) -> Any:
    """Invoices not fully paid, with how late each is, by ageing bucket."""
    return services.receivables(
        get_session(),
        as_of=query.get("as_of") or today_in_paris(),
        member_id=query.get("member_id"),
        actor=current_actor(),
    )


@api_bp.route("/billing-runs", methods=["POST"])
@api_bp.arguments(BillingRunInputSchema)
@api_bp.response(200, BillingRunResultSchema)
@allow(*FINANCE)
def run_billing(data: dict[str, Any]) -> Any:
    """Run (or complete) the billing of a month: one invoice per member and period."""
    return run.run_billing(
        get_session(),
        data["period"],
        settings=settings_from_config(current_app.config),
        started_by=current_actor(),
    )
