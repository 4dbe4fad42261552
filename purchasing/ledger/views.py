"""The ledger API: fiscal years, posting, entries, checks and the auditors' exports.

Finance and admins post and keep the fiscal years; auditors, finance and admins read the
books. Exports are streamed: the response starts while the rows are still being read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response, current_app, stream_with_context

from purchasing.api import Blueprint as ApiBlueprint
from purchasing.auth.access import allow, current_actor
from purchasing.auth.roles import Role
from purchasing.db import get_session
from purchasing.errors import ValidationFailed
from purchasing.ledger import exports, reports, services
from purchasing.ledger import pdf as pdf_documents
from purchasing.ledger.schemas import (
    ActivityReportSchema,
    ExportQuerySchema,
    FiscalYearInputSchema,
    FiscalYearSchema,
    JournalEntryPageSchema,
    JournalEntryQuerySchema,
    JournalEntrySchema,
    LedgerCheckQuerySchema,
    LedgerCheckSchema,
    MarginReportSchema,
    PostingInputSchema,
    PostingResultSchema,
    ScopeQuerySchema,
    TrialBalanceSchema,
    YearEndSchema,
    scope_of,
)
from purchasing.ledger.settings import LedgerSettings, settings_from_config
from purchasing.money import ZERO

api_bp = ApiBlueprint(
    "ledger_api", __name__, "/ledger", description="Annex budget books, fiscal years, exports"
)

KEEPERS = (Role.FINANCE, Role.ADMIN)
READERS = (Role.FINANCE, Role.AUDITOR, Role.ADMIN)


def _settings() -> LedgerSettings:
    return settings_from_config(current_app.config)


# --- Fiscal years and posting -----------------------------------------------------------


@api_bp.route("/fiscal-years", methods=["GET"])
@api_bp.response(200, FiscalYearSchema(many=True))
@allow(*READERS)
def list_fiscal_years() -> Any:
    """Fiscal years, latest first, with their number of entries."""
    return services.list_fiscal_years(get_session())


@api_bp.route("/fiscal-years", methods=["POST"])
@api_bp.arguments(FiscalYearInputSchema)
@api_bp.response(201, FiscalYearSchema)
@api_bp.alt_response(409, response="CONFLICT")
@allow(*KEEPERS)
def open_fiscal_year(data: dict[str, Any]) -> Any:
    """Open a fiscal year ahead of its first posting."""
    services.open_fiscal_year(get_session(), data["year"], actor=current_actor())
    return _summary(data["year"])


@api_bp.route("/fiscal-years/<int:year>/close", methods=["POST"])
@api_bp.response(200, FiscalYearSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*KEEPERS)
def close_fiscal_year(year: int) -> Any:
    """Close a fiscal year for good: its result, and its balances carried into the next.

    Refused until its events are posted and earlier years closed. The result goes to
    120 or 129 (journal CL, 31 December); the balance-sheet balances open the next year
    (journal AN, entry 0 dated 1 January), which is opened if new.
    """
    services.close_fiscal_year(get_session(), year, actor=current_actor(), settings=_settings())
    return _summary(year)


@api_bp.route("/fiscal-years/<int:year>/year-end", methods=["GET"])
@api_bp.response(200, YearEndSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@allow(*READERS)
def year_end(year: int) -> Any:
    """A closed year's result, its result entry and the next year's opening entry."""
    return services.year_end(get_session(), year)


@api_bp.route("/fiscal-years/<int:year>/reopen", methods=["POST"])
@api_bp.response(200, FiscalYearSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(*KEEPERS)
def reopen_fiscal_year(year: int) -> Any:
    """Refused: a closed fiscal year is never reopened (the answer says what to do)."""
    return services.reopen_fiscal_year(get_session(), year, actor=current_actor())


def _summary(year: int) -> services.FiscalYearSummary:
    return next(s for s in services.list_fiscal_years(get_session()) if s.year == year)


@api_bp.route("/postings", methods=["POST"])
@api_bp.arguments(PostingInputSchema)
@api_bp.response(200, PostingResultSchema)
@allow(*KEEPERS)
def post_pending_events(data: dict[str, Any]) -> Any:
    """Post the pending events into the books; those refused stay pending, with why."""
    return services.post_pending_events(
        get_session(), settings=_settings(), posted_by=current_actor(), limit=data["limit"]
    )


# --- Reading the books ------------------------------------------------------------------


@api_bp.route("/entries", methods=["GET"])
@api_bp.arguments(JournalEntryQuerySchema, location="query")
@api_bp.response(200, JournalEntryPageSchema)
@allow(*READERS)
def list_entries(query: dict[str, Any]) -> Any:
    """Journal entries in the order they were posted, with their lines."""
    page, per_page = query.pop("page"), query.pop("per_page")
    return services.list_entries(
        get_session(), services.EntryFilters(**query), page=page, per_page=per_page
    )


@api_bp.route("/entries/<int:entry_id>", methods=["GET"])
@api_bp.response(200, JournalEntrySchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@allow(*READERS)
def get_entry(entry_id: int) -> Any:
    """One journal entry with its lines."""
    return services.get_entry(get_session(), entry_id)


@api_bp.route("/trial-balance", methods=["GET"])
@api_bp.arguments(ScopeQuerySchema, location="query")
@api_bp.response(200, TrialBalanceSchema)
@allow(*READERS)
def trial_balance(query: dict[str, Any]) -> Any:
    """Each account's debits, credits and balance over a fiscal year or a date range."""
    scope = scope_of(query)
    lines = exports.trial_balance_lines(get_session(), scope)
    return {
        "title": scope.title,
        "lines": lines,
        "total_debit": sum((line.debit for line in lines), ZERO),
        "total_credit": sum((line.credit for line in lines), ZERO),
    }


@api_bp.route("/check", methods=["GET"])
@api_bp.arguments(LedgerCheckQuerySchema, location="query")
@api_bp.response(200, LedgerCheckSchema)
@allow(*READERS)
def check(query: dict[str, Any]) -> Any:
    """Check the books: every entry balanced, every year's numbers without a gap."""
    return services.verify_ledger(get_session(), fiscal_year=query.get("fiscal_year"))


# --- Reports ----------------------------------------------------------------------------


@api_bp.route("/margins", methods=["GET"])
@api_bp.arguments(ScopeQuerySchema, location="query")
@api_bp.response(200, MarginReportSchema)
@allow(*READERS)
def margins(query: dict[str, Any]) -> Any:
    """Purchases, sales, margin and margin rate of each family, from the books."""
    return reports.margin_report(get_session(), scope_of(query), _settings())


@api_bp.route("/activity-reports/<int:year>", methods=["GET"])
@api_bp.response(200, ActivityReportSchema)
@allow(*READERS)
def activity_report(year: int) -> Any:
    """The figures of the yearly activity report."""
    return reports.activity_report(get_session(), _year(year), _settings())


@api_bp.route("/activity-reports/<int:year>/pdf", methods=["GET"])
@api_bp.response(200, content_type="application/pdf", description="With its bar chart")
@allow(*READERS)
def activity_report_pdf(year: int) -> Any:
    """The yearly activity report as a PDF, with purchases and sales per family."""
    report = reports.activity_report(get_session(), _year(year), _settings())
    pdf = pdf_documents.activity_report_pdf(
        report, organisation=current_app.config["SELLER"]["name"]
    )
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="rapport-activite-{year}.pdf"'},
    )


def _year(year: int) -> int:
    if not 2000 <= year <= 2100:
        raise ValidationFailed("a year from 2000 to 2100", field="year")
    return year


# --- Exports ----------------------------------------------------------------------------


@api_bp.route("/exports/journal", methods=["GET"])
@api_bp.arguments(ExportQuerySchema, location="query")
@api_bp.response(200, content_type="text/csv", description="CSV, XLSX or PDF, streamed")
@allow(*READERS)
def export_journal(query: dict[str, Any]) -> Any:
    """The general journal: every line, entry by entry."""
    return _report_response(exports.journal(get_session(), scope_of(query)), query["format"])


@api_bp.route("/exports/general-ledger", methods=["GET"])
@api_bp.arguments(ExportQuerySchema, location="query")
@api_bp.response(200, content_type="text/csv", description="CSV, XLSX or PDF, streamed")
@allow(*READERS)
def export_general_ledger(query: dict[str, Any]) -> Any:
    """The general ledger: each account's lines, running balance and total."""
    report = exports.general_ledger(get_session(), scope_of(query))
    return _report_response(report, query["format"])


@api_bp.route("/exports/trial-balance", methods=["GET"])
@api_bp.arguments(ExportQuerySchema, location="query")
@api_bp.response(200, content_type="text/csv", description="CSV, XLSX or PDF")
@allow(*READERS)
def export_trial_balance(query: dict[str, Any]) -> Any:
    """The trial balance: each account's movements and balance, totals per class."""
    report = exports.trial_balance(get_session(), scope_of(query))
    return _report_response(report, query["format"])


@api_bp.route("/exports/fec", methods=["GET"])
@api_bp.arguments(ScopeQuerySchema, location="query")
@api_bp.response(200, content_type="text/plain", description="FEC, ISO 8859-15, streamed")
@allow(*READERS)
def export_fec(query: dict[str, Any]) -> Any:
    """The FEC (fichier des écritures comptables, article A47 A-1 LPF), tab-separated."""
    scope, settings = scope_of(query), _settings()
    chunks = exports.fec_chunks(get_session(), scope, settings)
    return _download(
        chunks, "text/plain; charset=iso-8859-15", exports.fec_filename(settings, scope)
    )


def _report_response(report: exports.Report, file_format: str) -> Response:
    organisation = current_app.config["SELLER"]["name"]
    chunks = exports.report_chunks(report, file_format, organisation=organisation)
    return _download(
        chunks, exports.MEDIA_TYPES[file_format], exports.report_filename(report, file_format)
    )


def _download(chunks: Iterator[bytes], mimetype: str, filename: str) -> Response:
    return Response(
        stream_with_context(chunks),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
