"""``centrale billing run 2026-11``: the monthly billing run, with a progress bar."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from purchasing.billing import run as billing_run
from purchasing.billing.settings import settings_from_config
from purchasing.cli_support import reports_domain_errors
from purchasing.db import get_session


@click.group("billing")
def billing() -> None:
    """Invoicing."""


@billing.command("run")
@click.argument("period")
@click.option("--issue-date", type=click.DateTime(["%Y-%m-%d"]), help="default: today")
@with_appcontext
@reports_domain_errors
def run(period: str, issue_date) -> None:
    """Invoice every member for PERIOD (YYYY-MM); safe to run again."""
    billing_run.billed_month(period)  # refused before the progress bar shows
    with click.progressbar(length=1, label=f"Facturation {period}", show_pos=True) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        result = billing_run.run_billing(
            get_session(),
            period,
            settings=settings_from_config(current_app.config),
            started_by=None,
            issue_date=issue_date.date() if issue_date else None,
            progress=progress,
        )
    click.echo(
        f"{period}: {len(result.issued)} invoice(s) issued for {result.members_seen} member(s) "
        f"(run {result.run.id}, attempt {result.run.attempts})"
    )
