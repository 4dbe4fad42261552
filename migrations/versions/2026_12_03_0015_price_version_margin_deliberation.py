"""Price versions keep the deliberation of their margin rate, beside their rate.

A version copies its family's margin rate when it is recorded; it now copies the
deliberation that set that rate too, so that the legal basis of its rate survives a later
change of the family's rate (the margin-truth report cites it).

Data step: the versions recorded before this revision get their family's *current* margin
deliberation, the only one the database knows. It is the right one for every version
recorded since the family's rate last changed; a version recorded under an earlier rate
(its ``margin_rate`` differs from its family's) gets the current act too, and should be
corrected by hand from the syndicat's register if that matters. Versions of a family that
cites no deliberation keep none. The catalogue's version is renewed, as for every write to
the catalogue.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 08:30:00.000000
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("price_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("margin_deliberation_reference", sa.String(length=100), nullable=True)
        )
        batch_op.add_column(sa.Column("margin_deliberation_date", sa.Date(), nullable=True))

    # Each existing version: its family's current margin deliberation (see the docstring).
    for column in ("margin_deliberation_reference", "margin_deliberation_date"):
        op.execute(
            f"UPDATE price_versions SET {column} = ("
            f"SELECT product_families.{column} FROM products "
            "JOIN product_families ON product_families.id = products.family_id "
            "WHERE products.id = price_versions.product_id)"
        )

    with op.batch_alter_table("price_versions", schema=None) as batch_op:
        batch_op.create_check_constraint(
            "margin_deliberation_whole",
            "(margin_deliberation_reference IS NULL) = (margin_deliberation_date IS NULL)",
        )

    state = sa.table("catalog_state", sa.column("version", sa.String(32)))
    op.execute(state.update().values(version=secrets.token_hex(16)))


def downgrade() -> None:
    with op.batch_alter_table("price_versions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_price_versions_margin_deliberation_whole"), type_="check"
        )
        batch_op.drop_column("margin_deliberation_date")
        batch_op.drop_column("margin_deliberation_reference")
