"""``centrale ledger``: post pending events, keep fiscal years, check and export the books.

centrale ledger post                        # post every pending event, with progress
centrale ledger post --follow               # post events as they come, until interrupted
centrale ledger years | open 2027 | close 2026   # close: result, and à-nouveaux of 2027
centrale ledger letter                      # letter what older postings settled
centrale ledger check [2026]
centrale ledger export fec 2026 --output 255900128FEC20261231.txt
centrale ledger export journal --from 2026-01-01 --to 2026-03-31 --format xlsx
"""

from __future__ import annotations

import signal
import sys
import threading
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from purchasing.cli_support import reports_domain_errors
from purchasing.db import get_session
from purchasing.errors import ValidationFailed
from purchasing.ledger import exports, reports, services
from purchasing.ledger.pdf import activity_report_pdf
from purchasing.ledger.schemas import FORMATS
from purchasing.ledger.settings import settings_from_config

_DATE = click.DateTime(["%Y-%m-%d"])


@click.group("ledger")
def ledger() -> None:
    """The annex budget's books (M4): posting, fiscal years, exports."""


@ledger.command("post")
@click.option("--limit", type=click.IntRange(min=1), help="at most this many events")
@click.option(
    "--follow",
    is_flag=True,
    help="keep posting events as they are published (during a billing run, say), until "
    "interrupted (Ctrl-C or SIGTERM): what was published by then is posted before it exits",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05, max=3600),
    default=0.5,
    show_default=True,
    help="with --follow, seconds between looks at an empty outbox",
)
@with_appcontext
@reports_domain_errors
def post(limit: int | None, follow: bool, interval: float) -> None:
    """Post the pending events into the books; safe to run again.

    Events that cannot be posted (closed fiscal year, account missing from the chart...)
    stay pending and are listed; the command then exits with status 1.
    """
    settings = settings_from_config(current_app.config)
    if follow:
        if limit is not None:
            raise click.BadOptionUsage("limit", "--limit cannot be used with --follow")
        stop = threading.Event()
        previous = {
            signum: signal.signal(signum, lambda *_args: stop.set())
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            result = services.follow_pending_events(
                get_session(),
                settings=settings,
                posted_by=None,
                stop=stop,
                interval=interval,
                progress=lambda each: click.echo(_summary(each)),
            )
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    else:
        with click.progressbar(length=1, label="Comptabilisation", show_pos=True) as bar:

            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            result = services.post_pending_events(
                get_session(), settings=settings, posted_by=None, limit=limit, progress=progress
            )
    click.echo(f"{_summary(result)}, {result.pending} still pending")
    for line in services.refusal_lines(result.refused):
        click.echo(f"error: {line}", err=True)
    if result.refused:
        sys.exit(1)


def _summary(result: services.PostingResult) -> str:
    return (
        f"{result.posted} entr{'y' if result.posted == 1 else 'ies'} posted, "
        f"{result.empty} event(s) with nothing to post"
    )


@ledger.command("years")
@with_appcontext
def years() -> None:
    """List the fiscal years: status, entries, total."""
    for year in services.list_fiscal_years(get_session()):
        closed = f" on {year.closed_at:%Y-%m-%d}" if year.closed_at else ""
        click.echo(
            f"{year.year}  {year.status.value:<6}{closed:<14} "
            f"{year.entries:>9} entries  {year.total:>16}"
        )


@ledger.command("open")
@click.argument("year", type=int)
@with_appcontext
@reports_domain_errors
def open_year(year: int) -> None:
    """Open fiscal year YEAR ahead of its first posting."""
    services.open_fiscal_year(get_session(), year, actor=None)
    click.echo(f"fiscal year {year} open")


@ledger.command("close")
@click.argument("year", type=int)
@with_appcontext
@reports_domain_errors
def close_year(year: int) -> None:
    """Close fiscal year YEAR for good (its events all posted, earlier years closed).

    Its result goes to 120 or 129 (entry of journal CL on 31 December) and the
    balance-sheet balances are carried into YEAR + 1 (entry 0, journal AN, 1 January).
    """
    session = get_session()
    settings = settings_from_config(current_app.config)
    services.close_fiscal_year(session, year, actor=None, settings=settings)
    closed = services.year_end(session, year)
    click.echo(f"fiscal year {year} closed: it takes no more posting")
    kind = "surplus" if closed.result >= 0 else "deficit"
    click.echo(
        f"result: {kind} {abs(closed.result)}"
        + (f" (entry {closed.result_entry.number})" if closed.result_entry else "")
    )
    if closed.opening_entry is not None:
        click.echo(
            f"balances carried into {year + 1}: entry {closed.opening_entry.number}, "
            f"{len(closed.opening_entry.lines)} lines, {closed.opening_entry.total}"
        )


@ledger.command("letter")
@with_appcontext
@reports_domain_errors
def letter() -> None:
    """Letter every settled invoice of the open years (books posted before lettering)."""
    made = services.letter_open_years(get_session(), actor=None)
    click.echo(f"{made} lettering(s) made")


@ledger.command("check")
@click.argument("year", type=int, required=False)
@with_appcontext
def check(year: int | None) -> None:
    """Check the books: every entry balanced, no gap in the numbers; status 1 if not."""
    result = services.verify_ledger(get_session(), fiscal_year=year)
    click.echo(
        f"{result.entries} entries, {result.lines} lines, "
        f"debit {result.total_debit}, credit {result.total_credit}, "
        f"{result.pending_ledger_events} event(s) pending"
    )
    for number in result.unbalanced:
        click.echo(f"error: entry {number} does not balance", err=True)
    for gap_year, missing in result.gaps.items():
        click.echo(f"error: {gap_year}: entry numbers missing: {missing}", err=True)
    if not result.ok:
        sys.exit(1)


@ledger.command("export")
@click.argument("report", type=click.Choice(["fec", *exports.REPORTS]))
@click.argument("year", type=int, required=False)
@click.option("--from", "date_from", type=_DATE, help="first day, instead of YEAR")
@click.option("--to", "date_to", type=_DATE, help="last day, with --from")
@click.option("--format", "file_format", type=click.Choice(FORMATS), default="csv")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="default: the report's usual name, in the current directory",
)
@with_appcontext
@reports_domain_errors
def export(
    report: str,
    year: int | None,
    date_from: datetime | None,
    date_to: datetime | None,
    file_format: str,
    output: Path | None,
) -> None:
    """Export REPORT (fec, journal, general-ledger, trial-balance) for YEAR or a range."""
    scope = _scope(year, date_from, date_to)
    session = get_session()
    if report == "fec":
        settings = settings_from_config(current_app.config)
        chunks = exports.fec_chunks(session, scope, settings)
        output = output or Path(exports.fec_filename(settings, scope))
    else:
        built = exports.REPORTS[report](session, scope)
        organisation = current_app.config["SELLER"]["name"]
        chunks = exports.report_chunks(built, file_format, organisation=organisation)
        output = output or Path(exports.report_filename(built, file_format))
    with output.open("wb") as out:
        size = exports.write_chunks(chunks, out)
    click.echo(f"{report} {scope.title}: {output} ({size:,} bytes)")


def _scope(
    year: int | None, date_from: datetime | None, date_to: datetime | None
) -> exports.ExportScope:
    if year is not None and (date_from or date_to):
        raise ValidationFailed("give YEAR or --from and --to, not both", field="year")
    if year is not None:
        if not 2000 <= year <= 2100:
            raise ValidationFailed("a fiscal year from 2000 to 2100", field="year")
        return exports.ExportScope.for_year(year)
    if date_from is None or date_to is None:
        raise ValidationFailed("give YEAR, or both --from and --to", field="year")
    return exports.ExportScope.between(date_from.date(), date_to.date())


@ledger.command("activity-report")
@click.argument("year", type=click.IntRange(2000, 2100))
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
@reports_domain_errors
def activity_report(year: int, output: Path | None) -> None:
    """Write the activity report of YEAR as a PDF, with its bar chart."""
    report = reports.activity_report(get_session(), year, settings_from_config(current_app.config))
    output = output or Path(f"rapport-activite-{year}.pdf")
    output.write_bytes(
        activity_report_pdf(report, organisation=current_app.config["SELLER"]["name"])
    )
    click.echo(
        f"{year}: {report.members_at_year_end} members, {report.orders} orders, "
        f"sales {report.margins.sales}, purchases {report.margins.purchases}: {output}"
    )
