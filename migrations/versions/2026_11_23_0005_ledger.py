"""Ledger: fiscal years, journal entries and their lines, and on PostgreSQL the
constraint trigger that checks at commit that every entry balances.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 07:54:13.992326
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in purchasing.ledger.models when this revision was written.
BALANCE_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION journal_entry_balances() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    checked integer := CASE WHEN TG_OP = 'DELETE' THEN OLD.entry_id ELSE NEW.entry_id END;
    debits numeric;
    credits numeric;
    expected numeric;
BEGIN
    SELECT coalesce(sum(debit), 0), coalesce(sum(credit), 0) INTO debits, credits
        FROM journal_lines WHERE entry_id = checked;
    SELECT total INTO expected FROM journal_entries WHERE id = checked;
    IF debits <> credits OR debits <> expected THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE =
            'journal entry ' || checked || ' does not balance: debits ' || debits
            || ', credits ' || credits || ', total ' || expected;
    END IF;
    RETURN NULL;
END
$$
"""
BALANCE_TRIGGER_SQL = """
CREATE CONSTRAINT TRIGGER journal_lines_balance
AFTER INSERT OR UPDATE OR DELETE ON journal_lines
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION journal_entry_balances()
"""


def upgrade() -> None:
    op.create_table(
        "fiscal_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "closed", name="fiscalyearstatus", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(status = 'closed') = (closed_at IS NOT NULL)",
            name=op.f("ck_fiscal_years_closed_at_when_closed"),
        ),
        sa.CheckConstraint("year BETWEEN 2000 AND 2100", name=op.f("ck_fiscal_years_year_range")),
        sa.ForeignKeyConstraint(
            ["closed_by_id"], ["users.id"], name=op.f("fk_fiscal_years_closed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_fiscal_years")),
    )
    op.create_table(
        "journal_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("entry_date", sa.Date(), nullable=False),
        sa.Column(
            "journal",
            sa.Enum("VE", "AC", "BQ", "OD", name="journalcode", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("document_reference", sa.String(length=100), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("source_event_id", sa.Integer(), nullable=False),
        sa.Column("source_kind", sa.String(length=64), nullable=False),
        sa.Column("total", sa.Numeric(14, 2), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("sequence > 0", name=op.f("ck_journal_entries_sequence_positive")),
        sa.CheckConstraint("total > 0", name=op.f("ck_journal_entries_total_positive")),
        sa.ForeignKeyConstraint(
            ["fiscal_year"],
            ["fiscal_years.year"],
            name=op.f("fk_journal_entries_fiscal_year_fiscal_years"),
        ),
        sa.ForeignKeyConstraint(
            ["source_event_id"],
            ["domain_events.id"],
            name=op.f("fk_journal_entries_source_event_id_domain_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
        sa.UniqueConstraint(
            "fiscal_year", "sequence", name=op.f("uq_journal_entries_fiscal_year_sequence")
        ),
        sa.UniqueConstraint("source_event_id", name=op.f("uq_journal_entries_source_event_id")),
    )
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.create_index("ix_journal_entries_entry_date", ["entry_date"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_journal_entries_source_kind"), ["source_kind"], unique=False
        )

    op.create_table(
        "journal_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("account_number", sa.String(length=10), nullable=False),
        sa.Column("auxiliary_number", sa.String(length=40), nullable=True),
        sa.Column("auxiliary_label", sa.String(length=200), nullable=True),
        sa.Column("family_code", sa.String(length=40), nullable=True),
        sa.Column("debit", sa.Numeric(14, 2), nullable=False),
        sa.Column("credit", sa.Numeric(14, 2), nullable=False),
        sa.CheckConstraint(
            "(debit > 0 AND credit = 0) OR (debit = 0 AND credit > 0)",
            name=op.f("ck_journal_lines_one_side"),
        ),
        sa.CheckConstraint(
            "auxiliary_label IS NULL OR auxiliary_number IS NOT NULL",
            name=op.f("ck_journal_lines_auxiliary_label_has_number"),
        ),
        sa.ForeignKeyConstraint(
            ["account_number"],
            ["accounts.number"],
            name=op.f("fk_journal_lines_account_number_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_journal_lines_entry_id_journal_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_lines")),
        sa.UniqueConstraint(
            "entry_id", "position", name=op.f("uq_journal_lines_entry_id_position")
        ),
    )
    with op.batch_alter_table("journal_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_journal_lines_account_entry", ["account_number", "entry_id"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(BALANCE_FUNCTION_SQL)
        op.execute(BALANCE_TRIGGER_SQL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS journal_lines_balance ON journal_lines")
        op.execute("DROP FUNCTION IF EXISTS journal_entry_balances()")
    with op.batch_alter_table("journal_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_journal_lines_account_entry")

    op.drop_table("journal_lines")
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journal_entries_source_kind"))
        batch_op.drop_index("ix_journal_entries_entry_date")

    op.drop_table("journal_entries")
    op.drop_table("fiscal_years")
