"""Invoices, credit notes, their stored documents, payments and billing runs.

An issued invoice or credit note never changes: the service layer refuses it, and the
columns that make the document (number, lines, totals, PDF) are written once, at issue.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship
from sqlalchemy.orm.attributes import get_history
from sqlalchemy.orm.util import identity_key

from purchasing.billing.document import DocumentKind
from purchasing.db import Base, Rate, enum_column, utcnow
from purchasing.members.models import Member

#: Number series of each kind: FA-2026-000123, AV-2026-000004.
SERIES = {DocumentKind.INVOICE: "FA", DocumentKind.CREDIT_NOTE: "AV"}


class InvoiceStatus(enum.StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"


class PaymentStatus(enum.StrEnum):
    OPEN = "open"
    PARTLY_PAID = "partly_paid"
    PAID = "paid"


class Invoice(Base):
    """An invoice or a credit note to a member. A draft has no number."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("series", "fiscal_year", "sequence"),
        CheckConstraint("(status = 'draft') = (number IS NULL)", name="number_only_when_issued"),
        CheckConstraint(
            "(kind = 'credit_note') = (corrected_invoice_id IS NOT NULL)",
            name="credit_note_corrects_an_invoice",
        ),
        CheckConstraint("amount_paid >= 0", name="amount_paid_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DocumentKind] = mapped_column(enum_column(DocumentKind, length=20))
    status: Mapped[InvoiceStatus] = mapped_column(
        enum_column(InvoiceStatus, length=20), default=InvoiceStatus.DRAFT
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    #: "FA" or "AV"; with fiscal_year and sequence, the number's parts (set at issue)
    series: Mapped[str] = mapped_column(String(10))
    fiscal_year: Mapped[int | None]
    sequence: Mapped[int | None]
    number: Mapped[str | None] = mapped_column(String(30), unique=True)
    issue_date: Mapped[date | None]
    due_date: Mapped[date | None]
    #: the supply date or service period the invoice covers
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    #: copied from the member at issue: the document keeps what it said
    buyer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    engagement_number: Mapped[str | None] = mapped_column(String(50))
    #: indexed: receivables and invoice pages look up the credit notes of each invoice
    corrected_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    total_net: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    total_vat: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    total_gross: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    #: grant deducted from what the member pays (FEDER); 0 without aid
    total_aid: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    #: the FEDER aid is a price complement kept in the VAT base (True) or a price
    #: reduction (False): the programme's setting, kept with the document it shaped
    aid_in_vat_base: Mapped[bool] = mapped_column(default=True)
    #: what the member pays: total_gross - total_aid
    amount_due: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    amount_paid: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    #: what credit notes took off this invoice (their amounts due)
    amount_credited: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    payment_status: Mapped[PaymentStatus] = mapped_column(
        enum_column(PaymentStatus, length=20), default=PaymentStatus.OPEN
    )
    billing_run_id: Mapped[int | None] = mapped_column(ForeignKey("billing_runs.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime | None]
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", cascade="all, delete-orphan"
    )
    vat_lines: Mapped[list[InvoiceVat]] = relationship(
        back_populates="invoice", order_by="InvoiceVat.rate", cascade="all, delete-orphan"
    )
    document: Mapped[InvoiceDocumentFile | None] = relationship(back_populates="invoice")
    payments: Mapped[list[Payment]] = relationship(back_populates="invoice", order_by="Payment.id")
    corrected_invoice: Mapped[Invoice | None] = relationship(remote_side=[id])
    #: The member billed (its name and address are copied to ``buyer`` at issue).
    member: Mapped[Member] = relationship()

    @property
    def outstanding(self) -> Decimal:
        """What the member still owes on this invoice."""
        return self.amount_due - self.amount_credited - self.amount_paid


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        # One invoice line per subscription, billing period and stretch of quantity: a
        # billing run run twice, or resumed, can never invoice a period twice.
        Index(
            "uq_invoice_lines_subscription_period",
            "subscription_id",
            "billed_period_start",
            "service_start",
            unique=True,
            sqlite_where=text("subscription_id IS NOT NULL"),
            postgresql_where=text("subscription_id IS NOT NULL"),
        ),
        # ... which holds only if both are set: a NULL is distinct from every other in a
        # unique index, so a subscription line without them could be written any number
        # of times.
        CheckConstraint(
            "subscription_id IS NULL "
            "OR (billed_period_start IS NOT NULL AND service_start IS NOT NULL)",
            name="subscription_line_has_period",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    position: Mapped[int]
    designation: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(30))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3))
    unit_price: Mapped[Decimal]
    vat_rate: Mapped[Decimal] = mapped_column(Rate)
    #: quantity x unit price (prorated by day for a partial period), half-up to the cent
    net_amount: Mapped[Decimal]
    aid_amount: Mapped[Decimal | None]
    aid_label: Mapped[str | None] = mapped_column(String(200))
    #: a partial period: days served of the period's days (net = price x qty x days / period)
    prorata_days: Mapped[int | None]
    period_days: Mapped[int | None]
    service_start: Mapped[date | None]
    service_end: Mapped[date | None]
    #: what this line bills: a delivered one-off order line, a set-up fee, or a
    #: subscription's period; a credit note line points to the line it credits
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"), index=True)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_line_deliveries.id"), unique=True
    )
    #: the line bills the set-up fee of ``order_line_id`` (a recurring item's one-off charge)
    is_setup_fee: Mapped[bool] = mapped_column(default=False)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    #: first day of the billing period (month or year) a subscription line belongs to
    billed_period_start: Mapped[date | None]
    credited_line_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_lines.id"))
    sales_account: Mapped[str | None] = mapped_column(String(10))
    family_code: Mapped[str | None] = mapped_column(String(40))

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class InvoiceVat(Base):
    """VAT of one rate: on the sum of the line amounts of that rate (EN 16931)."""

    __tablename__ = "invoice_vat"
    __table_args__ = (UniqueConstraint("invoice_id", "rate"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    rate: Mapped[Decimal] = mapped_column(Rate)
    base: Mapped[Decimal]
    amount: Mapped[Decimal]

    invoice: Mapped[Invoice] = relationship(back_populates="vat_lines")


class InvoiceDocumentFile(Base):
    """The PDF (with its Factur-X XML) rendered once at issue, served as stored forever."""

    __tablename__ = "invoice_documents"

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), primary_key=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    #: SHA-256 of the PDF and of the XML at issue; a stored file that no longer matches
    #: is never served
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    xml_sha256: Mapped[str] = mapped_column(String(64))
    rendered_at: Mapped[datetime] = mapped_column(default=utcnow)

    invoice: Mapped[Invoice] = relationship(back_populates="document")


#: PostgreSQL compresses stored PDFs and XML with lz4 rather than its default pglz, which
#: spent half a millisecond of the server's CPU on each invoice issued only to find the
#: PDF (its streams already deflated) incompressible. The migration 0016 says the same; a
#: server older than 14, or built without lz4, keeps its default.
DOCUMENT_COMPRESSION_SQL = """
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 140000 THEN
        EXECUTE 'ALTER TABLE invoice_documents '
            'ALTER COLUMN pdf SET COMPRESSION lz4, ALTER COLUMN xml SET COMPRESSION lz4';
    END IF;
EXCEPTION WHEN feature_not_supported THEN
    NULL;
END
$$
"""
event.listen(
    InvoiceDocumentFile.__table__,
    "after_create",
    DDL(DOCUMENT_COMPRESSION_SQL).execute_if(dialect="postgresql"),
)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal]
    paid_on: Mapped[date]
    #: the Trésor's reference of the transfer, or the member's mandate number
    reference: Mapped[str] = mapped_column(String(100), default="")
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    invoice: Mapped[Invoice] = relationship(back_populates="payments")


class BillingRunStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    #: stopped by an error (``error`` says which); running the period again completes it
    FAILED = "failed"


class BillingRun(Base):
    """One monthly billing run. Running a period again resumes or completes it.

    The row shows the run's progress while it goes on, committed as each group of members
    is invoiced, so that another connection (the run's page) can follow it.
    """

    __tablename__ = "billing_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "2026-11"
    period: Mapped[str] = mapped_column(String(7), unique=True)
    status: Mapped[BillingRunStatus] = mapped_column(enum_column(BillingRunStatus, length=20))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: members to look at in this attempt, set when it starts
    members_total: Mapped[int] = mapped_column(default=0)
    #: members of this attempt already invoiced (or found with nothing to invoice)
    members_done: Mapped[int] = mapped_column(default=0, server_default="0")
    invoices_issued: Mapped[int] = mapped_column(default=0)
    #: why the last attempt stopped, when its status is failed
    error: Mapped[str | None] = mapped_column(Text)
    #: how many times the run was started for this period (resumed after an interruption)
    attempts: Mapped[int] = mapped_column(default=1)


__all__ = [
    "BillingRun",
    "DocumentKind",
    "Invoice",
    "InvoiceDocumentFile",
    "InvoiceLine",
    "InvoiceVat",
    "Payment",
]


class IssuedDocumentIsImmutable(RuntimeError):
    """A change to an issued invoice's content reached the database layer: a bug upstream."""


#: What may still change on an issued invoice: what is paid and credited on it.
_SETTLEMENT_COLUMNS = frozenset({"amount_paid", "amount_credited", "payment_status"})


@event.listens_for(Invoice, "before_update")
def _guard_issued_invoice(_mapper: Any, _connection: Any, invoice: Invoice) -> None:
    # The history of one attribute: ``state.attrs`` builds that of every attribute, some
    # 7 % of the CPU of preparing a run's group (cProfile), where each invoice is issued.
    status = get_history(invoice, "status")
    if InvoiceStatus.ISSUED in status.deleted:
        raise IssuedDocumentIsImmutable(f"invoice {invoice.number}: issued, never a draft again")
    if invoice.status is not InvoiceStatus.ISSUED or status.has_changes():
        return  # a draft, or the flush that issues it
    changed = {
        attr.key
        for attr in inspect(invoice).mapper.column_attrs
        if get_history(invoice, attr.key).has_changes()
    }
    if changed - _SETTLEMENT_COLUMNS:
        raise IssuedDocumentIsImmutable(
            f"invoice {invoice.number}: {', '.join(sorted(changed - _SETTLEMENT_COLUMNS))} "
            "cannot change once issued"
        )


@event.listens_for(InvoiceLine, "before_update")
@event.listens_for(InvoiceLine, "before_delete")
@event.listens_for(InvoiceVat, "before_update")
@event.listens_for(InvoiceVat, "before_delete")
@event.listens_for(InvoiceDocumentFile, "before_update")
@event.listens_for(InvoiceDocumentFile, "before_delete")
def _guard_issued_parts(_mapper: Any, connection: Any, part: Any) -> None:
    invoice_id = part.invoice_id
    status = _flushed_status(part, invoice_id)
    if status is None:
        status = connection.scalar(select(Invoice.status).where(Invoice.id == invoice_id))
    if status is InvoiceStatus.ISSUED:
        raise IssuedDocumentIsImmutable(
            f"{type(part).__name__} of issued invoice {invoice_id} cannot change"
        )


def _flushed_status(part: Any, invoice_id: int) -> InvoiceStatus | None:
    """The status the database holds for the part's invoice as this session last wrote or
    read it in its transaction, when the session holds that invoice; None to ask the
    database. A billing run updates the lines of the drafts it has just written (their
    aid): asking the database once a line would be a query for nothing."""
    session = object_session(part)
    if session is None:
        return None
    invoice = session.identity_map.get(identity_key(Invoice, invoice_id))
    if invoice is None:
        return None
    if "status" in inspect(invoice).unloaded or get_history(invoice, "status").has_changes():
        return None  # not read, or changing in this very flush: the database knows
    return invoice.status


#: Below the ORM's guard, the database's own: an issued invoice never goes back to draft
#: and keeps its number and the number's parts, whatever code or person writes (the
#: settlement columns stay free). PostgreSQL and SQLite each in their own words; the
#: migration 0012 creates the same. (SQLite drops a table's triggers with the table: a
#: batch migration that rebuilds ``invoices`` must create this one again.)
ISSUED_NUMBER_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION issued_invoice_keeps_its_number() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'issued' AND (
        NEW.status IS DISTINCT FROM OLD.status
        OR NEW.series IS DISTINCT FROM OLD.series
        OR NEW.fiscal_year IS DISTINCT FROM OLD.fiscal_year
        OR NEW.sequence IS DISTINCT FROM OLD.sequence
        OR NEW.number IS DISTINCT FROM OLD.number
    ) THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE =
            'invoice ' || OLD.number || ' is issued: its status and number never change';
    END IF;
    RETURN NEW;
END
$$
"""
ISSUED_NUMBER_TRIGGER_SQL = """
CREATE TRIGGER invoices_issued_keep_number
BEFORE UPDATE ON invoices
FOR EACH ROW EXECUTE FUNCTION issued_invoice_keeps_its_number()
"""
DROP_ISSUED_NUMBER_FUNCTION_SQL = "DROP FUNCTION IF EXISTS issued_invoice_keeps_its_number()"
ISSUED_NUMBER_SQLITE_TRIGGER_SQL = """
CREATE TRIGGER invoices_issued_keep_number
BEFORE UPDATE OF status, series, fiscal_year, sequence, number ON invoices
FOR EACH ROW
WHEN OLD.status = 'issued' AND (
    NEW.status IS NOT OLD.status
    OR NEW.series IS NOT OLD.series
    OR NEW.fiscal_year IS NOT OLD.fiscal_year
    OR NEW.sequence IS NOT OLD.sequence
    OR NEW.number IS NOT OLD.number
)
BEGIN
    SELECT RAISE(ABORT, 'an issued invoice: its status and number never change');
END
"""

for _statement in (ISSUED_NUMBER_FUNCTION_SQL, ISSUED_NUMBER_TRIGGER_SQL):
    event.listen(
        Invoice.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql")
    )
event.listen(
    Invoice.__table__,
    "after_create",
    DDL(ISSUED_NUMBER_SQLITE_TRIGGER_SQL).execute_if(dialect="sqlite"),
)
event.listen(
    Invoice.__table__,
    "after_drop",
    DDL(DROP_ISSUED_NUMBER_FUNCTION_SQL).execute_if(dialect="postgresql"),
)
