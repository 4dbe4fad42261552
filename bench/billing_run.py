"""Benchmark: a monthly billing run of 5 000 members and 100 000 subscriptions on PostgreSQL.

    .venv/bin/python bench/billing_run.py                          # ReportLab, full size
    .venv/bin/python bench/billing_run.py --renderer weasyprint --members 500 --subscriptions 10000
    .venv/bin/python bench/billing_run.py --processes 1 --chunk 1  # as the run was first written

Needs the PostgreSQL server of ``BENCH_POSTGRES_URL`` (default: the local one, user
postgres), where it creates ``bench_billing_template`` (the data set, built once per
invocation by bulk inserts: the shipped catalogue, a FEDER programme in force, members with
one order each whose recurring items are commissioned in November 2026) and
``bench_billing_run`` (a copy of it for each measured run); both are dropped at the end.

Each run works in a fresh process, as ``centrale billing run 2026-11`` does: members in
groups of ``--chunk`` per transaction, PDFs rendered over ``--processes`` processes. The
ledger posts the run's events beside it, as ``centrale ledger post --follow`` deployed
with the service does (``--post after``: ``centrale ledger post`` once the run is over).
It prints the run's wall time and invoices per second, the time the posting took once the
run was over, the CPU time of the run's processes (the follower's included) and of the local
database server, the share of time the cores stood idle, and the peak
resident memory of the run's processes together (sampled) and of the largest one. Then
it checks what the run promises: one invoice per member, numbered 1..n without gaps, each
with its PDF and Factur-X XML stored under the SHA-256 of the PDF, each posted once to
the ledger, the run completed with every member done.

Targets (issue 8): 5 000 invoices issued, numbered, posted, with PDF and XML stored, in
60 s at most, peak memory under 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import _support as support  # bench/, on the path of a script run from it

TEMPLATE = "bench_billing_template"
RUN_DATABASE = "bench_billing_run"
TARGET_SECONDS = 60.0
TARGET_MEGABYTES = 1024.0


def build(url: str, members: int, subscriptions: int) -> dict[str, float]:
    started = time.perf_counter()
    support.build_schema(url)
    with support.app_session(url) as session:
        support.load_catalogue(session)
        support.insert_members_with_subscriptions(
            session, members=members, subscriptions=subscriptions
        )
    return {"build_seconds": time.perf_counter() - started}


def run(url: str, renderer: str, processes: int, chunk: int, post: str) -> dict[str, float]:
    """One billing run of November 2026, and the ledger posting of its events: by
    ``centrale ledger post --follow`` beside the run (``post="during"``, the follower
    stopped once the run is over, after it has posted what the run published), or by
    ``post_pending_events`` once the run is over (``post="after"``)."""
    from purchasing.billing import run as billing
    from purchasing.billing.rendering import RenderPool
    from purchasing.billing.settings import settings_from_config
    from purchasing.config import load_config
    from purchasing.ledger.services import post_pending_events
    from purchasing.ledger.settings import settings_from_config as ledger_settings

    config = load_config({"INVOICE_RENDERER": renderer})
    sampler = _TreeSampler()
    sampler.start()
    follower = _start_follower(url) if post == "during" else None
    try:
        with support.app_session(url) as session:
            machine = support.machine_seconds()
            started = time.perf_counter()
            if processes > 1:
                with RenderPool(renderer=renderer, processes=processes) as pool:
                    result = _billing_run(
                        billing, session, config, pool, chunk, settings_from_config
                    )
            else:
                result = _billing_run(billing, session, config, None, chunk, settings_from_config)
            run_seconds = time.perf_counter() - started
            sampler.stop()
            run_cpu = sampler.cpu_seconds
            run_machine = support.seconds_between(machine, machine := support.machine_seconds())
            started = time.perf_counter()
            if follower is None:
                posted = post_pending_events(
                    session, settings=ledger_settings(config), posted_by=None, progress=None
                ).posted
            else:
                posted = _stop_follower(follower)
            post_seconds = time.perf_counter() - started
            post_machine = support.seconds_between(machine, support.machine_seconds())
    finally:
        if follower is not None and follower.poll() is None:
            follower.kill()  # the run failed: the follower must not outlive the benchmark
    return {
        "run_machine": run_machine,
        "post_machine": post_machine,
        "run_seconds": run_seconds,
        "run_cpu_seconds": run_cpu,
        "post_seconds": post_seconds,
        "invoices": len(result.issued),
        "posted": posted,
        "peak_tree_megabytes": sampler.peak,
        "peak_process_megabytes": max(
            support.peak_megabytes(), support.peak_megabytes(resource.RUSAGE_CHILDREN)
        ),
    }


def _start_follower(url: str) -> subprocess.Popen[str]:
    """``centrale ledger post --follow`` on ``url``, as deployed beside the service."""
    environment = os.environ | {"DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(32)}
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("centrale")), "ledger", "post", "--follow"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop_follower(follower: subprocess.Popen[str]) -> int:
    """Stop the follower as an operator does (SIGTERM): it posts what is still pending,
    then exits; the entries it posted in all."""
    follower.send_signal(signal.SIGTERM)
    out, err = follower.communicate(timeout=600)
    summary = re.search(r"^(\d+) entr(?:y|ies) posted, .* still pending$", out, re.MULTILINE)
    if follower.returncode != 0 or summary is None:
        raise RuntimeError(f"ledger post --follow failed ({follower.returncode}): {err or out}")
    return int(summary.group(1))


def _billing_run(billing, session, config, render, chunk, settings_from_config):
    return billing.run_billing(
        session,
        support.PERIOD,
        settings=settings_from_config(config),
        started_by=None,
        issue_date=support.ISSUE_DATE,
        render=render,
        chunk_members=chunk,
    )


class _TreeSampler(threading.Thread):
    """This process and all its descendants (the render pool and its fork server),
    sampled every 0.2 s: their resident memory summed (the peak is what the run needs),
    and the CPU time each has used (the render processes are not children whose
    resources ``getrusage`` reports)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0.0
        self.cpu: dict[int, float] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.2):
            self._sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self._sample()

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())

    def _sample(self) -> None:
        tree = _process_tree(os.getpid())
        page = os.sysconf("SC_PAGE_SIZE")
        ticks = os.sysconf("SC_CLK_TCK")
        self.peak = max(self.peak, sum(rss for rss, _cpu in tree.values()) * page / 1e6)
        for pid, (_rss, cpu) in tree.items():
            self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu / ticks)


def _process_tree(root: int) -> dict[int, tuple[int, int]]:
    """Resident pages and CPU ticks (user + system) of ``root`` and its descendants.

    Found through each process's ``children`` files, not by reading every process of
    the machine: the sampler works in the measured process, and a scan of ``/proc``
    every 0.2 s was a thirtieth of that process's samples."""
    tree: dict[int, tuple[int, int]] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        proc = Path("/proc", str(pid))
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            threads = list((proc / "task").iterdir())
        except OSError:
            continue  # gone meanwhile
        tree[pid] = (int(fields[21]), int(fields[11]) + int(fields[12]))
        for thread in threads:
            try:
                stack.extend(int(child) for child in (thread / "children").read_text().split())
            except OSError:
                continue
    return tree


def verify(url: str, members: int) -> dict[str, bool]:
    """What the run promises, read back from the database."""
    from sqlalchemy import func, select, text

    from purchasing.billing.models import BillingRun, Invoice, InvoiceDocumentFile
    from purchasing.ledger.models import JournalEntry

    with support.app_session(url) as session:
        sequences = session.scalars(
            select(Invoice.sequence).where(Invoice.series == "FA").order_by(Invoice.sequence)
        ).all()
        per_member = session.execute(
            select(func.count(), func.count(func.distinct(Invoice.member_id)))
        ).one()
        documents = session.scalar(select(func.count()).select_from(InvoiceDocumentFile))
        unhashed = session.scalar(
            text(
                "SELECT count(*) FROM invoice_documents WHERE encode(sha256(pdf), 'hex') "
                "<> pdf_sha256 OR length(xml) = 0"
            )
        )
        entries = session.scalar(
            select(func.count())
            .select_from(JournalEntry)
            .where(JournalEntry.source_kind == "invoice.issued")
        )
        billing_run = session.scalar(select(BillingRun))
    return {
        f"{members:,} invoices, one per member": tuple(per_member) == (members, members),
        "numbered FA-2026-000001 onwards without gap": sequences
        == list(range(1, len(sequences) + 1)),
        "every PDF and XML stored under its SHA-256": documents == members and unhashed == 0,
        "every invoice posted once to the ledger": entries == members,
        "run completed, every member done": (
            billing_run.status.value,
            billing_run.members_done,
            billing_run.members_total,
        )
        == ("completed", members, members),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5_000)
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument(
        "--renderer", choices=["reportlab", "weasyprint", "both"], default="reportlab"
    )
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--chunk", type=int, default=50, help="members per transaction")
    parser.add_argument(
        "--post",
        choices=["during", "after"],
        default="during",
        help="ledger posting beside the run (centrale ledger post --follow) or after it",
    )
    parser.add_argument("--phase", choices=["build", "run"])
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.phase == "build":
        print(json.dumps(build(args.url, args.members, args.subscriptions)))
        return 0
    if args.phase == "run":
        print(json.dumps(run(args.url, args.renderer, args.processes, args.chunk, args.post)))
        return 0

    unavailable = support.postgres_available()
    if unavailable:
        print(f"billing run: skipped, PostgreSQL unreachable ({unavailable})")
        return 0
    renderers = ["reportlab", "weasyprint"] if args.renderer == "both" else [args.renderer]
    print(
        f"billing run {support.PERIOD}: {args.members:,} members, {args.subscriptions:,} "
        f"subscriptions, PostgreSQL; {args.processes} render process(es), "
        f"{args.chunk} member(s) per transaction; ledger posted {args.post} the run; "
        f"{os.cpu_count()} CPU(s)"
    )
    url = support.create_database(TEMPLATE)
    failed = False
    try:
        built = _child("build", url, args)
        print(f"  data set built in {built['build_seconds']:.1f} s")
        for renderer in renderers:
            run_url = support.create_database(RUN_DATABASE, template=TEMPLATE)
            figures = _child("run", run_url, args, renderer=renderer)
            checks = verify(run_url, args.members)
            failed |= not _report(renderer, figures, checks, args)
    finally:
        support.drop_database(RUN_DATABASE)
        support.drop_database(TEMPLATE)
    return 1 if failed else 0


def _child(phase: str, url: str, args: argparse.Namespace, renderer: str = "") -> dict:
    command = [
        __file__,
        "--phase",
        phase,
        "--url",
        url,
        "--members",
        str(args.members),
        "--subscriptions",
        str(args.subscriptions),
        "--processes",
        str(args.processes),
        "--chunk",
        str(args.chunk),
        "--post",
        args.post,
    ]
    if renderer:
        command += ["--renderer", renderer]
    completed = support.run_child(command)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _print_machine(spent: dict[str, float] | None) -> None:
    if spent is not None:
        print(
            f"      database server CPU {spent['postgres']:.1f} s; "
            f"cores idle {support.idle_share(spent):.0%}"
        )


def _report(renderer: str, figures: dict, checks: dict[str, bool], args) -> bool:
    invoices = int(figures["invoices"])
    total = figures["run_seconds"] + figures["post_seconds"]
    print(f"  {renderer}:")
    print(
        f"    run: {invoices:,} invoices in {figures['run_seconds']:.1f} s "
        f"({invoices / figures['run_seconds']:.1f} invoices/s), "
        f"CPU {figures['run_cpu_seconds']:.1f} s in the run's processes"
    )
    _print_machine(figures["run_machine"])
    when = "beside the run, then" if args.post == "during" else "after the run, in"
    print(
        f"    ledger posting: {int(figures['posted']):,} entries {when} "
        f"{figures['post_seconds']:.1f} s; issued and posted in {total:.1f} s"
    )
    _print_machine(figures["post_machine"])
    print(
        f"    peak memory (RSS): {figures['peak_tree_megabytes']:.0f} MB for the run's "
        f"processes together, {figures['peak_process_megabytes']:.0f} MB for the largest"
    )
    full_size = args.members >= 5_000 and args.subscriptions >= 100_000
    targets = {
        **checks,
        f"peak memory < {TARGET_MEGABYTES:.0f} MB": figures["peak_tree_megabytes"]
        < TARGET_MEGABYTES,
    }
    if full_size:
        targets[f"issued and posted in <= {TARGET_SECONDS:.0f} s"] = total <= TARGET_SECONDS
    for label, ok in targets.items():
        print(f"    {'ok  ' if ok else 'FAIL'} {label}")
    return all(targets.values())


if __name__ == "__main__":
    sys.exit(main())
