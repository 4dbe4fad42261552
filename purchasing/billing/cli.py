"""``centrale billing run 2026-11``: the monthly billing run, with a progress bar."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from purchasing.billing import integrity
from purchasing.billing import run as billing_run
from purchasing.billing.dispatch import billing_renderer
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
    """Invoice every member for PERIOD (YYYY-MM); safe to run again.

    The run works here, a group of members at a time, its PDFs rendered by the Celery
    workers when CELERY_BROKER_URL is set, else over INVOICE_RENDER_PROCESSES processes.
    """
    billing_run.billed_month(period)  # refused before the progress bar shows
    config = current_app.config
    with (
        billing_renderer(config) as render,
        click.progressbar(length=1, label=f"Facturation {period}", show_pos=True) as bar,
    ):

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        result = billing_run.run_billing(
            get_session(),
            period,
            settings=settings_from_config(config),
            started_by=None,
            issue_date=issue_date.date() if issue_date else None,
            progress=progress,
            render=render,
            chunk_members=int(config.get("BILLING_RUN_CHUNK", billing_run.DEFAULT_CHUNK_MEMBERS)),
        )
    click.echo(
        f"{period}: {len(result.issued)} invoice(s) issued for {result.members_seen} member(s) "
        f"(run {result.run.id}, attempt {result.run.attempts})"
    )


@billing.command("verify-documents")
@with_appcontext
def verify_documents() -> None:
    """Check every stored invoice PDF and XML against the SHA-256 recorded at issue;
    status 1 if one is altered or missing."""
    result = integrity.verify_documents(get_session())
    click.echo(f"{result.checked} document(s) checked")
    for altered in result.altered:
        click.echo(
            f"error: {altered.number}: stored {altered.part} altered "
            f"(SHA-256 {altered.stored_sha256}, "
            f"recorded at issue {altered.recorded_sha256})",
            err=True,
        )
    for number in result.missing:
        click.echo(f"error: {number}: no stored document", err=True)
    if not result.ok:
        sys.exit(1)
