"""A database error in the middle of issuing leaves nothing behind, not even a number.

On a database that commits (SQLite file or PostgreSQL), the error is injected two ways:

- at every statement in turn: the n-th statement sent while an invoice is issued fails
  (as a dropped connection or a refused write would), for n = 1, 2, ... until issuing
  sends fewer statements than n and succeeds;
- by the database itself: a trigger refuses the row of the stored PDF, the last write of
  issuing, after the number was taken.

After each failure the invoice is still a draft without number or document, the series'
counter has not moved, no ledger event or audit record of the issue exists; when the
error is gone, the invoice is issued with the next number, so the series has no gap.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from purchasing.audit.models import AuditRecord
from purchasing.billing import run as billing_run
from purchasing.billing import services
from purchasing.billing.models import DocumentKind, Invoice, InvoiceLine, InvoiceStatus
from purchasing.billing.settings import settings_from_config
from purchasing.config import load_config
from purchasing.events import DomainEvent
from purchasing.fields import today_in_paris
from purchasing.numbering import NumberSequence
from tests.faults.invariants import billing_problems, document_problems, number_problems

SETTINGS = settings_from_config(load_config())


class InjectedFault(Exception):
    pass


class FailingStatement:
    """Makes the ``fail_at``-th statement sent through ``engine`` fail."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sent = 0
        self.fail_at: int | None = None

    def __call__(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        self.sent += 1
        if self.sent == self.fail_at:
            raise OperationalError(statement, parameters, InjectedFault("connection lost"))

    @contextmanager
    def failing_at(self, n: int | None) -> Iterator[FailingStatement]:
        self.sent, self.fail_at = 0, n
        event.listen(self.engine, "before_cursor_execute", self)
        try:
            yield self
        finally:
            event.remove(self.engine, "before_cursor_execute", self)


def _draft(session, member_id: int) -> int:
    """A draft invoice of one line, as billing builds them before issuing."""
    invoice = Invoice(kind=DocumentKind.INVOICE, series="FA", member_id=member_id)
    invoice.lines.append(
        InvoiceLine(
            position=1,
            designation="Accompagnement RGPD",
            unit="forfait",
            quantity=Decimal(1),
            unit_price=Decimal("250.00"),
            vat_rate=Decimal("0.2000"),
            net_amount=Decimal("250.00"),
            sales_account="7062",
            family_code="mairie_connectee",
        )
    )
    session.add(invoice)
    session.commit()
    return invoice.id


def _traces(session, invoice_id: int) -> dict[str, Any]:
    """Everything issuing an invoice writes, as committed."""
    session.expire_all()
    invoice = session.get(Invoice, invoice_id)
    return {
        "status": invoice.status,
        "number": invoice.number,
        "document": invoice.document is not None,
        "counter": session.scalar(
            select(func.coalesce(func.max(NumberSequence.last_value), 0)).where(
                NumberSequence.series == "FA"
            )
        ),
        "events": session.scalar(
            select(func.count())
            .select_from(DomainEvent)
            .where(DomainEvent.entity == "invoice", DomainEvent.entity_id == str(invoice_id))
        ),
        "audit": session.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .where(AuditRecord.action == "invoice.issued", AuditRecord.entity_id == str(invoice_id))
        ),
    }


def test_an_error_at_any_statement_of_issuing_leaves_no_trace(billed_world):
    world = billed_world("statements")
    injector = FailingStatement(world.engine)
    issue_date = today_in_paris()
    with world.sessions() as session:
        invoice_id = _draft(session, world.members[0])
        untouched = _traces(session, invoice_id)
    assert untouched["status"] is InvoiceStatus.DRAFT

    failures = 0
    for n in range(1, 200):
        with world.sessions() as session, injector.failing_at(n):
            try:
                services.issue_invoice(
                    session, invoice_id, settings=SETTINGS, issued_by=None, issue_date=issue_date
                )
            except DBAPIError as exc:
                assert isinstance(exc.orig, InjectedFault)
                failures += 1
            else:
                break
        with world.sessions() as session:
            assert _traces(session, invoice_id) == untouched, f"statement {n} failed"
            assert document_problems(session) == []
    assert failures >= 10, "issuing should take many statements, each tried"

    with world.sessions() as session:
        issued = _traces(session, invoice_id)
        assert issued["status"] is InvoiceStatus.ISSUED
        assert issued["number"] == f"FA-{issue_date.year}-000001"
        assert issued["counter"] == 1
        assert (issued["events"], issued["audit"], issued["document"]) == (1, 1, True)
        assert number_problems(session) == []


#: A trigger refusing the stored PDF once ``{after}`` are stored: the database's own error.
_REFUSE_DOCUMENTS = {
    "sqlite": [
        """CREATE TRIGGER refuse_documents BEFORE INSERT ON invoice_documents
           WHEN (SELECT count(*) FROM invoice_documents) >= {after}
           BEGIN SELECT RAISE(ABORT, 'injected: disk full'); END""",
    ],
    "postgresql": [
        """CREATE FUNCTION refuse_documents() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF (SELECT count(*) FROM invoice_documents) >= {after} THEN
               RAISE EXCEPTION 'injected: disk full';
             END IF;
             RETURN NEW;
           END $$""",
        """CREATE TRIGGER refuse_documents BEFORE INSERT ON invoice_documents
           FOR EACH ROW EXECUTE FUNCTION refuse_documents()""",
    ],
}
_ALLOW_DOCUMENTS = {
    "sqlite": ["DROP TRIGGER refuse_documents"],
    "postgresql": [
        "DROP TRIGGER refuse_documents ON invoice_documents",
        "DROP FUNCTION refuse_documents()",
    ],
}


@contextmanager
def _documents_refused(engine: Engine, *, after: int) -> Iterator[None]:
    dialect = engine.dialect.name
    with engine.begin() as conn:
        for statement in _REFUSE_DOCUMENTS[dialect]:
            conn.execute(text(statement.replace("{after}", str(after))))
    try:
        yield
    finally:
        with engine.begin() as conn:
            for statement in _ALLOW_DOCUMENTS[dialect]:
                conn.execute(text(statement))


def _issued_events(session) -> int:
    return session.scalar(
        select(func.count()).select_from(DomainEvent).where(DomainEvent.kind == "invoice.issued")
    )


def test_the_database_refusing_a_write_half_way_through_a_run_leaves_no_half_issue(
    billed_world,
):
    """Three members per transaction; the database refuses the 5th PDF, in the second
    group: the first group stays issued, the second leaves nothing, the run completes
    once the database takes writes again."""
    world = billed_world("trigger")
    month_start = date.fromisoformat(f"{world.period}-01")
    issue_date = today_in_paris()

    def run() -> None:
        with world.sessions() as session:
            billing_run.run_billing(
                session,
                world.period,
                settings=SETTINGS,
                started_by=None,
                issue_date=issue_date,
                chunk_members=3,
            )

    with _documents_refused(world.engine, after=4), pytest.raises(DBAPIError, match="injected"):
        run()
    with world.sessions() as session:
        issued = session.scalars(select(Invoice.number).order_by(Invoice.number)).all()
        assert issued == [f"FA-{issue_date.year}-{n:06d}" for n in (1, 2, 3)]
        assert _issued_events(session) == 3
        assert number_problems(session) == []
        assert document_problems(session) == []

    run()
    with world.sessions() as session:
        problems = (
            billing_problems(session, world.members, month_start)
            + number_problems(session)
            + document_problems(session)
        )
        assert _issued_events(session) == len(world.members)
    assert problems == []
    # And the check would see a draft left behind, had the run left one.
    with world.sessions() as session:
        draft = _draft(session, world.members[0])
        assert billing_problems(session, world.members, month_start) == [
            f"draft invoice {draft} of member {world.members[0]} left behind"
        ]


def test_the_database_refusing_the_pdf_of_one_invoice_gives_its_number_back(billed_world):
    world = billed_world("refused")
    issue_date = today_in_paris()
    with world.sessions() as session:
        invoice_id = _draft(session, world.members[0])
        untouched = _traces(session, invoice_id)
    with (
        _documents_refused(world.engine, after=0),
        world.sessions() as session,
        pytest.raises(DBAPIError, match="injected"),
    ):
        services.issue_invoice(
            session, invoice_id, settings=SETTINGS, issued_by=None, issue_date=issue_date
        )
    with world.sessions() as session:
        assert _traces(session, invoice_id) == untouched
        services.issue_invoice(
            session, invoice_id, settings=SETTINGS, issued_by=None, issue_date=issue_date
        )
        assert _traces(session, invoice_id)["number"] == f"FA-{issue_date.year}-000001"
