"""Ledger: lettering of members' and suppliers' lines, and the year-end closing.

Journal lines on a member's or a supplier's account get the invoice they belong to
(``matching_reference``, filled here for the lines already posted, from the events their
entries posted); letterings and their lines get tables of their own, so that entries stay
as written. Entry 0 of a year becomes its opening entry (à-nouveaux), journal AN only.

Revision ID: 0007
Revises: 0009
Create Date: 2026-11-23 09:16:31.970683
"""

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "letterings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("account_number", sa.String(length=10), nullable=False),
        sa.Column("auxiliary_number", sa.String(length=40), nullable=False),
        sa.Column("matching_reference", sa.String(length=100), nullable=False),
        sa.Column("lettered_on", sa.Date(), nullable=False),
        sa.Column("lettered_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("sequence > 0", name=op.f("ck_letterings_sequence_positive")),
        sa.ForeignKeyConstraint(
            ["account_number"],
            ["accounts.number"],
            name=op.f("fk_letterings_account_number_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["fiscal_year"],
            ["fiscal_years.year"],
            name=op.f("fk_letterings_fiscal_year_fiscal_years"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letterings")),
        sa.UniqueConstraint(
            "fiscal_year", "sequence", name=op.f("uq_letterings_fiscal_year_sequence")
        ),
    )
    op.create_table(
        "lettered_lines",
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("lettering_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lettering_id"],
            ["letterings.id"],
            name=op.f("fk_lettered_lines_lettering_id_letterings"),
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["journal_lines.id"], name=op.f("fk_lettered_lines_line_id_journal_lines")
        ),
        sa.PrimaryKeyConstraint("line_id", name=op.f("pk_lettered_lines")),
    )
    with op.batch_alter_table("lettered_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lettered_lines_lettering_id"), ["lettering_id"], unique=False
        )

    with op.batch_alter_table("journal_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("matching_reference", sa.String(length=100), nullable=True))
        batch_op.create_index(
            "ix_journal_lines_matching",
            ["account_number", "auxiliary_number", "matching_reference"],
            unique=False,
        )
        batch_op.create_check_constraint(
            "matching_reference_has_auxiliary",
            "matching_reference IS NULL OR auxiliary_number IS NOT NULL",
        )
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_journal_entries_sequence_positive"), type_="check")
        batch_op.create_check_constraint("sequence_not_negative", "sequence >= 0")
        batch_op.create_check_constraint(
            "opening_is_entry_zero", "(journal = 'AN') = (sequence = 0)"
        )
    _fill_matching_references()


def downgrade() -> None:
    # Refused by the database once a year has an opening entry (entry 0): as it should.
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_journal_entries_opening_is_entry_zero"), type_="check"
        )
        batch_op.drop_constraint(
            batch_op.f("ck_journal_entries_sequence_not_negative"), type_="check"
        )
        batch_op.create_check_constraint("sequence_positive", "sequence > 0")
    with op.batch_alter_table("journal_lines", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_journal_lines_matching_reference_has_auxiliary"), type_="check"
        )
        batch_op.drop_index("ix_journal_lines_matching")
        batch_op.drop_column("matching_reference")

    with op.batch_alter_table("lettered_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lettered_lines_lettering_id"))

    op.drop_table("lettered_lines")
    op.drop_table("letterings")


# --- Lines posted before this revision ------------------------------------------------

_EVENTS = sa.table(
    "domain_events",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("entity_id", sa.String),
    sa.column("payload", sa.JSON),
)
_ENTRIES = sa.table(
    "journal_entries", sa.column("id", sa.Integer), sa.column("source_event_id", sa.Integer)
)
_LINES = sa.table(
    "journal_lines",
    sa.column("entry_id", sa.Integer),
    sa.column("auxiliary_number", sa.String),
    sa.column("matching_reference", sa.String),
)
_BATCH = 5_000


def _fill_matching_references() -> None:
    """The matching reference the posting rules of this revision give, on lines posted
    before it: the invoice's number on its member's line, the number a payment pays or
    a credit note corrects, the supplier's invoice number on the supplier's line."""
    bind = op.get_bind()
    invoice_numbers = {
        entity_id: payload.get("number")
        for entity_id, payload in bind.execute(
            sa.select(_EVENTS.c.entity_id, _EVENTS.c.payload).where(
                _EVENTS.c.kind == "invoice.issued"
            )
        )
    }
    # Of an invoice, a credit note or a payment: the member's line (not the programmes').
    members_line = (
        sa.update(_LINES)
        .where(
            _LINES.c.entry_id == sa.bindparam("entry"),
            _LINES.c.auxiliary_number == sa.bindparam("party"),
        )
        .values(matching_reference=sa.bindparam("reference"))
    )
    # Of a supplier's invoice: its one line with an auxiliary account, the supplier's.
    suppliers_line = (
        sa.update(_LINES)
        .where(_LINES.c.entry_id == sa.bindparam("entry"), _LINES.c.auxiliary_number.is_not(None))
        .values(matching_reference=sa.bindparam("reference"))
    )
    for batch in _posted_events(bind):
        updates: dict[Any, list[dict[str, Any]]] = {members_line: [], suppliers_line: []}
        for entry_id, kind, payload in batch:
            found = _matching(kind, payload, invoice_numbers)
            if found is None:
                continue
            party, reference = found
            values = {"entry": entry_id, "reference": reference[:100]}
            if party is None:
                updates[suppliers_line].append(values)
            else:
                updates[members_line].append({**values, "party": party})
        for statement, rows in updates.items():
            if rows:
                bind.execute(statement, rows)


def _posted_events(bind: Any) -> Iterator[list[Any]]:
    """(entry id, event kind, payload) of the entries that may have such a line."""
    last = 0
    while True:
        batch = bind.execute(
            sa.select(_ENTRIES.c.id, _EVENTS.c.kind, _EVENTS.c.payload)
            .join(_EVENTS, _ENTRIES.c.source_event_id == _EVENTS.c.id)
            .where(
                _ENTRIES.c.id > last,
                _EVENTS.c.kind.in_(
                    [
                        "invoice.issued",
                        "credit_note.issued",
                        "payment.received",
                        "purchase.recorded",
                    ]
                ),
            )
            .order_by(_ENTRIES.c.id)
            .limit(_BATCH)
        ).all()
        if not batch:
            return
        yield batch
        last = batch[-1][0]


def _matching(
    kind: str, payload: dict[str, Any], invoice_numbers: dict[str, Any]
) -> tuple[str | None, str] | None:
    """(the member's auxiliary account, or None for any party line; the reference)."""
    if kind == "purchase.recorded":  # its one party line is the supplier's
        reference = payload.get("invoice_number")
        return (None, reference) if reference else None
    member = f"M{payload.get('member_id', 0):05d}"
    reference = (
        payload.get("invoice_number") if kind == "payment.received" else payload.get("number")
    )
    corrected = payload.get("corrected_invoice_id")
    if kind == "credit_note.issued" and corrected is not None:
        reference = invoice_numbers.get(str(corrected)) or reference
    return (member, reference) if reference else None
