"""Billing runs show their progress: members done so far, and why a run failed.

``members_done`` counts the members an attempt has invoiced, committed as it goes, so that
the run's page can follow a run working in the background; ``error`` keeps why the last
attempt stopped (status ``failed``, a new value of the unconstrained status column).
Runs recorded before have done nothing in progress: 0, and no error.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 09:08:52.235135
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("billing_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("members_done", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("billing_runs", schema=None) as batch_op:
        batch_op.drop_column("error")
        batch_op.drop_column("members_done")
