"""Migration 0007 gives the lines posted before it the invoice each belongs to, so that
they letter and are carried forward like the lines posted since.

Run on a scratch SQLite file whatever the suite's database: it builds the schema as it
was before the migration, writes posted books into it, then migrates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from purchasing.db import make_engine
from purchasing.migrate import alembic_config, upgrade

REVISION = "0007"
NOW = datetime(2026, 5, 1, tzinfo=UTC)


def _event(conn, tables, event_id: int, kind: str, entity_id: int, payload: dict) -> None:
    conn.execute(
        sa.insert(tables["domain_events"]).values(
            id=event_id,
            kind=kind,
            entity="test",
            entity_id=str(entity_id),
            payload=payload,
            occurred_at=NOW,
            consumed_at=NOW,
        )
    )


def _entry(conn, tables, entry_id: int, kind: str, journal: str, lines) -> None:
    """An entry posting event ``entry_id``: lines of (account, auxiliary, debit, credit)."""
    conn.execute(
        sa.insert(tables["journal_entries"]).values(
            id=entry_id,
            fiscal_year=2026,
            sequence=entry_id,
            entry_date=date(2026, 3, entry_id),
            journal=journal,
            document_reference=f"DOC-{entry_id}",
            label="posted before lettering",
            source_event_id=entry_id,
            source_kind=kind,
            total=sum(debit for _a, _x, debit, _c in lines),
            posted_at=NOW,
        )
    )
    conn.execute(
        sa.insert(tables["journal_lines"]),
        [
            {
                "entry_id": entry_id,
                "position": position,
                "account_number": account,
                "auxiliary_number": auxiliary,
                "auxiliary_label": auxiliary,
                "debit": debit,
                "credit": credit,
            }
            for position, (account, auxiliary, debit, credit) in enumerate(lines, start=1)
        ],
    )


def test_lines_posted_before_the_migration_get_their_invoice(tmp_path):
    url = f"sqlite:///{tmp_path / 'before-lettering.sqlite3'}"
    config = alembic_config(url)
    previous = ScriptDirectory.from_config(config).get_revision(REVISION).down_revision
    upgrade(url, previous)
    engine = make_engine(url)
    tables = sa.MetaData()
    tables.reflect(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(tables.tables["accounts"]),
            [
                {"number": number, "label": number, "kind": kind}
                for number, kind in [
                    ("4111", "third_party"),
                    ("4011", "third_party"),
                    ("441", "third_party"),
                    ("515", "treasury"),
                    ("6042", "expense"),
                    ("7062", "revenue"),
                ]
            ],
        )
        conn.execute(
            sa.insert(tables.tables["fiscal_years"]).values(year=2026, status="open", opened_at=NOW)
        )
        t = tables.tables
        _event(conn, t, 1, "invoice.issued", 7, {"number": "FA-2026-000001", "member_id": 12})
        _entry(
            conn,
            t,
            1,
            "invoice.issued",
            "VE",
            [("4111", "M00012", 90, 0), ("441", "FEDER-2024", 10, 0), ("7062", None, 0, 100)],
        )
        _event(
            conn,
            t,
            2,
            "payment.received",
            3,
            {"invoice_number": "FA-2026-000001", "member_id": 12},
        )
        _entry(
            conn, t, 2, "payment.received", "BQ", [("515", None, 50, 0), ("4111", "M00012", 0, 50)]
        )
        _event(
            conn,
            t,
            3,
            "credit_note.issued",
            8,
            {"number": "AV-2026-000001", "member_id": 12, "corrected_invoice_id": 7},
        )
        _entry(
            conn,
            t,
            3,
            "credit_note.issued",
            "VE",
            [("7062", None, 40, 0), ("4111", "M00012", 0, 40)],
        )
        _event(conn, t, 4, "purchase.recorded", 5, {"invoice_number": "HPN-7", "supplier_id": 1})
        _entry(
            conn, t, 4, "purchase.recorded", "AC", [("6042", None, 30, 0), ("4011", "HPN", 0, 30)]
        )
    engine.dispose()

    command.upgrade(config, REVISION)

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            lines = conn.execute(
                sa.text(
                    "SELECT entry_id, account_number, matching_reference FROM journal_lines "
                    "ORDER BY entry_id, position"
                )
            ).all()
    finally:
        engine.dispose()
    assert [tuple(line) for line in lines] == [
        (1, "4111", "FA-2026-000001"),
        (1, "441", None),  # the programme's share: not a member's debt
        (1, "7062", None),
        (2, "515", None),
        (2, "4111", "FA-2026-000001"),
        (3, "7062", None),
        (3, "4111", "FA-2026-000001"),  # the invoice the credit note corrects
        (4, "6042", None),
        (4, "4011", "HPN-7"),
    ]
