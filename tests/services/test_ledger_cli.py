"""``centrale ledger``: posting, fiscal years, checks and exports, as an operator runs them."""

from __future__ import annotations

import csv
import io
import os
import signal
import threading
import time
from datetime import date

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from openpyxl import load_workbook
from sqlalchemy import delete

from purchasing.billing import services as billing
from purchasing.cli import main
from purchasing.ledger import services
from purchasing.ledger.models import LetteredLine, Lettering
from tests.factories.billing import make_issued_invoice
from tests.factories.ledger import make_ledger_accounts, post_all, subsidy_received


@pytest.fixture
def run(app):
    runner = CliRunner()

    def invoke(*args: str):
        with app.app_context():
            return runner.invoke(
                main, list(args), obj=ScriptInfo(create_app=lambda: app), catch_exceptions=False
            )

    return invoke


def test_post_posts_the_pending_events(run, session):
    make_ledger_accounts(session)
    subsidy_received(session)
    subsidy_received(session, amount="0.00")

    result = run("ledger", "post")

    assert result.exit_code == 0, result.output
    assert "1 entry posted, 1 event(s) with nothing to post, 0 still pending" in result.output


def test_post_lists_the_refused_events_and_fails(run, session):
    make_ledger_accounts(session)
    services.open_fiscal_year(session, 2026, actor=None)
    services.close_fiscal_year(session, 2026, actor=None, today=date(2027, 1, 2))
    event = subsidy_received(session)

    result = run("ledger", "post")

    assert result.exit_code == 1
    assert (
        f"error: event {event.id} (subsidy.received): fiscal year 2026 is closed: "
        "it takes no posting" in result.output
    )


def test_years_open_and_close(run, session, years_over):
    assert run("ledger", "open", "2026").exit_code == 0
    closed = run("ledger", "close", "2026")
    assert closed.exit_code == 0, closed.output
    assert "fiscal year 2026 closed" in closed.output
    listed = run("ledger", "years")
    # Closing opens the next year, to carry the balances into.
    assert listed.output.splitlines()[0].startswith("2027  open")
    assert listed.output.splitlines()[1].startswith("2026  closed")
    again = run("ledger", "close", "2026")
    assert again.exit_code == 1
    assert "error: status: fiscal year 2026 is already closed" in again.output


def test_close_says_the_result_and_what_it_carried(run, session, years_over):
    make_issued_invoice(session)  # 240.00 of sales, 288.00 due
    post_all(session)

    closed = run("ledger", "close", "2026")

    assert closed.exit_code == 0, closed.output
    assert "result: surplus 240.00 (entry EC-2026-000002)" in closed.output
    assert "balances carried into 2027: entry EC-2027-000000, 3 lines, 288.00" in closed.output


def test_letter_letters_what_older_postings_settled(run, session):
    invoice = make_issued_invoice(session)
    billing.record_payment(
        session, invoice.id, amount=invoice.amount_due, paid_on=date(2026, 4, 2), recorded_by=None
    )
    post_all(session)
    session.execute(delete(LetteredLine))  # as books posted before lettering existed
    session.execute(delete(Lettering))
    session.commit()

    result = run("ledger", "letter")

    assert result.exit_code == 0, result.output
    assert "1 lettering(s) made" in result.output
    assert run("ledger", "letter").output.strip() == "0 lettering(s) made"


def test_check_reports_the_books_in_order(run, session):
    subsidy_received(session)
    post_all(session)
    result = run("ledger", "check", "2026")
    assert result.exit_code == 0, result.output
    assert "1 entries, 2 lines, debit 1000.00, credit 1000.00, 0 event(s) pending" in result.output


def test_export_fec_writes_the_file(run, session, tmp_path):
    subsidy_received(session)
    post_all(session)
    output = tmp_path / "fec.txt"

    result = run("ledger", "export", "fec", "2026", "--output", str(output))

    assert result.exit_code == 0, result.output
    records = output.read_text(encoding="iso-8859-15").splitlines()
    assert len(records) == 3
    assert records[1].split("\t")[4] == "515"


def test_export_a_range_as_xlsx(run, session, tmp_path):
    subsidy_received(session, received_on=date(2026, 2, 1))
    subsidy_received(session, received_on=date(2026, 9, 1))
    post_all(session)
    output = tmp_path / "journal.xlsx"

    result = run(
        "ledger",
        "export",
        "journal",
        "--from",
        "2026-01-01",
        "--to",
        "2026-06-30",
        "--format",
        "xlsx",
        "--output",
        str(output),
    )

    assert result.exit_code == 0, result.output
    rows = list(load_workbook(output, read_only=True).active.iter_rows(values_only=True))
    assert len(rows) == 1 + 2 + 1


def test_export_the_trial_balance_as_csv(run, session, tmp_path):
    subsidy_received(session)
    post_all(session)
    output = tmp_path / "balance.csv"
    assert run("ledger", "export", "trial-balance", "2026", "--output", str(output)).exit_code == 0
    rows = list(csv.reader(io.StringIO(output.read_text("utf-8")), delimiter=";"))
    assert [row[0] for row in rows] == ["Compte", "441", "515"]


def test_export_needs_a_year_or_a_range(run):
    result = run("ledger", "export", "fec", "--from", "2026-01-01")
    assert result.exit_code == 1
    assert "error: year: give YEAR, or both --from and --to" in result.output


def test_activity_report_writes_the_pdf(run, session, tmp_path):
    subsidy_received(session)
    post_all(session)
    output = tmp_path / "rapport.pdf"
    result = run("ledger", "activity-report", "2026", "--output", str(output))
    assert result.exit_code == 0, result.output
    assert output.read_bytes().startswith(b"%PDF")


def test_post_follow_posts_until_it_is_told_to_stop(run, session):
    make_ledger_accounts(session)
    subsidy_received(session)
    before = signal.getsignal(signal.SIGTERM)

    def stop_once_following() -> None:
        for _ in range(500):
            if signal.getsignal(signal.SIGTERM) is not before:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.01)

    stopper = threading.Thread(target=stop_once_following)
    stopper.start()
    result = run("ledger", "post", "--follow", "--interval", "0.05")
    stopper.join()

    assert result.exit_code == 0, result.output
    assert "1 entry posted, 0 event(s) with nothing to post, 0 still pending" in result.output
    assert signal.getsignal(signal.SIGTERM) is before


def test_post_refuses_a_limit_with_follow(run, session):
    make_ledger_accounts(session)
    event = subsidy_received(session)

    result = run("ledger", "post", "--follow", "--limit", "5")

    assert result.exit_code == 2
    assert "--limit cannot be used with --follow" in result.output
    assert session.get(type(event), event.id).consumed_at is None
