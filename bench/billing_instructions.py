"""Benchmark: the instructions an invoice costs to issue and to render, counted by callgrind.

    .venv/bin/python bench/billing_instructions.py          # 100 members, 2 000 subscriptions
    .venv/bin/python bench/billing_instructions.py --members 200 --render 40

Seconds drift on these machines: the same run takes a third longer from one hour to the
next. Instructions counted by valgrind's callgrind do not: the same code on the same data
counts the same to a few parts in ten thousand, whatever else the machine does. This is
the figure to compare a change with the code before it (seconds still say whether a target
is met: ``bench/billing_run.py``).

It builds ``bench_instructions_template`` (the data set of the other billing benchmarks),
then runs itself under ``valgrind --tool=callgrind --instr-atstart=no`` on a copy, counting
(``callgrind_control``) only: issuing, the billing run of the month in this one process
with a renderer that keeps the documents (drafting, aid, numbers, figures, storing,
committing; the database server's own work is not counted); rendering, ``--render`` of those
documents drawn by ReportLab as a render process draws them, after one to warm up. It
prints millions of instructions an invoice for each. Skipped without valgrind or
PostgreSQL; about two minutes at the default size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _support as support  # bench/, on the path of a script run from it

TEMPLATE = "bench_instructions_template"
RUN_DATABASE = "bench_instructions_run"


def measure(url: str, render: int) -> dict[str, int]:
    """The measured phases, in a process that valgrind runs with counting switched off."""
    from purchasing.billing import run
    from purchasing.billing.rendering import RenderedInvoice, render_elsewhere
    from purchasing.billing.settings import settings_from_config
    from purchasing.config import load_config

    documents = []

    def keep(batch):
        documents.extend(batch)
        digest = hashlib.sha256(b"").hexdigest()
        return [RenderedInvoice(pdf=b"", xml=b"", sha256=digest) for _ in batch]

    settings = settings_from_config(load_config({"INVOICE_RENDERER": "reportlab"}))
    render_elsewhere([], "reportlab")  # the renderer's modules imported
    with support.app_session(url) as session:
        run.members_to_bill(session, run.billed_month(support.PERIOD))  # connected
        session.rollback()
        _callgrind("--instr=on")
        result = run.run_billing(
            session,
            support.PERIOD,
            settings=settings,
            started_by=None,
            issue_date=support.ISSUE_DATE,
            render=keep,
        )
        _callgrind("--dump=issuing")
        render_elsewhere(documents[:1], "reportlab")  # fonts and schema loaded
        _callgrind("--zero")
        rendered = render_elsewhere(documents[1 : 1 + render], "reportlab")
        _callgrind("--dump=rendering")
        _callgrind("--instr=off")
    return {"invoices": len(result.issued), "rendered": len(rendered)}


def _callgrind(command: str) -> None:
    subprocess.run(
        ["callgrind_control", command, str(os.getpid())], check=True, capture_output=True
    )


def _counts(directory: Path) -> dict[str, int]:
    """Instructions of each dump, by its name, read from callgrind's output files."""
    counts = {}
    for path in directory.glob("callgrind.out*"):
        trigger, summary = None, None
        with path.open() as lines:
            for line in lines:
                if line.startswith("desc: Trigger: dump "):
                    trigger = line.split("dump ", 1)[1].strip()
                elif line.startswith("summary:"):
                    summary = int(line.split()[1])
                    break
        if trigger is not None and summary is not None:
            counts[trigger] = summary
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--subscriptions", type=int, default=2_000)
    parser.add_argument("--render", type=int, default=20, help="documents rendered, counted")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the database, under valgrind
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.render)))
        return 0

    missing = [tool for tool in ("valgrind", "callgrind_control") if shutil.which(tool) is None]
    if missing:
        print(f"billing instructions: skipped, {' and '.join(missing)} not installed")
        return 0
    unavailable = support.postgres_available()
    if unavailable:
        print(f"billing instructions: skipped, PostgreSQL unreachable ({unavailable})")
        return 0
    print(
        f"billing instructions {support.PERIOD}: {args.members:,} members, "
        f"{args.subscriptions:,} subscriptions, PostgreSQL; instructions counted by callgrind"
    )
    started = time.perf_counter()
    try:
        url = support.create_database(TEMPLATE)
        support.build_schema(url)
        with support.app_session(url) as session:
            support.load_catalogue(session)
            support.insert_members_with_subscriptions(
                session, members=args.members, subscriptions=args.subscriptions
            )
        run_url = support.create_database(RUN_DATABASE, template=TEMPLATE)
        with tempfile.TemporaryDirectory(prefix="callgrind-") as directory:
            completed = subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    "--instr-atstart=no",
                    f"--callgrind-out-file={directory}/callgrind.out.%p",
                    sys.executable,
                    __file__,
                    "--measure",
                    run_url,
                    "--render",
                    str(args.render),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            done = json.loads(completed.stdout.strip().splitlines()[-1])
            counts = _counts(Path(directory))
    finally:
        support.drop_database(RUN_DATABASE)
        support.drop_database(TEMPLATE)
    issuing = counts["issuing"] / done["invoices"] / 1e6
    rendering = counts["rendering"] / done["rendered"] / 1e6
    rows = [
        (f"issuing ({done['invoices']:,} invoices)", issuing),
        (f"rendering, ReportLab ({done['rendered']} PDFs)", rendering),
        ("in all", issuing + rendering),
    ]
    for label, figure in rows:
        print(f"  {label:<38} {figure:8.2f} M instructions an invoice")
    print(f"  ({time.perf_counter() - started:.0f} s, most of it under valgrind)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
