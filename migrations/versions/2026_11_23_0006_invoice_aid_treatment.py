"""Invoices keep the VAT treatment of their FEDER aid; a supplier invoice's total is
checked in cents (SQLite compared the amounts as binary floats and refused exact ones).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 08:16:52.186595
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOTAL_CHECK = "total_is_sum_of_parts"
IN_CENTS = "ROUND(total_incl_vat * 100) = ROUND(total_excl_vat * 100) + ROUND(total_vat * 100)"
EXACT = "total_incl_vat = total_excl_vat + total_vat"


def upgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("aid_in_vat_base", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("supplier_invoices", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f(f"ck_supplier_invoices_{TOTAL_CHECK}"), type_="check")
        batch_op.create_check_constraint(TOTAL_CHECK, IN_CENTS)


def downgrade() -> None:
    with op.batch_alter_table("supplier_invoices", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f(f"ck_supplier_invoices_{TOTAL_CHECK}"), type_="check")
        batch_op.create_check_constraint(TOTAL_CHECK, EXACT)
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("aid_in_vat_base")
