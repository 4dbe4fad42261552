"""A billing run killed at random points, then run again, ends as if nothing happened.

``centrale billing run`` runs as the operator runs it, in a process of its own on a
database that commits (SQLite file or PostgreSQL), a member per transaction.
It is killed with SIGKILL (no cleanup, no rollback from the client: a power cut) several
times, at random moments: early, or once a random number of invoices is committed plus a
random fraction of a second, so that kills land inside a group's transaction, while its
PDFs are drawn, or between groups. Then it runs to the end (in this process: the same
command, without starting an interpreter). Afterwards: exactly one
invoice per member for the month, numbers 1..n without gap, every PDF stored and intact,
and the ledger, once posted, balanced.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from datetime import date

from sqlalchemy import func, select

from purchasing.billing.models import BillingRun, BillingRunStatus, Invoice
from purchasing.config import PROJECT_ROOT
from purchasing.fields import today_in_paris
from tests.faults.invariants import (
    CENTRALE,
    billing_problems,
    centrale_env,
    centrale_here,
    document_problems,
    number_problems,
)

KILLS = int(os.environ.get("FAULTS_KILLS", "4"))
#: Members per transaction in the runs killed: many commits, many places to be killed.
CHUNK = "1"


def _issued(world) -> int:
    with world.engine.connect() as conn:
        return conn.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.number.is_not(None))
        )


def _start_run(world, issue_date: date) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(CENTRALE), "billing", "run", world.period, "--issue-date", f"{issue_date:%Y-%m-%d}"],
        env=centrale_env(world.url, BILLING_RUN_CHUNK=CHUNK),
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Its own process group: the kill takes the PDF-drawing workers down with it.
        start_new_session=True,
    )


def _kill_when(process: subprocess.Popen[bytes], world, target: int, delay: float) -> None:
    """SIGKILL the run once ``target`` invoices are committed, ``delay`` seconds later."""
    deadline = time.monotonic() + 300
    while process.poll() is None and _issued(world) < target and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(delay)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)


def test_a_billing_run_killed_at_random_points_then_completed_bills_everyone_once(billed_world):
    world = billed_world("kill")
    seed = int(os.environ.get("FAULTS_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    issue_date = today_in_paris()
    members = len(world.members)
    killed_half_way = 0
    for attempt in range(KILLS):
        process = _start_run(world, issue_date)
        # The first kill lands while the command starts or begins; the others part-way.
        done = _issued(world)
        # Spread the later kills over what is left, each a random number of invoices on.
        span = max(1, (members - 2 - done) // max(1, KILLS - attempt))
        target = 0 if attempt == 0 else done + rng.randint(1, span)
        _kill_when(process, world, target, rng.uniform(0.0, 0.3))
        issued = _issued(world)
        killed_half_way += 0 < issued < members
        with world.sessions() as session:
            problems = number_problems(session) + document_problems(session)
        assert problems == [], f"seed {seed}, after kill {attempt + 1}: {problems}"

    finished = centrale_here(
        world.url, "billing", "run", world.period, "--issue-date", f"{issue_date:%Y-%m-%d}"
    )
    assert finished.returncode == 0, finished.stderr
    again = centrale_here(
        world.url, "billing", "run", world.period, "--issue-date", f"{issue_date:%Y-%m-%d}"
    )
    assert again.returncode == 0, again.stderr
    assert "0 invoice(s) issued" in again.stdout

    with world.sessions() as session:
        month_start = date.fromisoformat(f"{world.period}-01")
        problems = (
            billing_problems(session, world.members, month_start)
            + number_problems(session)
            + document_problems(session)
        )
        run = session.scalar(select(BillingRun).where(BillingRun.period == world.period))
        assert run.status is BillingRunStatus.COMPLETED
        assert run.attempts >= 2
    assert problems == [], f"seed {seed}: {problems}"
    assert killed_half_way >= 1, f"seed {seed}: no kill landed part-way through the run"

    posted = centrale_here(world.url, "ledger", "post")
    assert posted.returncode == 0, posted.stderr
    checked = centrale_here(world.url, "ledger", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # One balanced sales entry per invoice, nothing left to post.
    assert checked.stdout.startswith(f"{members} entries,"), checked.stdout
