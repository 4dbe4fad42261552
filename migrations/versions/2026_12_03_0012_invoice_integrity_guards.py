"""Integrity guards of invoices: a subscription line always carries its period, an issued
invoice keeps its status and number (a trigger, on PostgreSQL and SQLite), and the stored
Factur-X XML is hashed like the PDF.

- ``ck_invoice_lines_subscription_line_has_period``: the unique index "one line per
  subscription, period and stretch" ignores rows with a NULL in it; a subscription line
  must therefore have its ``billed_period_start`` and ``service_start`` (the billing run
  always writes both).
- ``invoices_issued_keep_number``: an issued invoice never goes back to draft, nor changes
  its series, fiscal year, sequence or number, whoever writes.
- ``invoice_documents.xml_sha256``: the SHA-256 of the stored XML, computed here for the
  documents already stored (the XML is as issued: nothing changed it before this check).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 07:20:00.000000
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Documents hashed per round trip: a few XML files in memory, never all.
_BATCH = 200

# As in purchasing.billing.models when this revision was written.
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


def upgrade() -> None:
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_invoice_lines_subscription_line_has_period"),
            "subscription_id IS NULL "
            "OR (billed_period_start IS NOT NULL AND service_start IS NOT NULL)",
        )

    with op.batch_alter_table("invoice_documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("xml_sha256", sa.String(length=64), nullable=True))
    _hash_stored_xml()
    with op.batch_alter_table("invoice_documents", schema=None) as batch_op:
        batch_op.alter_column("xml_sha256", existing_type=sa.String(length=64), nullable=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(ISSUED_NUMBER_FUNCTION_SQL)
        op.execute(ISSUED_NUMBER_TRIGGER_SQL)
    else:
        op.execute(ISSUED_NUMBER_SQLITE_TRIGGER_SQL)


def _hash_stored_xml() -> None:
    """The SHA-256 of each stored XML, in batches of documents."""
    bind = op.get_bind()
    documents = sa.table(
        "invoice_documents",
        sa.column("invoice_id", sa.Integer()),
        sa.column("xml", sa.LargeBinary()),
        sa.column("xml_sha256", sa.String(64)),
    )
    ids = bind.scalars(sa.select(documents.c.invoice_id).order_by(documents.c.invoice_id)).all()
    for start in range(0, len(ids), _BATCH):
        batch = ids[start : start + _BATCH]
        rows = bind.execute(
            sa.select(documents.c.invoice_id, documents.c.xml).where(
                documents.c.invoice_id.in_(batch)
            )
        ).all()
        bind.execute(
            documents.update()
            .where(documents.c.invoice_id == sa.bindparam("document_id"))
            .values(xml_sha256=sa.bindparam("digest")),
            [
                {"document_id": invoice_id, "digest": hashlib.sha256(xml).hexdigest()}
                for invoice_id, xml in rows
            ],
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS invoices_issued_keep_number ON invoices")
        op.execute("DROP FUNCTION IF EXISTS issued_invoice_keeps_its_number()")
    else:
        op.execute("DROP TRIGGER IF EXISTS invoices_issued_keep_number")

    with op.batch_alter_table("invoice_documents", schema=None) as batch_op:
        batch_op.drop_column("xml_sha256")

    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("ck_invoice_lines_subscription_line_has_period"), type_="check"
        )
