"""Pages of the books for auditors and finance: fiscal years, exports, trial balance,
journal entries, the yearly activity report and the margin per family.

Each page reads its input with the API's schemas (``purchasing.pages``) and calls the same
service or export function as the API route it mirrors; downloads stream from
``purchasing.ledger.exports`` exactly as the API serves them, under the login session.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from marshmallow import Schema, ValidationError, fields
from marshmallow.validate import OneOf

from purchasing.auth.access import allow, current_actor
from purchasing.catalog import services as catalog_services
from purchasing.db import get_session
from purchasing.errors import Conflict, ValidationFailed
from purchasing.fields import PARIS
from purchasing.formats import euros, number
from purchasing.ledger import exports, reports, services
from purchasing.ledger import pdf as pdf_documents
from purchasing.ledger.models import FiscalYearStatus, JournalCode
from purchasing.ledger.schemas import (
    YEAR,
    ExportQuerySchema,
    JournalEntryQuerySchema,
    ScopeQuerySchema,
    scope_of,
)
from purchasing.ledger.settings import LedgerSettings, settings_from_config
from purchasing.ledger.views import KEEPERS, READERS
from purchasing.messages_fr import french_refusal
from purchasing.money import ZERO, round_rate
from purchasing.pages import PageForm, form_values, not_found_unless, query_args, send_document

bp = Blueprint("ledger_pages", __name__)

FISCAL_YEAR_LABELS = {FiscalYearStatus.OPEN: "Ouvert", FiscalYearStatus.CLOSED: "Clôturé"}

#: What the export form offers: the three reports of ``exports.REPORTS``, and the FEC.
FEC = "fec"
DOCUMENT_LABELS = {
    "journal": "Journal général",
    "general-ledger": "Grand livre",
    "trial-balance": "Balance générale",
    FEC: "FEC (fichier des écritures comptables)",
}
FORMAT_LABELS = {"csv": "CSV (tableur)", "xlsx": "XLSX (Excel)", "pdf": "PDF"}


class ExportFormSchema(ExportQuerySchema):
    """The API's export arguments, and which document to export."""

    document = fields.String(required=True, validate=OneOf(tuple(DOCUMENT_LABELS)))


class ActivityQuerySchema(Schema):
    year = fields.Integer(validate=YEAR)


def _settings() -> LedgerSettings:
    return settings_from_config(current_app.config)


def _organisation() -> str:
    return str(current_app.config["SELLER"]["name"])


# --- Fiscal years and exports -----------------------------------------------------------


@bp.get("/ledger", endpoint="exports")
@allow(*READERS)
def exports_page() -> Any:
    """Fiscal years, and the form that exports the books."""
    years = services.list_fiscal_years(get_session())
    schema = ExportFormSchema()
    # Another page may link here with its document and scope chosen.
    chosen = form_values(schema, request.args)
    initial = {"document": "journal", "format": "csv", "fiscal_year": _default_year(years)}
    if "date_from" in chosen or "date_to" in chosen:
        del initial["fiscal_year"]
    return _render_exports(PageForm(schema, initial=initial | chosen), years)


@bp.post("/ledger/exports")
@allow(*READERS)
def download() -> Any:
    """Download a book (journal, general ledger, trial balance) or the FEC, as chosen."""
    form = PageForm(ExportFormSchema())
    data = _load(form, form_values(form.schema, request.form))
    if data is not None:
        try:
            return _export(data)
        except ValidationFailed as exc:  # a PDF too long, refused before anything is sent
            form.refuse(exc)
    return _render_exports(form, services.list_fiscal_years(get_session()))


def _export(data: dict[str, Any]) -> Response:
    scope, session = scope_of(data), get_session()
    if data["document"] == FEC:
        settings = _settings()
        return _stream(
            exports.fec_chunks(session, scope, settings),
            "text/plain; charset=iso-8859-15",
            exports.fec_filename(settings, scope),
        )
    report = exports.REPORTS[data["document"]](session, scope)
    chunks = exports.report_chunks(report, data["format"], organisation=_organisation())
    return _stream(
        chunks,
        exports.MEDIA_TYPES[data["format"]],
        exports.report_filename(report, data["format"]),
    )


def _stream(chunks: Iterator[bytes], mimetype: str, filename: str) -> Response:
    """A download sent while it is being read from the books, never cached by a proxy."""
    return Response(
        stream_with_context(chunks),
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


def _render_exports(form: PageForm, years: list[services.FiscalYearSummary]) -> Any:
    actor = current_actor()
    return render_template(
        "ledger/exports.html",
        form=form,
        years=years,
        year_options=[(y.year, str(y.year)) for y in years],
        documents=DOCUMENT_LABELS,
        formats=FORMAT_LABELS,
        statuses={status.value: label for status, label in FISCAL_YEAR_LABELS.items()},
        may_close=actor is not None and actor.role in KEEPERS,
    ), form.status


@bp.post("/ledger/fiscal-years/<int:year>/close")
@allow(*KEEPERS)
def close_fiscal_year(year: int) -> Any:
    """Close a fiscal year for good (an unknown year answers 404)."""
    try:
        services.close_fiscal_year(get_session(), year, actor=current_actor(), settings=_settings())
    except Conflict as exc:
        why = french_refusal(exc)
        flash(f"L'exercice {year} n'est pas clôturé : {why[:1].lower()}{why[1:]}", "error")
    else:
        flash(f"Exercice {year} clôturé : il ne reçoit plus aucune écriture.")
    return redirect(url_for("ledger_pages.exports"))


# --- Reading the books ------------------------------------------------------------------


@bp.get("/ledger/trial-balance")
@allow(*READERS)
def trial_balance() -> Any:
    """Each account's debits, credits and balance over a fiscal year or a date range."""
    years = services.list_fiscal_years(get_session())
    form, scope = _scope_form(years)
    lines = exports.trial_balance_lines(get_session(), scope) if scope is not None else []
    return render_template(
        "ledger/trial_balance.html",
        form=form,
        scope=scope,
        year_options=[(y.year, str(y.year)) for y in years],
        lines=lines,
        scope_args=_scope_args(scope),
        total_debit=sum((line.debit for line in lines), ZERO),
        total_credit=sum((line.credit for line in lines), ZERO),
        total_debit_balance=sum((line.debit_balance for line in lines), ZERO),
        total_credit_balance=sum((line.credit_balance for line in lines), ZERO),
    ), form.status


@bp.get("/ledger/entries")
@allow(*READERS)
def entries() -> Any:
    """Journal entries in the order they were posted, filtered and paginated."""
    args, errors = query_args(JournalEntryQuerySchema())
    page, per_page = args.pop("page"), args.pop("per_page")
    session = get_session()
    found = services.list_entries(
        session, services.EntryFilters(**args), page=page, per_page=per_page
    )
    return render_template(
        "ledger/entries.html",
        page=found,
        filter_errors=errors,
        year_options=[(y.year, str(y.year)) for y in services.list_fiscal_years(session)],
        journals=_journal_labels(),
    )


@bp.get("/ledger/entries/<int:entry_id>")
@allow(*READERS)
def entry(entry_id: int) -> Any:
    """One journal entry and its lines (an unknown entry answers 404)."""
    session = get_session()
    found = services.get_entry(session, entry_id)
    return render_template(
        "ledger/entry.html",
        entry=found,
        journals=_journal_labels(),
        accounts={a.number: a.label for a in catalog_services.list_accounts(session)},
    )


def _journal_labels() -> dict[str, str]:
    settings = _settings()
    return {code.value: f"{code.value} · {settings.journal_label(code)}" for code in JournalCode}


# --- Reports ----------------------------------------------------------------------------


@bp.get("/ledger/activity")
@allow(*READERS)
def activity() -> Any:
    """The figures of the yearly activity report, with purchases and sales per family."""
    session = get_session()
    years = services.list_fiscal_years(session)
    args, errors = query_args(ActivityQuerySchema())
    year = args.get("year") or _default_year(years)
    report = reports.activity_report(session, year, _settings())
    return render_template(
        "ledger/activity.html",
        report=report,
        year=year,
        year_choices=sorted({y.year for y in years} | {year, _this_year()}, reverse=True),
        filter_errors=errors,
        chart=purchases_and_sales_chart(report.margins, year=year),
        total_rate=_total_margin_rate(report.margins),
    )


@bp.get("/ledger/activity/<int:year>/pdf")
@allow(*READERS)
def activity_pdf(year: int) -> Any:
    """The yearly activity report as a PDF, with its bar chart."""
    not_found_unless(2000 <= year <= 2100)
    report = reports.activity_report(get_session(), year, _settings())
    pdf = pdf_documents.activity_report_pdf(report, organisation=_organisation())
    return send_document(pdf, f"rapport-activite-{year}.pdf")


@bp.get("/ledger/margins")
@allow(*READERS)
def margins() -> Any:
    """Purchases, sales, margin and margin rate of each family, from the books."""
    years = services.list_fiscal_years(get_session())
    form, scope = _scope_form(years)
    report = reports.margin_report(get_session(), scope, _settings()) if scope else None
    return render_template(
        "ledger/margins.html",
        form=form,
        report=report,
        total_rate=_total_margin_rate(report),
        year_options=[(y.year, str(y.year)) for y in years],
    ), form.status


def _total_margin_rate(margins: reports.MarginReport | None) -> Decimal | None:
    """The margin of all families over their purchases, as each family's rate is defined."""
    if margins is None or not margins.purchases:
        return None
    return round_rate(margins.margin / margins.purchases)


# --- Reading a scope (a fiscal year, or a date range) -----------------------------------


def _this_year() -> int:
    return datetime.now(PARIS).year


def _default_year(years: list[services.FiscalYearSummary]) -> int:
    """The latest fiscal year of the books; this year while there is none."""
    return years[0].year if years else _this_year()


def _scope_form(
    years: list[services.FiscalYearSummary],
) -> tuple[PageForm, exports.ExportScope | None]:
    """The scope a page's query string asks for (the latest year when it asks none).

    A bad scope is shown next to its box, and nothing is computed for it.
    """
    schema = ScopeQuerySchema()
    values = form_values(schema, request.args) or {"fiscal_year": _default_year(years)}
    form = PageForm(schema, initial=values)
    data = _load(form, values)
    return form, scope_of(data) if data is not None else None


def _scope_args(scope: exports.ExportScope | None) -> dict[str, str]:
    """The query arguments of ``scope``, for links to other pages of the same scope."""
    if scope is None:
        return {}
    if scope.fiscal_year is not None:
        return {"fiscal_year": str(scope.fiscal_year)}
    return {"date_from": scope.date_from.isoformat(), "date_to": scope.date_to.isoformat()}


def _load(form: PageForm, values: Mapping[str, Any]) -> dict[str, Any] | None:
    """``values`` loaded by the form's schema, or None with the messages kept by field."""
    try:
        return form.schema.load(values)
    except ValidationError as exc:
        refused = ValidationFailed("Corrigez les champs signalés.", errors=_by_field(exc.messages))
        form.refuse(refused)
        return None


def _by_field(messages: Any) -> dict[str, list[str]]:
    if not isinstance(messages, Mapping):
        return {"_form": [str(messages)]}
    return {
        "_form" if field == "_schema" else str(field): (
            [str(m) for m in found] if isinstance(found, list) else [str(found)]
        )
        for field, found in messages.items()
    }


# --- The bar chart of the activity page -------------------------------------------------

PURCHASES_COLOUR = "#9aa5b8"
SALES_COLOUR = "#2c5d8f"


@dataclass(frozen=True)
class ChartBar:
    label: str
    colour: str
    y: Decimal
    length: Decimal
    #: The amount in French, written at the end of the bar.
    text: str


@dataclass(frozen=True)
class ChartGroup:
    name: str
    #: Where the family's name is written (its baseline).
    y: Decimal
    bars: tuple[ChartBar, ...]


@dataclass(frozen=True)
class BarChart:
    """A horizontal bar chart laid out in SVG user units (the template only draws it)."""

    title: str
    description: str
    width: int
    height: int
    plot_left: int
    plot_top: int
    plot_bottom: int
    bar_height: int
    groups: tuple[ChartGroup, ...]
    #: (x, label) of each gridline of the amount axis.
    ticks: tuple[tuple[Decimal, str], ...]
    legend: tuple[tuple[str, str], ...]


_WIDTH, _LABELS, _VALUES = 760, 190, 130  # whole width; family names; amounts after bars
_BAR, _BAR_GAP, _GROUP_GAP, _TOP, _BOTTOM = 16, 4, 20, 40, 34
_NICE = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))
_MOST_STEPS = 5


def purchases_and_sales_chart(margins: reports.MarginReport, *, year: int) -> BarChart:
    """Purchases beside sales of each family, on an axis of round amounts from zero.

    A negative total (credit notes beyond sales) is drawn as an empty bar; its amount is
    still written beside it and in the table under the chart.
    """
    families = margins.families
    amounts = [amount for f in families for amount in (f.purchases, f.sales)]
    step, steps = _amount_axis(max([*amounts, ZERO]))
    axis_max = step * steps
    plot_width = Decimal(_WIDTH - _LABELS - _VALUES)
    group_height = 2 * _BAR + _BAR_GAP + _GROUP_GAP
    groups = []
    for index, family in enumerate(families):
        top = Decimal(_TOP + index * group_height)
        bars = tuple(
            ChartBar(
                label=label,
                colour=colour,
                y=top + position * (_BAR + _BAR_GAP),
                length=(max(amount, ZERO) * plot_width / axis_max).quantize(Decimal("0.1")),
                text=euros(amount),
            )
            for position, (label, colour, amount) in enumerate(
                (
                    ("Achats", PURCHASES_COLOUR, family.purchases),
                    ("Ventes", SALES_COLOUR, family.sales),
                )
            )
        )
        groups.append(ChartGroup(family.family_name, top + _BAR + _BAR_GAP // 2 + 4, bars))
    plot_bottom = _TOP + len(families) * group_height - _GROUP_GAP + 6
    ticks = tuple(
        ((Decimal(_LABELS) + plot_width * n / steps).quantize(Decimal("0.1")), number(step * n))
        for n in range(steps + 1)
    )
    return BarChart(
        title=f"Achats et ventes par famille, {year}",
        description=(
            "Barres horizontales : pour chaque famille, les achats revendus puis les ventes, "
            "en euros. Les montants figurent aussi dans le tableau qui suit."
        ),
        width=_WIDTH,
        height=plot_bottom + _BOTTOM,
        plot_left=_LABELS,
        plot_top=_TOP - 6,
        plot_bottom=plot_bottom,
        bar_height=_BAR,
        groups=tuple(groups),
        ticks=ticks,
        legend=(("Achats", PURCHASES_COLOUR), ("Ventes", SALES_COLOUR)),
    )


def _amount_axis(highest: Decimal) -> tuple[Decimal, int]:
    """A round step (1, 2, 2.5 or 5 times a power of ten) and how many, at most 5, reach
    ``highest``: 2 120 172,13 gives 5 steps of 500 000."""
    if highest <= 0:
        return Decimal(1), 1
    rough = highest / _MOST_STEPS
    power = Decimal(10) ** rough.adjusted()
    step = next(power * nice for nice in _NICE if power * nice >= rough)
    return step, int((highest / step).to_integral_value(rounding=ROUND_CEILING))
