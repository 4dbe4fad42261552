"""A billing run through a real Celery worker and Redis, on the test database.

The worker is started as operators start it (``celery -A purchasing.celery_worker worker``),
in a process of its own, on the same database; the run is launched as the billing page
launches it, and followed through its row. Skipped when Redis does not answer
(``CELERY_TEST_BROKER_URL``, default ``redis://127.0.0.1:6379/14``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from purchasing import create_app
from purchasing.billing.dispatch import launch_billing_run
from purchasing.billing.models import BillingRun, Invoice
from purchasing.billing.rendering import render_invoice
from purchasing.billing.tasks import (
    document_from_json,
    document_to_json,
    rendered_from_json,
    rendered_to_json,
)
from tests.services.test_billing_run_dispatch import delivered_to
from tests.unit.invoice_documents import aided_invoice, credit_note, multi_rate_invoice

BROKER = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/14")


def redis_unreachable() -> str | None:
    import redis

    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return f"Redis unreachable at {BROKER}: {exc}"
    return None


@pytest.fixture
def worker(database_url: str) -> Iterator[subprocess.Popen]:
    """A Celery worker serving both queues with two threads, on the test database."""
    unreachable = redis_unreachable()
    if unreachable:
        pytest.skip(unreachable)
    import redis

    redis.Redis.from_url(BROKER).flushdb()  # no message left over from an earlier run
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": BROKER,
        "INVOICE_RENDERER": "reportlab",
        "SECRET_KEY": "test-secret",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "purchasing.celery_worker",
            "worker",
            "-Q",
            "billing,render",
            "-c",
            "2",
            "-P",
            "threads",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_ready(process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            raise RuntimeError("the Celery worker stopped:\n" + "".join(lines))
        lines.append(line)
        if " ready." in line:
            return
    raise RuntimeError("the Celery worker did not start:\n" + "".join(lines))


def test_a_billing_run_goes_through_a_celery_worker(worker, committed, database_url):
    with Session(committed, expire_on_commit=False) as setup:
        member_ids = delivered_to(setup, 4)
        setup.commit()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "CELERY_BROKER_URL": BROKER,
            "CELERY_RENDER_CHUNK": 3,
            "BILLING_RUN_CHUNK": 2,
        }
    )

    run_id = launch_billing_run(app, "2026-02", started_by=None)

    deadline = time.monotonic() + 180
    with Session(committed) as check:
        while True:
            run = check.get(BillingRun, run_id, populate_existing=True)
            check.commit()
            if run.status.value != "running" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert (run.status.value, run.error) == ("completed", None)
        assert (run.members_done, run.members_total, run.invoices_issued) == (4, 4, 4)
        invoices = check.scalars(select(Invoice).where(Invoice.billing_run_id == run_id)).all()
        assert sorted(invoice.member_id for invoice in invoices) == sorted(member_ids)
        assert sorted(invoice.sequence for invoice in invoices) == [1, 2, 3, 4]
        for invoice in invoices:
            stored = invoice.document
            assert hashlib.sha256(stored.pdf).hexdigest() == stored.pdf_sha256
            reader = PdfReader(io.BytesIO(stored.pdf))
            # Rendered by the worker, with the worker's renderer (this process has none set).
            assert reader.metadata["/Producer"] == "Centrale (ReportLab)"
            assert reader.attachments["factur-x.xml"] == [stored.xml]
    app.extensions["centrale.engine"].dispose()


@pytest.mark.parametrize(
    "make", [multi_rate_invoice, credit_note, lambda: aided_invoice(aid_in_vat_base=False)]
)
def test_documents_and_pdfs_travel_to_workers_unchanged(make):
    doc = make()
    sent = document_to_json(doc)
    assert document_from_json(json.loads(json.dumps(sent))) == doc
    rendered = render_invoice(doc, renderer="reportlab")
    assert rendered_from_json(json.loads(json.dumps(rendered_to_json(rendered)))) == rendered
