"""Benchmark: the FEC export of a year of 1 000 000 journal lines, its time and memory.

    .venv/bin/python bench/ledger_fec.py                 # scratch SQLite file
    BENCH_DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/ledger_fec.py
    .venv/bin/python bench/ledger_fec.py --lines 200000  # a smaller run

The books are built first, with bulk inserts (250 000 entries of 4 lines), in a process of
their own. The export then runs in a fresh process, so that its peak resident memory
(``ru_maxrss``) is the export's and not the build's; it writes the FEC to a temporary
file and checks it has one record per line, then exports once more under ``tracemalloc``
to show what the export itself allocates at most (a streaming export: a few MB).
Targets: 1M lines in 15 s at most, peak memory under 200 MB. The scratch database is
dropped at the end (a PostgreSQL database must be one that can be emptied: every table of
the application is dropped and rebuilt).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_SECONDS = 15.0
TARGET_MEGABYTES = 200.0
YEAR = 2026
#: Accounts a sale and a purchase use, labelled as the shipped chart has them (en dashes).
ACCOUNTS = {
    "4111": "Clients \u2013 amiable",
    "4011": "Fournisseurs \u2013 achats de biens et prestations de services",
    "44571": "TVA collectée",
    "44566": "TVA sur autres biens et services",
    "6041": "Achats d'études et prestations \u2013 vidéoprotection",
    "7061": "Prestations de services \u2013 vidéoprotection",
}


def build(url: str, lines: int) -> dict[str, float]:
    """Fresh schema, then ``lines`` journal lines (entries of 4) by bulk inserts."""
    from sqlalchemy import insert

    from purchasing.catalog.models import Account
    from purchasing.db import drop_every_table, make_engine
    from purchasing.events import DomainEvent
    from purchasing.ledger.models import FiscalYear, JournalEntry, JournalLine
    from purchasing.models import metadata

    started = time.perf_counter()
    engine = make_engine(url)
    drop_every_table(engine)
    metadata.create_all(engine)
    entries = lines // 4
    posted_at = datetime(YEAR + 1, 1, 5, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Account),
            [
                {"number": number, "label": label, "kind": kind}
                for number, label, kind in _accounts()
            ],
        )
        conn.execute(insert(FiscalYear), [{"year": YEAR, "opened_at": posted_at}])
    batch = 5_000
    for first in range(1, entries + 1, batch):
        ids = range(first, min(first + batch, entries + 1))
        with engine.begin() as conn:
            conn.execute(
                insert(DomainEvent),
                [
                    {
                        "id": n,
                        "kind": "invoice.issued" if n % 2 else "purchase.recorded",
                        "entity": "bench",
                        "entity_id": str(n),
                        "payload": {},
                        "occurred_at": posted_at,
                        "consumed_at": posted_at,
                    }
                    for n in ids
                ],
            )
            conn.execute(insert(JournalEntry), [_entry(n, posted_at) for n in ids])
            conn.execute(insert(JournalLine), [line for n in ids for line in _lines(n)])
    engine.dispose()
    return {"build_seconds": time.perf_counter() - started, "entries": entries}


def _accounts():
    from purchasing.catalog.models import AccountKind

    for number, label in ACCOUNTS.items():
        yield number, label, AccountKind.of_number(number)


def _entry(n: int, posted_at: datetime) -> dict:
    sale = n % 2 == 1
    return {
        "id": n,
        "fiscal_year": YEAR,
        "sequence": n,
        "entry_date": date(YEAR, 1, 1) + timedelta(days=n * 365 // (n + 1000) % 365),
        "journal": "VE" if sale else "AC",
        "document_reference": f"{'FA' if sale else 'F'}-{YEAR}-{n:06d}",
        "label": f"{'Facture' if sale else 'Facture fournisseur'} {n} - Commune n° {n % 430}",
        "source_event_id": n,
        "source_kind": "invoice.issued" if sale else "purchase.recorded",
        "total": _amounts(n)[2],
        "posted_at": posted_at,
    }


def _amounts(n: int):
    from decimal import Decimal

    net = Decimal(1000 + (n * 7919) % 900_000).scaleb(-2)
    vat = (net * Decimal("0.2")).quantize(Decimal("0.01"))
    return net, vat, net + vat


def _lines(n: int) -> list[dict]:
    net, vat, gross = _amounts(n)
    if n % 2:  # a sale: member debited, sales and VAT credited
        parts = [
            ("4111", f"M{n % 430:05d}", f"Commune n° {n % 430}", gross, 0),
            ("7061", None, None, 0, net - 1),
            ("7061", None, None, 0, 1),
            ("44571", None, None, 0, vat),
        ]
    else:  # a purchase: purchases and VAT debited, the supplier credited
        parts = [
            ("6041", None, None, net - 1, 0),
            ("6041", None, None, 1, 0),
            ("44566", None, None, vat, 0),
            ("4011", "VIGIE", "Vigie Systèmes", 0, gross),
        ]
    return [
        {
            "entry_id": n,
            "position": position,
            "account_number": account,
            "auxiliary_number": aux,
            "auxiliary_label": aux_label,
            "debit": debit,
            "credit": credit,
        }
        for position, (account, aux, aux_label, debit, credit) in enumerate(parts, start=1)
    ]


def export(url: str) -> dict[str, float]:
    """Export the year's FEC to a temporary file; time, peak memory, lines written."""
    from sqlalchemy.orm import Session

    from purchasing.config import load_config
    from purchasing.db import make_engine
    from purchasing.ledger.exports import ExportScope, fec_chunks, write_chunks
    from purchasing.ledger.settings import settings_from_config

    engine = make_engine(url)
    settings = settings_from_config(load_config())
    baseline = _peak_megabytes()
    with tempfile.TemporaryFile() as out, Session(engine) as session:
        started = time.perf_counter()
        size = write_chunks(fec_chunks(session, ExportScope.for_year(YEAR), settings), out)
        seconds = time.perf_counter() - started
        out.seek(0)
        records = sum(1 for _ in out) - 1  # less the header
    peak = _peak_megabytes()
    # Once more under tracemalloc (slower): what the export itself allocates at most.
    with open(os.devnull, "wb") as out, Session(engine) as session:
        tracemalloc.start()
        write_chunks(fec_chunks(session, ExportScope.for_year(YEAR), settings), out)
        heap_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    engine.dispose()
    return {
        "export_seconds": seconds,
        "peak_megabytes": peak,
        "baseline_megabytes": baseline,
        "heap_peak_megabytes": heap_peak / 1e6,
        "records": records,
        "megabytes_written": size / 1e6,
    }


def _peak_megabytes() -> float:
    """Peak resident memory of this process (ru_maxrss: kB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _run_phase(phase: str, url: str, lines: int) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--url", url, "--lines", str(lines)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--phase", choices=["build", "export"])
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.phase:  # a child process: one phase, its figures as JSON on the last line
        figures = build(args.url, args.lines) if args.phase == "build" else export(args.url)
        print(json.dumps(figures))
        return 0

    with tempfile.TemporaryDirectory() as scratch:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{scratch}/bench.sqlite3"
        database = url.split("@")[-1] if "@" in url else "scratch SQLite"
        print(f"ledger FEC export: {args.lines:,} journal lines in {database}")
        built = _run_phase("build", url, args.lines)
        print(f"  built {int(built['entries']):,} entries in {built['build_seconds']:.1f} s")
        result = _run_phase("export", url, args.lines)
        _drop(url)
    rate = result["records"] / result["export_seconds"]
    print(
        f"  FEC export: {result['records']:,} records, {result['megabytes_written']:.0f} MB "
        f"in {result['export_seconds']:.2f} s ({rate:,.0f} lines/s)"
    )
    print(
        f"  peak memory (RSS): {result['peak_megabytes']:.0f} MB "
        f"(of which {result['baseline_megabytes']:.0f} MB before the export began)"
    )
    print(f"  Python heap peak of the export (tracemalloc): {result['heap_peak_megabytes']:.1f} MB")
    expected = args.lines // 4 * 4
    checks = {
        "every line exported": result["records"] == expected,
        f"time <= {TARGET_SECONDS:.0f} s per million lines": result["export_seconds"]
        <= TARGET_SECONDS * max(args.lines, 1) / 1_000_000,
        f"peak memory < {TARGET_MEGABYTES:.0f} MB": result["peak_megabytes"] < TARGET_MEGABYTES,
    }
    for label, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {label}")
    return 0 if all(checks.values()) else 1


def _drop(url: str) -> None:
    if url.startswith("sqlite"):
        return  # the scratch directory goes with it
    from purchasing.db import make_engine
    from purchasing.models import metadata

    engine = make_engine(url)
    metadata.drop_all(engine)
    engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
