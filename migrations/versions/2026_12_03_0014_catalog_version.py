"""The catalogue's version: one row whose value changes with every catalogue write, so
that what is computed from the catalogue (the API's page cache) can be keyed on it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 07:40:00.000000
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    state = op.create_table(
        "catalog_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_state")),
    )
    # Drawn here, as the application draws every later one: never a value seen elsewhere.
    op.bulk_insert(state, [{"id": 1, "version": secrets.token_hex(16)}])


def downgrade() -> None:
    op.drop_table("catalog_state")
