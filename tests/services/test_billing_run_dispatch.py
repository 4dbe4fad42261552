"""A billing run launched from a page: it returns at once, works in the background, and its
row shows how far it got, committed as it goes; a failure is recorded on it."""

from __future__ import annotations

import io
import threading
import time

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from purchasing import create_app
from purchasing.billing.dispatch import StartedBy, launch_billing_run, wait_for_billing_run
from purchasing.billing.models import BillingRun, Invoice
from purchasing.catalog.pricing import Billing
from purchasing.errors import ValidationFailed
from tests.factories import make_member, make_order, make_product, make_user


def delivered_to(session: Session, members: int, *, billing=Billing.ONE_OFF) -> list[int]:
    """``members`` members, each with an item delivered on 2026-02-01, not invoiced yet."""
    product = make_product(session, billing=billing, cost="10.00", price="12.00")
    member_ids = []
    for _ in range(members):
        member = make_member(session)
        make_order(session, member=member, lines=[(product, 2)], status="delivered")
        member_ids.append(member.id)
    return member_ids


def test_a_launched_run_returns_its_id_at_once_and_completes_in_the_background(app, session):
    app.config.update(INVOICE_RENDERER="reportlab", INVOICE_RENDER_PROCESSES=2)
    app.config["BILLING_RUN_CHUNK"] = 2
    member_ids = delivered_to(session, 5)
    user, _token = make_user(session, role="finance")

    run_id = launch_billing_run(app, "2026-02", started_by=user)

    assert wait_for_billing_run(run_id, timeout=120)
    run = session.get(BillingRun, run_id, populate_existing=True)
    assert (run.status.value, run.members_done, run.members_total) == ("completed", 5, 5)
    assert (run.invoices_issued, run.error, run.started_by_id) == (5, None, user.id)
    invoices = session.scalars(select(Invoice).where(Invoice.billing_run_id == run_id)).all()
    assert sorted(invoice.member_id for invoice in invoices) == sorted(member_ids)
    assert sorted(invoice.sequence for invoice in invoices) == [1, 2, 3, 4, 5]
    assert {invoice.issued_by_id for invoice in invoices} == {user.id}
    for invoice in invoices:  # rendered by the pool's processes, stored in the run's
        reader = PdfReader(io.BytesIO(invoice.document.pdf))
        assert reader.metadata["/Producer"] == "Centrale (ReportLab)"
        assert invoice.number in reader.pages[0].extract_text()


def test_a_malformed_period_is_refused_before_anything_starts(app, session):
    with pytest.raises(ValidationFailed) as refused:
        launch_billing_run(app, "2026-13", started_by=None)
    assert set(refused.value.errors) == {"period"}
    assert session.scalar(select(func.count()).select_from(BillingRun)) == 0


def test_a_run_that_fails_says_why_and_keeps_what_it_committed(app, session):
    # The seller's bank account is wrong: no invoice can carry it, so the first group fails.
    app.config["SELLER"] = {**app.config["SELLER"], "iban": "FR0000000000000000000000000"}
    app.config.update(INVOICE_RENDER_PROCESSES=1, BILLING_RUN_CHUNK=1)
    delivered_to(session, 2)

    run_id = launch_billing_run(app, "2026-02", started_by=None)

    assert wait_for_billing_run(run_id, timeout=60)
    run = session.get(BillingRun, run_id, populate_existing=True)
    assert run.status.value == "failed"
    assert run.error.startswith("InconsistentDocument: document FA-2026-000001")
    assert run.members_done == 0
    assert session.scalar(select(func.count()).select_from(Invoice)) == 0


def test_who_started_a_run_travels_as_plain_data():
    starter = StartedBy.from_json(
        {"id": 7, "email": "finances@centrale.example", "role": "finance", "member_id": None}
    )
    assert StartedBy.from_json(starter.to_json()) == starter
    assert StartedBy.of(None) is None


@pytest.mark.postgres
def test_another_connection_sees_the_progress_while_the_run_goes_on(committed, database_url):
    with Session(committed, expire_on_commit=False) as setup:
        delivered_to(setup, 6)
        setup.commit()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "BILLING_RUN_CHUNK": 1,
            "INVOICE_RENDER_PROCESSES": 1,
        }
    )
    seen: list[tuple[str, int, int]] = []
    run_id = launch_billing_run(app, "2026-02", started_by=None)
    watcher_done = threading.Event()

    def watch() -> None:
        with Session(committed) as watcher:
            while not watcher_done.is_set():
                row = watcher.execute(
                    select(
                        BillingRun.status, BillingRun.members_done, BillingRun.members_total
                    ).where(BillingRun.id == run_id)
                ).one()
                watcher.commit()
                seen.append((row.status.value, row.members_done, row.members_total))
                if row.status.value != "running":
                    return
                time.sleep(0.01)

    thread = threading.Thread(target=watch)
    thread.start()
    assert wait_for_billing_run(run_id, timeout=120)
    thread.join(timeout=10)
    watcher_done.set()
    app.extensions["centrale.engine"].dispose()

    assert seen[-1] == ("completed", 6, 6)
    done = [members_done for _status, members_done, _total in seen]
    assert done == sorted(done)  # it only moves on
    assert {total for _status, _done, total in seen} == {6}  # known from the start
    assert any(status == "running" and 0 < d < 6 for status, d, _total in seen)


def _committed_app(database_url: str, **config) -> object:
    return create_app(
        {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret", **config}
    )


@pytest.mark.postgres
def test_groups_drafted_while_the_previous_ones_render_keep_the_series_whole(
    committed, database_url
):
    # PostgreSQL, a pool of processes: each group is drafted in a second transaction while
    # the PDFs of the one before are rendered, and numbered only once that one committed.
    with Session(committed, expire_on_commit=False) as setup:
        member_ids = delivered_to(setup, 7)
        setup.commit()
    app = _committed_app(
        database_url, BILLING_RUN_CHUNK=2, INVOICE_RENDER_PROCESSES=2, INVOICE_RENDERER="reportlab"
    )

    run_id = launch_billing_run(app, "2026-02", started_by=None)

    assert wait_for_billing_run(run_id, timeout=180)
    with Session(committed) as check:
        run = check.get(BillingRun, run_id)
        assert (run.status.value, run.members_done, run.invoices_issued) == ("completed", 7, 7)
        invoices = check.scalars(select(Invoice).order_by(Invoice.sequence)).all()
        assert [invoice.sequence for invoice in invoices] == list(range(1, 8))
        assert sorted(invoice.member_id for invoice in invoices) == sorted(member_ids)
        # Numbered in the order the groups were issued: the members' order.
        assert [invoice.member_id for invoice in invoices] == sorted(member_ids)
        assert all(invoice.document is not None for invoice in invoices)
    app.extensions["centrale.engine"].dispose()


@pytest.mark.postgres
def test_a_failure_while_groups_overlap_leaves_neither_group_behind(committed, database_url):
    with Session(committed, expire_on_commit=False) as setup:
        delivered_to(setup, 4)
        setup.commit()
    app = _committed_app(
        database_url, BILLING_RUN_CHUNK=2, INVOICE_RENDER_PROCESSES=2, INVOICE_RENDERER="reportlab"
    )
    app.config["SELLER"] = {**app.config["SELLER"], "iban": "FR0000000000000000000000000"}

    run_id = launch_billing_run(app, "2026-02", started_by=None)

    assert wait_for_billing_run(run_id, timeout=180)
    with Session(committed) as check:
        run = check.get(BillingRun, run_id)
        assert (run.status.value, run.members_done) == ("failed", 0)
        # Told from the render process: the seller's IBAN is named.
        assert run.error.startswith("RenderingFailed: InconsistentDocument: document FA-2026")
        assert "payment_iban" in run.error
        assert check.scalar(select(func.count()).select_from(Invoice)) == 0
    app.extensions["centrale.engine"].dispose()
