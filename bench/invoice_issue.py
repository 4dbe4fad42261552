"""Benchmark: one invoice issued with its PDF, as finance issues it between two runs.

    .venv/bin/python bench/invoice_issue.py            # both renderers, 20 invoices each
    .venv/bin/python bench/invoice_issue.py --invoices 50 --lines 5

On PostgreSQL (``BENCH_POSTGRES_URL``, default the local server; database
``bench_invoice``, dropped at the end): members each with ``--lines`` subscriptions
commissioned in November 2026. Each invoice is issued by ``invoice_member`` in its own
transaction (lines found, aid, number, figures, PDF/A-3 with Factur-X rendered and stored
with its SHA-256, ledger event, audit record, commit), one after another in one process:
the first one of each renderer (its libraries, fonts and stylesheets loaded) is shown
apart, then the median and the slowest of the others. Target (issue 8): under 0.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import _support as support  # bench/, on the path of a script run from it

DATABASE = "bench_invoice"
TARGET_SECONDS = 0.5
RENDERERS = ("weasyprint", "reportlab")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=20, help="per renderer")
    parser.add_argument("--lines", type=int, default=20, help="subscriptions per invoice")
    args = parser.parse_args()
    unavailable = support.postgres_available()
    if unavailable:
        print(f"single invoice: skipped, PostgreSQL unreachable ({unavailable})")
        return 0

    from purchasing.billing import periods, run
    from purchasing.billing.settings import settings_from_config
    from purchasing.config import load_config

    count = (args.invoices + 1) * len(RENDERERS)
    url = support.create_database(DATABASE)
    failed = False
    try:
        support.build_schema(url)
        with support.app_session(url) as session:
            support.load_catalogue(session)
            member_ids = support.insert_members_with_subscriptions(
                session, members=count, subscriptions=count * args.lines
            )
        print(
            f"single invoice issued with its PDF: {args.invoices} invoices of "
            f"{args.lines} subscriptions per renderer, PostgreSQL"
        )
        up_to = periods.parse_month(support.PERIOD)
        for index, renderer in enumerate(RENDERERS):
            settings = settings_from_config(load_config({"INVOICE_RENDERER": renderer}))
            mine = member_ids[index * (args.invoices + 1) : (index + 1) * (args.invoices + 1)]
            seconds, pages = [], 0
            with support.app_session(url) as session:
                for member_id in mine:
                    started = time.perf_counter()
                    (invoice,) = run.invoice_member(
                        session,
                        member_id,
                        up_to,
                        settings=settings,
                        issued_by=None,
                        issue_date=support.ISSUE_DATE,
                    )
                    seconds.append(time.perf_counter() - started)
                    pages = _pages(invoice.document.pdf)
            first, rest = seconds[0], seconds[1:]
            median, slowest = statistics.median(rest), max(rest)
            ok = median < TARGET_SECONDS
            failed |= not ok
            print(
                f"  {renderer}: first {first:.2f} s (loading), then median {median:.3f} s, "
                f"slowest {slowest:.3f} s ({pages} page(s) each)"
            )
            print(f"    {'ok  ' if ok else 'FAIL'} median under {TARGET_SECONDS} s")
    finally:
        support.drop_database(DATABASE)
    return 1 if failed else 0


def _pages(pdf: bytes) -> int:
    import io

    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


if __name__ == "__main__":
    sys.exit(main())
