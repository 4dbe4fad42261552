"""A backup restored gives back the same books: trial balance, entries, FEC, byte for byte.

On a database that commits (SQLite file, or PostgreSQL through pg_dump / pg_restore), a
month is billed and posted; ``centrale db backup`` is taken while nothing is stopped; then
the backup is restored twice: into a new, empty database, and over the original after
another month was billed and posted and the audit trail was lost. Each time the ledger
read back is the one of the backup. The commands run in this process (the same click
commands, without starting an interpreter each time).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from purchasing.fields import today_in_paris
from purchasing.migrate import upgrade
from tests.faults.invariants import centrale_here as centrale


def _books(url: str, out: Path, year: int) -> dict[str, object]:
    """The ledger as an auditor receives it: check line, trial balance and FEC files."""
    out.mkdir(parents=True, exist_ok=True)
    checked = centrale(url, "ledger", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    files = {}
    for report, name in (("fec", "fec.txt"), ("trial-balance", "trial-balance.csv")):
        exported = centrale(url, "ledger", "export", report, str(year), "--output", str(out / name))
        assert exported.returncode == 0, exported.stderr
        files[report] = (out / name).read_bytes()
    return {"check": checked.stdout.strip(), **files}


def test_a_restored_backup_holds_the_same_ledger(billed_world, scratch_database, tmp_path):
    world = billed_world("backup")
    year = today_in_paris().year
    billed = centrale(world.url, "billing", "run", world.period)
    assert billed.returncode == 0, billed.stderr
    assert centrale(world.url, "ledger", "post").returncode == 0
    books = _books(world.url, tmp_path / "before", year)
    assert books["check"].startswith(f"{len(world.members)} entries")
    assert len(books["fec"].splitlines()) > len(world.members)  # header and lines

    backup = tmp_path / "centrale.backup"
    made = centrale(world.url, "db", "backup", str(backup))
    assert made.returncode == 0, made.stderr
    assert backup.stat().st_size > 0

    # Into a new, empty database.
    fresh = scratch_database("restored")
    restored = centrale(fresh, "db", "restore", str(backup), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert _books(fresh, tmp_path / "fresh", year) == books
    upgrade(fresh)  # the restored database is at the same migration: nothing to do

    # Over the original, after it moved on (this month billed and posted) and lost rows.
    this_month = f"{today_in_paris():%Y-%m}"
    assert centrale(world.url, "billing", "run", this_month).returncode == 0
    assert centrale(world.url, "ledger", "post").returncode == 0
    assert _books(world.url, tmp_path / "moved", year) != books
    with world.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_records"))
    world.engine.dispose()
    restored = centrale(world.url, "db", "restore", str(backup), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert _books(world.url, tmp_path / "again", year) == books
    with world.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM audit_records")) > 0


def test_restore_refuses_a_file_that_is_not_a_backup(billed_world, tmp_path):
    world = billed_world("refuse")
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a database")
    refused = centrale(world.url, "db", "restore", str(bogus), "--yes")
    assert refused.returncode == 1
    assert "error:" in refused.stderr
    missing = centrale(world.url, "db", "restore", str(tmp_path / "nothing"), "--yes")
    assert missing.returncode == 1
    assert "no backup file" in missing.stderr
