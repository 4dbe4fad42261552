"""Pages of invoicing: a member's own invoices; finance's invoices, credit notes, payments,
receivables and monthly billing runs.

Each page reads its input with the API's schemas (``purchasing.pages``) and calls one
service; a refusal is shown next to its field, in French, and changes nothing. Invoice
files are served exactly as stored at issue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from purchasing.auth.access import allow, current_actor
from purchasing.auth.roles import Role
from purchasing.billing import services
from purchasing.billing.dispatch import launch_billing_run
from purchasing.billing.models import SERIES, DocumentKind, Invoice, PaymentStatus
from purchasing.billing.periods import parse_month
from purchasing.billing.schemas import (
    PERIOD_PATTERN,
    BillingRunInputSchema,
    CreditNoteInputSchema,
    InvoiceQuerySchema,
    PaymentInputSchema,
    ReceivablesQuerySchema,
)
from purchasing.billing.settings import settings_from_config
from purchasing.db import get_session
from purchasing.errors import DomainError, NotFound
from purchasing.fields import PARIS, Amount, PaginationQuerySchema, today_in_paris
from purchasing.formats import euros, french_date
from purchasing.pages import PageForm, french_message, query_args, refusal_pairs, send_document
from purchasing.unit_of_work import page_of

bp = Blueprint("billing_pages", __name__)

FINANCE = (Role.FINANCE, Role.ADMIN)
#: Who downloads an invoice's files: the member it is addressed to, and finance.
READERS = (Role.MEMBER, *FINANCE)

KIND_LABELS = {DocumentKind.INVOICE: "Facture", DocumentKind.CREDIT_NOTE: "Avoir"}
SERIES_LABELS = {"FA": "FA · factures", "AV": "AV · avoirs"}
PAYMENT_LABELS = {
    PaymentStatus.OPEN: "À payer",
    PaymentStatus.PARTLY_PAID: "Payée en partie",
    PaymentStatus.PAID: "Payée",
}
#: Finance's status filter: drafts, or issued invoices by payment status.
STATUS_LABELS = {"draft": "Brouillon", **PAYMENT_LABELS}
RUN_LABELS = {"running": "En cours", "completed": "Terminée", "failed": "Échouée"}
BUCKET_LABELS = {
    "not_due": "Non échu",
    "1_30": "1 à 30 jours de retard",
    "31_60": "31 à 60 jours",
    "61_90": "61 à 90 jours",
    "over_90": "Plus de 90 jours",
}
LABELS = {
    "kinds": KIND_LABELS,
    "payment_labels": PAYMENT_LABELS,
    "status_labels": STATUS_LABELS,
    "series_labels": SERIES_LABELS,
}


class FinanceForm(PageForm):
    """A page form whose refusals land next to the box they are about, in French.

    ``rename`` maps a service's field name to the box holding it (``lines[0].amount`` is
    the amount box of a line); a refusal about a field the form does not show goes above
    the form. ``shown`` names boxes the form shows besides its schema's fields.
    """

    def __init__(
        self,
        schema: Schema,
        initial: Mapping[str, Any] | None = None,
        *,
        shown: Iterable[str] = (),
    ) -> None:
        super().__init__(schema, initial)
        self.shown = set(schema.load_fields) | set(shown)

    def refuse(self, exc: DomainError, *, rename: Mapping[str, str] | None = None) -> None:
        rename = rename or {}
        pairs = []
        for field, message in refusal_pairs(exc):
            name = rename.get(field, field)
            pairs.append((name if name in self.shown else "_form", message))
        self._add(pairs)


@bp.app_template_filter("paris_time")
def paris_time(value: datetime | None) -> str:
    """A stored UTC timestamp as read in Paris: "23/11/2026 à 10:05"."""
    if value is None:
        return ""
    local = value.astimezone(PARIS)
    return f"{french_date(local)} à {local:%H:%M}"


@bp.errorhandler(NotFound)
def _not_found(_exc: NotFound) -> Any:
    # Another member's invoice answers the same as no invoice at all.
    return render_template("error.html", status=404, title="Page introuvable", message=None), 404


@bp.errorhandler(services.StoredDocumentAltered)
def _altered(exc: services.StoredDocumentAltered) -> Any:
    current_app.logger.error("refused to serve an altered document: %s", exc)
    message = (
        "Le fichier enregistré de ce document ne correspond plus à celui émis : il n'est "
        "pas servi. Signalez-le au service finances."
    )
    return render_template("error.html", status=500, title="Document altéré", message=message), 500


# --- Lists ------------------------------------------------------------------------------


class InvoicePageQuerySchema(InvoiceQuerySchema):
    """The API's invoice filters, and the pages' own: the month served, the number series,
    and finance's status (drafts, or a payment status)."""

    period = fields.String(
        validate=validate.Regexp(PERIOD_PATTERN, error="a month written YYYY-MM")
    )
    series = fields.String(validate=validate.OneOf(sorted(SERIES.values())))
    status = fields.String(validate=validate.OneOf(list(STATUS_LABELS)))


def _search(args: dict[str, Any], *, staff: bool) -> services.InvoiceSearch:
    status = args.get("status") if staff else None
    payment_status = args.get("payment_status")
    if status in PAYMENT_LABELS:
        payment_status = PaymentStatus(status)
    return services.InvoiceSearch(
        member_id=args.get("member_id") if staff else None,
        kind=args.get("kind"),
        series=args.get("series") if staff else None,
        payment_status=payment_status,
        served_in=parse_month(args["period"]) if args.get("period") else None,
        drafts=status == "draft",
    )


def _invoice_list(template: str, *, staff: bool, **context: Any) -> str:
    args, errors = query_args(InvoicePageQuerySchema())
    page, per_page = args.pop("page"), args.pop("per_page")
    found = services.search_invoices(
        get_session(),
        actor=current_actor(),
        search=_search(args, staff=staff),
        page=page,
        per_page=per_page,
    )
    return render_template(template, page=found, filter_errors=errors, **LABELS, **context)


@bp.get("/my-invoices")
@allow(Role.MEMBER)
def my_invoices() -> str:
    """The member's invoices and credit notes, filtered and paginated."""
    return _invoice_list("billing/my_invoices.html", staff=False)


@bp.get("/invoices")
@allow(*FINANCE)
def invoices() -> str:
    """Every member's invoices, credit notes and drafts, filtered and paginated."""
    members = services.invoiced_members(get_session())
    return _invoice_list("billing/invoices.html", staff=True, members=members)


# --- One invoice ------------------------------------------------------------------------


class IssueFormSchema(Schema):
    issue_date = fields.Date(load_default=None)


def _render_invoice(invoice_id: int, *, staff: bool, issue_form: FinanceForm | None = None) -> Any:
    detail = services.invoice_detail(get_session(), invoice_id, actor=current_actor())
    if staff and issue_form is None:
        issue_form = FinanceForm(IssueFormSchema(), initial={"issue_date": today_in_paris()})
    status = issue_form.status if issue_form is not None else 200
    return render_template(
        "billing/invoice.html",
        detail=detail,
        invoice=detail.invoice,
        staff=staff,
        issue_form=issue_form,
        **LABELS,
    ), status


@bp.get("/my-invoices/<int:invoice_id>")
@allow(Role.MEMBER)
def my_invoice(invoice_id: int) -> Any:
    """One of the member's invoices: lines, VAT, aid, payments, files."""
    return _render_invoice(invoice_id, staff=False)


@bp.get("/invoices/<int:invoice_id>")
@allow(*FINANCE)
def invoice(invoice_id: int) -> Any:
    """An invoice, credit note or draft, with what finance may do with it."""
    return _render_invoice(invoice_id, staff=True)


@bp.post("/invoices/<int:invoice_id>/issue")
@allow(*FINANCE)
def issue_invoice(invoice_id: int) -> Any:
    """Issue a draft: its number, figures and PDF, at the date chosen."""
    form = FinanceForm(IssueFormSchema())
    if (data := form.load()) is not None:
        try:
            issued = services.issue_invoice(
                get_session(),
                invoice_id,
                settings=settings_from_config(current_app.config),
                issued_by=current_actor(),
                issue_date=data["issue_date"],
            )
        except DomainError as exc:
            form.refuse(exc)
        else:
            flash(f"Facture {issued.number} émise.")
            return redirect(url_for(".invoice", invoice_id=issued.id))
    return _render_invoice(invoice_id, staff=True, issue_form=form)


@bp.get("/invoices/<int:invoice_id>/pdf")
@allow(*READERS)
def invoice_pdf(invoice_id: int) -> Any:
    """The PDF/A-3 of an invoice, with its Factur-X XML inside, exactly as issued."""
    invoice = services.stored_document(get_session(), invoice_id, actor=current_actor())
    return send_document(invoice.document.pdf, f"{invoice.number}.pdf")


@bp.get("/invoices/<int:invoice_id>/xml")
@allow(*READERS)
def invoice_xml(invoice_id: int) -> Any:
    """The Factur-X XML of an invoice, as embedded in its PDF."""
    invoice = services.stored_document(get_session(), invoice_id, actor=current_actor())
    return send_document(invoice.document.xml, f"{invoice.number}.xml", mimetype="application/xml")


# --- Credit notes and payments ----------------------------------------------------------


class CreditNoteFormSchema(CreditNoteInputSchema):
    """The credit note form: the API's reason, and the whole invoice or chosen lines.

    Each line has a box ``line_<id>`` (credit it) and ``amount_<id>`` (how much excl. VAT;
    empty: all that is left of it), added per invoice by :func:`credit_note_schema`.
    """

    class Meta:
        exclude = ("lines",)

    scope = fields.String(load_default="whole", validate=validate.OneOf(["whole", "lines"]))

    @validates_schema(skip_on_field_errors=False)
    def _lines_chosen(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("scope") != "lines":
            return
        ids = [name.removeprefix("line_") for name in self.load_fields if name.startswith("line_")]
        errors = {
            f"amount_{line_id}": ["Cochez la ligne pour créditer ce montant."]
            for line_id in ids
            if data.get(f"amount_{line_id}") is not None and not data.get(f"line_{line_id}")
        }
        if not any(data.get(f"line_{line_id}") for line_id in ids):
            errors["lines"] = ["Cochez au moins une ligne à créditer."]
        if errors:
            raise ValidationError(errors)


def credit_note_schema(invoice: Invoice) -> Schema:
    boxes: dict[str, fields.Field] = {}
    for line in invoice.lines:
        boxes[f"line_{line.id}"] = fields.Boolean(load_default=False)
        boxes[f"amount_{line.id}"] = Amount(load_default=None, allow_none=True)
    return CreditNoteFormSchema.from_dict(boxes, name="CreditNoteForm")()


def _credit_requests(
    invoice: Invoice, data: Mapping[str, Any]
) -> list[services.CreditRequest] | None:
    """The lines to credit, or None for the whole invoice."""
    if data["scope"] == "whole":
        return None
    return [
        services.CreditRequest(line.id, data[f"amount_{line.id}"])
        for line in invoice.lines
        if data[f"line_{line.id}"]
    ]


def _credit_boxes(requests: Sequence[services.CreditRequest] | None) -> dict[str, str]:
    """The service names a requested line ``lines[i]``; the form, by the line's id."""
    renames = {}
    for index, request in enumerate(requests or ()):
        renames[f"lines[{index}].amount"] = f"amount_{request.invoice_line_id}"
        renames[f"lines[{index}].invoice_line_id"] = f"line_{request.invoice_line_id}"
    return renames


@bp.route("/invoices/<int:invoice_id>/credit-notes/new", methods=["GET", "POST"])
@allow(*FINANCE)
def new_credit_note(invoice_id: int) -> Any:
    """Correct an issued invoice by a credit note, whole or for some lines."""
    session = get_session()
    creditable = services.creditable(session, invoice_id, actor=current_actor())
    invoice = creditable.invoice
    form = FinanceForm(credit_note_schema(invoice), initial={"scope": "whole"}, shown={"lines"})
    if form.submitted and (data := form.load()) is not None:
        requests = _credit_requests(invoice, data)
        try:
            note = services.create_credit_note(
                session,
                invoice.id,
                reason=data["reason"],
                lines=requests,
                settings=settings_from_config(current_app.config),
                issued_by=current_actor(),
            )
        except DomainError as exc:
            form.refuse(exc, rename=_credit_boxes(requests))
        else:
            flash(f"Avoir {note.number} émis sur la facture {invoice.number}.")
            return redirect(url_for(".invoice", invoice_id=note.id))
    return render_template(
        "billing/credit_note_form.html",
        invoice=invoice,
        left=creditable.left,
        form=form,
        **LABELS,
    ), form.status


@bp.route("/invoices/<int:invoice_id>/payments/new", methods=["GET", "POST"])
@allow(*FINANCE)
def new_payment(invoice_id: int) -> Any:
    """Record money received on an invoice."""
    session = get_session()
    invoice = services.get_invoice(session, invoice_id, actor=current_actor())
    form = FinanceForm(PaymentInputSchema(), initial={"paid_on": today_in_paris()})
    if form.submitted and (data := form.load()) is not None:
        try:
            services.record_payment(session, invoice.id, **data, recorded_by=current_actor())
        except DomainError as exc:
            form.refuse(exc)
        else:
            flash(f"Paiement de {euros(data['amount'])} enregistré sur {invoice.number}.")
            return redirect(url_for(".invoice", invoice_id=invoice.id))
    return render_template(
        "billing/payment_form.html", invoice=invoice, form=form, **LABELS
    ), form.status


# --- Receivables ------------------------------------------------------------------------


class ReceivablesPageQuerySchema(ReceivablesQuerySchema, PaginationQuerySchema):
    """The API's receivables filters, and the page of the list shown."""


@bp.get("/receivables")
@allow(*FINANCE)
def receivables() -> str:
    """What members owe on a day, by how late it is; the totals are over every item."""
    args, errors = query_args(ReceivablesPageQuerySchema())
    session = get_session()
    report = services.receivables(
        session,
        as_of=args.get("as_of") or today_in_paris(),
        member_id=args.get("member_id"),
        actor=current_actor(),
    )
    return render_template(
        "billing/receivables.html",
        report=report,
        page=page_of(report.items, page=args["page"], per_page=args["per_page"]),
        members=services.invoiced_members(session),
        buckets=BUCKET_LABELS,
        filter_errors=errors,
    )


# --- Billing runs -----------------------------------------------------------------------


class BillingRunFormSchema(BillingRunInputSchema):
    """The API's billing run, and the issue date of its invoices (default today), as the
    ``centrale billing run --issue-date`` option gives it."""

    issue_date = fields.Date(load_default=None)


@bp.route("/billing-runs", methods=["GET", "POST"])
@allow(*FINANCE)
def billing_runs() -> Any:
    """The monthly billing runs, and the form that starts the run of a month."""
    session = get_session()
    form = FinanceForm(BillingRunFormSchema(), initial={"period": f"{today_in_paris():%Y-%m}"})
    if form.submitted and (data := form.load()) is not None:
        try:
            # Returns once the run is recorded; it works in the background (a thread, or a
            # Celery worker) and its page follows it.
            run_id = launch_billing_run(
                current_app._get_current_object(),  # type: ignore[attr-defined]
                data["period"],
                started_by=current_actor(),
                issue_date=data["issue_date"],
            )
        except DomainError as exc:
            form.refuse(exc)
        else:
            return redirect(url_for(".billing_run", run_id=run_id))
    args, errors = query_args(PaginationQuerySchema())
    runs = services.list_billing_runs(session, page=args["page"], per_page=args["per_page"])
    return render_template(
        "billing/runs.html", page=runs, form=form, run_labels=RUN_LABELS, filter_errors=errors
    ), form.status


@bp.get("/billing-runs/<int:run_id>")
@allow(*FINANCE)
def billing_run(run_id: int) -> str:
    """A billing run: its progress while it runs, then the invoices it issued."""
    session = get_session()
    args, _errors = query_args(PaginationQuerySchema())
    billing = services.get_billing_run(session, run_id)
    issued = services.search_invoices(
        session,
        actor=current_actor(),
        search=services.InvoiceSearch(billing_run_id=billing.id),
        page=args["page"],
        per_page=args["per_page"],
    )
    return render_template(
        "billing/run.html",
        run=billing,
        error=_run_error(billing.error),
        page=issued,
        run_labels=RUN_LABELS,
        **LABELS,
    )


def _run_error(error: str | None) -> str | None:
    """Why a run stopped, as recorded ("IssueDateOutOfOrder: FA documents of..."): in
    French when it is a refusal finance knows, else as recorded."""
    if error is None:
        return None
    _name, colon, message = error.partition(": ")
    return french_message(message if colon else error)
