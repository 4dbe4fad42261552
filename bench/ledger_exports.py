"""Benchmark: the journal and general ledger as XLSX (and CSV beside), rows/s and memory.

    .venv/bin/python bench/ledger_exports.py                  # 200 000 lines, scratch SQLite
    .venv/bin/python bench/ledger_exports.py --lines 1000000
    BENCH_DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/ledger_exports.py

The books are built as for ``bench/ledger_fec.py`` (entries of 4 lines, bulk inserts), in
a process of their own. Each export then runs in a fresh process, so that its peak
resident memory (``ru_maxrss``) is the export's: it writes the file to a temporary
directory, and the XLSX is checked by counting the rows of its sheets in the zip (every
line, plus the header and the totals). CPU time is printed beside the elapsed time: on a
shared machine it is the steadier figure, and the one the speed target is checked on.
Targets: XLSX at 10 000 rows per CPU second at least, peak memory under 200 MB whatever
the size (rows are streamed to disk).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger_fec import YEAR, _drop, _peak_megabytes, build

TARGET_ROWS_PER_SECOND = 10_000
TARGET_MEGABYTES = 200.0
#: (report, format) pairs measured, each in its own process.
CASES = (
    ("journal", "xlsx"),
    ("general-ledger", "xlsx"),
    ("journal", "csv"),
)


def export(url: str, report_name: str, file_format: str) -> dict[str, float]:
    """Write one report to a temporary file; time, peak memory, rows written."""
    from sqlalchemy.orm import Session

    from purchasing.db import make_engine
    from purchasing.ledger.exports import REPORTS, ExportScope, report_chunks, write_chunks

    engine = make_engine(url)
    baseline = _peak_megabytes()
    with tempfile.TemporaryDirectory() as scratch, Session(engine) as session:
        path = Path(scratch) / f"{report_name}.{file_format}"
        started, cpu_started = time.perf_counter(), time.process_time()
        report = REPORTS[report_name](session, ExportScope.for_year(YEAR))
        with path.open("wb") as out:
            size = write_chunks(report_chunks(report, file_format, organisation="bench"), out)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        rows = _xlsx_rows(path) if file_format == "xlsx" else _csv_rows(path)
    engine.dispose()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "rows": rows,
        "lines": report.line_count,
        "megabytes_written": size / 1e6,
        "peak_megabytes": _peak_megabytes(),
        "baseline_megabytes": baseline,
    }


def _xlsx_rows(path: Path) -> int:
    """Rows of every sheet of the workbook, counted in its XML without loading it."""
    rows = 0
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", name):
                with archive.open(name) as sheet:
                    tail = b""
                    while chunk := sheet.read(1 << 20):
                        data = tail + chunk
                        rows += data.count(b"<row ")
                        tail = data[-4:]  # a tag cut between two reads is counted once
    return rows


def _csv_rows(path: Path) -> int:
    with path.open("rb") as file:
        return sum(1 for _ in file)


def _run_phase(args: list[str]) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--phase", choices=["build", "export"])
    parser.add_argument("--url")
    parser.add_argument("--report", default="journal")
    parser.add_argument("--format", default="xlsx")
    args = parser.parse_args()
    if args.phase:  # a child process: one phase, its figures as JSON on the last line
        if args.phase == "build":
            figures = build(args.url, args.lines)
        else:
            figures = export(args.url, args.report, args.format)
        print(json.dumps(figures))
        return 0

    checks: dict[str, bool] = {}
    with tempfile.TemporaryDirectory() as scratch:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{scratch}/bench.sqlite3"
        database = url.split("@")[-1] if "@" in url else "scratch SQLite"
        print(f"ledger exports: {args.lines:,} journal lines in {database}")
        built = _run_phase(["--phase", "build", "--url", url, "--lines", str(args.lines)])
        print(f"  built {int(built['entries']):,} entries in {built['build_seconds']:.1f} s")
        for report, file_format in CASES:
            result = _run_phase(
                ["--phase", "export", "--url", url, "--report", report, "--format", file_format]
            )
            rate = result["rows"] / result["seconds"]
            print(
                f"  {report} {file_format.upper()}: {int(result['rows']):,} rows, "
                f"{result['megabytes_written']:.0f} MB in {result['seconds']:.2f} s "
                f"({rate:,.0f} rows/s; CPU {result['cpu_seconds']:.2f} s, "
                f"{result['rows'] / result['cpu_seconds']:,.0f} rows per CPU second), "
                f"peak memory (RSS) {result['peak_megabytes']:.0f} MB "
                f"({result['baseline_megabytes']:.0f} MB before the export began)"
            )
            lines = int(result["lines"])
            # XLSX: header and total rows too (one total per account in the ledger).
            least = lines + 1 if file_format == "csv" else lines + 2
            checks[f"{report} {file_format}: every line written"] = result["rows"] >= least
            checks[f"{report} {file_format}: peak memory < {TARGET_MEGABYTES:.0f} MB"] = (
                result["peak_megabytes"] < TARGET_MEGABYTES
            )
            if file_format == "xlsx":
                checks[f"{report} xlsx: >= {TARGET_ROWS_PER_SECOND:,} rows per CPU second"] = (
                    result["rows"] / result["cpu_seconds"] >= TARGET_ROWS_PER_SECOND
                )
        _drop(url)
    for label, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {label}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
