"""Index invoices by the invoice they correct.

The receivables and each invoice's page look up the credit notes of an invoice
(``corrected_invoice_id``); without an index every lookup read the whole table, and the
receivables of 60 000 invoices took minutes instead of seconds.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 10:48:23.472036
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoices_corrected_invoice_id"), ["corrected_invoice_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoices_corrected_invoice_id"))
