"""Benchmark: where a billing run's time goes, phase by phase, in CPU milliseconds an invoice.

    .venv/bin/python bench/billing_phases.py                  # 200 members, 4 000 subscriptions
    .venv/bin/python bench/billing_phases.py --members 500 --weasyprint 10
    .venv/bin/python bench/billing_phases.py --profile issuing   # cProfile's top 30

The same data set as ``bench/billing_run.py`` (PostgreSQL of ``BENCH_POSTGRES_URL``,
database ``bench_billing_phases``, dropped at the end), billed in one process, a group of
``--chunk`` members per transaction, with each phase measured apart:

- what is owed: ``pending_lines_of`` for each group (read only);
- issuing without the PDFs: the run itself (members locked, drafts written, aid,
  numbers, figures, ledger event and audit record, commit), its renderer replaced by one
  that hands back a placeholder file, so that what remains is the database work;
- rendering: the same documents rendered by ReportLab (all) and WeasyPrint (the first
  ``--weasyprint``), PDF/A-3 with the Factur-X XML built and validated;
- ledger posting: ``post_pending_events`` of the run's events.

CPU time is this process's (``time.process_time``): the database server's is not counted.
Each line also gives the SQL statements an invoice costs. The billing run's target (60 s
for 5 000 invoices on two cores) needs about 24 ms of CPU an invoice in all, the server's
included: the sum printed says how far it is.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time

import _support as support  # bench/, on the path of a script run from it

DATABASE = "bench_billing_phases"
PHASES = ("issuing", "reportlab", "posting")


class _Meter:
    """CPU seconds and SQL statements of the phase being measured."""

    def __init__(self) -> None:
        self.statements = 0

    def count(self, *_args) -> None:
        self.statements += 1

    def measure(self, action, *, profile: bool = False):
        """``action()``, its CPU seconds and SQL statements; with ``profile``, cProfile's
        top 30 by CPU time printed (the figures then include the profiler's cost)."""
        statements, cpu = self.statements, time.process_time()
        with support.cpu_profile(profile):
            result = action()
            spent = time.process_time() - cpu
        return result, spent, self.statements - statements


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--subscriptions", type=int, default=4_000)
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--weasyprint", type=int, default=10, help="documents WeasyPrint renders")
    parser.add_argument(
        "--profile", choices=PHASES, help="print cProfile's top 30 of a phase, CPU time"
    )
    args = parser.parse_args()
    unavailable = support.postgres_available()
    if unavailable:
        print(f"billing phases: skipped, PostgreSQL unreachable ({unavailable})")
        return 0

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from purchasing.billing import run
    from purchasing.billing.rendering import RenderedInvoice, render_invoices
    from purchasing.billing.settings import settings_from_config
    from purchasing.config import load_config
    from purchasing.ledger.services import post_pending_events
    from purchasing.ledger.settings import settings_from_config as ledger_settings

    url = support.create_database(DATABASE)
    meter = _Meter()
    event.listen(Engine, "before_cursor_execute", meter.count)
    try:
        support.build_schema(url)
        with support.app_session(url) as session:
            support.load_catalogue(session)
            support.insert_members_with_subscriptions(
                session, members=args.members, subscriptions=args.subscriptions
            )
        config = load_config({"INVOICE_RENDERER": "reportlab"})
        placeholder = b"%PDF-placeholder"
        documents = []

        def keep(batch):
            documents.extend(batch)
            digest = hashlib.sha256(placeholder).hexdigest()
            return [RenderedInvoice(pdf=placeholder, xml=b"<x/>", sha256=digest) for _ in batch]

        with support.app_session(url) as session:
            up_to = run.billed_month(support.PERIOD)
            members = run.members_to_bill(session, up_to)
            groups = [members[i : i + args.chunk] for i in range(0, len(members), args.chunk)]
            session.commit()
            _owed, owed_cpu, owed_sql = meter.measure(
                lambda: [run.pending_lines_of(session, group, up_to) for group in groups]
            )
            session.rollback()
            result, issue_cpu, issue_sql = meter.measure(
                lambda: run.run_billing(
                    session,
                    support.PERIOD,
                    settings=settings_from_config(config),
                    started_by=None,
                    issue_date=support.ISSUE_DATE,
                    render=keep,
                    chunk_members=args.chunk,
                ),
                profile=args.profile == "issuing",
            )
            invoices = len(result.issued)
            posting, post_cpu, post_sql = meter.measure(
                lambda: post_pending_events(
                    session, settings=ledger_settings(config), posted_by=None, progress=None
                ),
                profile=args.profile == "posting",
            )
        render_invoices(documents[:1], renderer="reportlab")  # fonts and XSD loaded
        _pdfs, reportlab_cpu, _ = meter.measure(
            lambda: render_invoices(documents, renderer="reportlab"),
            profile=args.profile == "reportlab",
        )
        render_invoices(documents[:1], renderer="weasyprint")
        sample = documents[: max(1, args.weasyprint)]
        _pdfs, weasyprint_cpu, _ = meter.measure(
            lambda: render_invoices(sample, renderer="weasyprint")
        )
    finally:
        event.remove(Engine, "before_cursor_execute", meter.count)
        support.drop_database(DATABASE)

    lines = sum(len(document.lines) for document in documents) / max(1, len(documents))
    print(
        f"billing phases: {invoices:,} invoices ({lines:.0f} lines each on average), "
        f"{len(groups)} group(s) of {args.chunk} member(s), one process, PostgreSQL"
    )

    def row(label: str, cpu: float, count: int, statements: int | None = None) -> float:
        per = cpu / count * 1000
        sql = f", {statements / count:.1f} SQL statements" if statements is not None else ""
        print(f"  {label:<44} {per:7.2f} ms CPU an invoice{sql}")
        return per

    row("what is owed (read, part of issuing)", owed_cpu, invoices, owed_sql)
    total = row("issuing without the PDFs (whole run)", issue_cpu, invoices, issue_sql)
    total += row("rendering, ReportLab", reportlab_cpu, len(documents))
    row(f"rendering, WeasyPrint ({len(sample)} documents)", weasyprint_cpu, len(sample))
    total += row(f"ledger posting ({posting.posted:,} entries)", post_cpu, invoices, post_sql)
    print(f"  {'in all, with ReportLab':<44} {total:7.2f} ms CPU an invoice")
    return 0


if __name__ == "__main__":
    sys.exit(main())
