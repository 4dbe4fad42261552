"""Market lot commitments per year: an order commits to a lot once per calendar year.

A subscription's raised quantity commits the added units to its lot's ceiling of the year
the centre agrees to them, which may not be the year the order was approved: the order
then has a commitment row for each of those years. The unique constraint goes from
(lot, order) to (lot, order, year); every existing row stays valid.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 07:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("market_lot_commitments", schema=None) as batch_op:
        batch_op.drop_constraint("uq_market_lot_commitments_lot_id_order_id", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_market_lot_commitments_lot_id_order_id_year"),
            ["lot_id", "order_id", "year"],
        )


def downgrade() -> None:
    # Refused by the database if an order already committed to a lot in two years: those
    # rows cannot be folded into one without choosing a year for the sum.
    with op.batch_alter_table("market_lot_commitments", schema=None) as batch_op:
        batch_op.drop_constraint("uq_market_lot_commitments_lot_id_order_id_year", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_market_lot_commitments_lot_id_order_id"), ["lot_id", "order_id"]
        )
