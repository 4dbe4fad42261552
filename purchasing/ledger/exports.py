"""The books as files for auditors: journal, general ledger, trial balance, and the FEC.

Every export covers an :class:`ExportScope` (a fiscal year, or a range of entry dates)
and is a stream: rows are read from the database in batches (``yield_per``, a server-side
cursor on PostgreSQL) and written as they come, so a year of a million lines is exported
without holding it in memory. Each format is a generator of byte chunks, served as is by
the API and written to a file by the CLI.

Formats
-------
- **CSV**: UTF-8, ``;`` between fields, ``.`` as the decimal mark, ISO dates, a header
  row; data rows only (no subtotal), as auditors' tools expect.
- **XLSX**: one sheet (continued on another past Excel's 1 048 576 rows), amounts as
  numbers, totals in bold (openpyxl's write-only mode: rows go to a temporary file).
- **PDF**: see :mod:`purchasing.ledger.pdf`.
- **FEC** (article A47 A-1 of the Livre des procédures fiscales, BOI-CF-IOR-60-40-20):
  the 18 standard columns, tab-separated, a header row of the field names, dates
  ``AAAAMMJJ``, amounts with a comma and no thousands separator, entries in the order they
  were validated (their number), ISO 8859-15 text; named ``{SIREN}FEC{AAAAMMJJ}.txt``
  after the closing date.
"""

from __future__ import annotations

import csv
import io
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO, ClassVar, Literal, NamedTuple

from sqlalchemy import BigInteger, ColumnElement, Select, cast, func, select
from sqlalchemy.orm import Session

from purchasing.catalog.models import Account
from purchasing.errors import ValidationFailed
from purchasing.fields import PARIS
from purchasing.ledger.models import ENTRY_SERIES, JournalCode, JournalEntry, JournalLine
from purchasing.ledger.services import cents_sum, from_cents
from purchasing.ledger.settings import LedgerSettings
from purchasing.money import ZERO

__all__ = [
    "FEC_COLUMNS",
    "MEDIA_TYPES",
    "REPORTS",
    "Column",
    "ExportScope",
    "Report",
    "Row",
    "TrialBalanceLine",
    "csv_chunks",
    "fec_chunks",
    "fec_filename",
    "fec_records",
    "general_ledger",
    "journal",
    "report_chunks",
    "report_filename",
    "trial_balance",
    "trial_balance_lines",
    "write_chunks",
    "xlsx_chunks",
]

#: Rows fetched from the database per round trip.
BATCH_ROWS = 10_000
#: Bytes gathered before a chunk is handed on.
CHUNK_BYTES = 256 * 1024
#: Rows of an Excel sheet, header included.
XLSX_MAX_ROWS = 1_048_576


# --- What an export covers --------------------------------------------------------------


@dataclass(frozen=True)
class ExportScope:
    """A fiscal year, or the entries dated from ``date_from`` to ``date_to`` included."""

    date_from: date
    date_to: date
    fiscal_year: int | None = None

    @classmethod
    def for_year(cls, year: int) -> ExportScope:
        return cls(date(year, 1, 1), date(year, 12, 31), fiscal_year=year)

    @classmethod
    def between(cls, date_from: date, date_to: date) -> ExportScope:
        if date_to < date_from:
            raise ValidationFailed("is before the start of the range", field="date_to")
        return cls(date_from, date_to)

    @property
    def title(self) -> str:
        if self.fiscal_year is not None:
            return f"exercice {self.fiscal_year}"
        return f"du {self.date_from:%d/%m/%Y} au {self.date_to:%d/%m/%Y}"

    @property
    def slug(self) -> str:
        """For file names: ``2026`` or ``20260101-20260331``."""
        if self.fiscal_year is not None:
            return str(self.fiscal_year)
        return f"{self.date_from:%Y%m%d}-{self.date_to:%Y%m%d}"

    def conditions(self) -> list[ColumnElement[bool]]:
        if self.fiscal_year is not None:
            return [JournalEntry.fiscal_year == self.fiscal_year]
        return [JournalEntry.entry_date.between(self.date_from, self.date_to)]


# --- Reports: columns and a stream of rows ----------------------------------------------

ColumnKind = Literal["text", "date", "amount"]


@dataclass(frozen=True)
class Column:
    title: str
    kind: ColumnKind = "text"
    #: Relative width in the PDF.
    width: float = 1.0


class Row(NamedTuple):
    values: tuple[Any, ...]
    #: A subtotal or total: in bold in XLSX and PDF, left out of CSV.
    total: bool = False


@dataclass(frozen=True)
class Report:
    #: For file names: "journal", "grand-livre", "balance".
    name: str
    title: str
    scope: ExportScope
    columns: tuple[Column, ...]
    #: The rows, produced as they are read: iterate once.
    rows: Iterable[Row]
    #: How many rows of lines it holds (the PDF refuses too long a report).
    line_count: int


def _lines_query(scope: ExportScope) -> Select[Any]:
    return (
        select(
            JournalEntry.fiscal_year,
            JournalEntry.sequence,
            JournalEntry.entry_date,
            JournalEntry.journal,
            JournalEntry.document_reference,
            JournalEntry.label,
            JournalLine.account_number,
            JournalLine.auxiliary_number,
            JournalLine.auxiliary_label,
            JournalLine.debit,
            JournalLine.credit,
        )
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .where(*scope.conditions())
    )


def _stream(session: Session, query: Select[Any]) -> Iterator[Any]:
    """The rows of ``query``, fetched in batches (server-side cursor on PostgreSQL).

    Run on the session's connection, past the ORM: plain rows, no entity to build.
    """
    result = session.connection().execute(query.execution_options(yield_per=BATCH_ROWS))
    for batch in result.partitions():
        yield from batch


def _count_lines(session: Session, scope: ExportScope) -> int:
    return (
        session.scalar(
            select(func.count(JournalLine.id))
            .join(JournalEntry, JournalLine.entry_id == JournalEntry.id)
            .where(*scope.conditions())
        )
        or 0
    )


def _account_labels(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Account.number, Account.label)).tuples().all())


def _entry_number(fiscal_year: int, sequence: int) -> str:
    return f"{ENTRY_SERIES}-{fiscal_year}-{sequence:06d}"


def journal(session: Session, scope: ExportScope) -> Report:
    """Every line, entry after entry in the order they were posted (their number)."""
    labels = _account_labels(session)

    def rows() -> Iterator[Row]:
        query = _lines_query(scope).order_by(
            JournalEntry.fiscal_year, JournalEntry.sequence, JournalLine.position
        )
        debit = credit = ZERO
        for line in _stream(session, query):
            debit += line.debit
            credit += line.credit
            yield Row(
                (
                    _entry_number(line.fiscal_year, line.sequence),
                    line.entry_date,
                    line.journal.value,
                    line.document_reference,
                    line.label,
                    line.account_number,
                    labels.get(line.account_number, ""),
                    line.auxiliary_number,
                    line.auxiliary_label,
                    line.debit,
                    line.credit,
                )
            )
        yield Row(("Total", None, None, None, None, None, None, None, None, debit, credit), True)

    return Report(
        name="journal",
        title="Journal général",
        scope=scope,
        columns=(
            Column("Écriture", width=1.6),
            Column("Date", "date", 1.1),
            Column("Journal", width=0.6),
            Column("Pièce", width=1.6),
            Column("Libellé", width=3.2),
            Column("Compte", width=0.8),
            Column("Libellé du compte", width=2.4),
            Column("Compte auxiliaire", width=1.1),
            Column("Tiers", width=2.0),
            Column("Débit", "amount", 1.3),
            Column("Crédit", "amount", 1.3),
        ),
        rows=rows(),
        line_count=_count_lines(session, scope),
    )


def general_ledger(session: Session, scope: ExportScope) -> Report:
    """Each account's lines by date, its running balance (debit minus credit), its total."""
    labels = _account_labels(session)

    def rows() -> Iterator[Row]:
        query = _lines_query(scope).order_by(
            JournalLine.account_number,
            JournalEntry.entry_date,
            JournalEntry.fiscal_year,
            JournalEntry.sequence,
            JournalLine.position,
        )
        account: str | None = None
        debit = credit = ZERO
        for line in _stream(session, query):
            if line.account_number != account:
                if account is not None:
                    yield _account_total(account, labels, debit, credit)
                account, debit, credit = line.account_number, ZERO, ZERO
            debit += line.debit
            credit += line.credit
            yield Row(
                (
                    line.account_number,
                    labels.get(line.account_number, ""),
                    line.entry_date,
                    _entry_number(line.fiscal_year, line.sequence),
                    line.journal.value,
                    line.document_reference,
                    line.label,
                    line.auxiliary_number,
                    line.debit,
                    line.credit,
                    debit - credit,
                )
            )
        if account is not None:
            yield _account_total(account, labels, debit, credit)

    return Report(
        name="grand-livre",
        title="Grand livre",
        scope=scope,
        columns=(
            Column("Compte", width=0.8),
            Column("Libellé du compte", width=2.2),
            Column("Date", "date", 1.1),
            Column("Écriture", width=1.6),
            Column("Journal", width=0.6),
            Column("Pièce", width=1.6),
            Column("Libellé", width=3.2),
            Column("Compte auxiliaire", width=1.1),
            Column("Débit", "amount", 1.3),
            Column("Crédit", "amount", 1.3),
            Column("Solde", "amount", 1.4),
        ),
        rows=rows(),
        line_count=_count_lines(session, scope),
    )


def _account_total(account: str, labels: dict[str, str], debit: Decimal, credit: Decimal) -> Row:
    return Row(
        (
            account,
            labels.get(account, ""),
            None,
            None,
            None,
            None,
            f"Total du compte {account}",
            None,
            debit,
            credit,
            debit - credit,
        ),
        True,
    )


@dataclass(frozen=True)
class TrialBalanceLine:
    account: str
    label: str
    debit: Decimal
    credit: Decimal

    @property
    def balance(self) -> Decimal:
        """Debit minus credit: positive for a debit balance."""
        return self.debit - self.credit

    @property
    def debit_balance(self) -> Decimal:
        return max(self.balance, ZERO)

    @property
    def credit_balance(self) -> Decimal:
        return max(-self.balance, ZERO)


def trial_balance_lines(session: Session, scope: ExportScope) -> list[TrialBalanceLine]:
    """Each account's debits and credits over the scope, by account number.

    Summed in whole cents by the database: exact on both databases, one row per account.
    """
    labels = _account_labels(session)
    rows = session.execute(
        select(
            JournalLine.account_number,
            cents_sum(JournalLine.debit),
            cents_sum(JournalLine.credit),
        )
        .join(JournalEntry, JournalLine.entry_id == JournalEntry.id)
        .where(*scope.conditions())
        .group_by(JournalLine.account_number)
        .order_by(JournalLine.account_number)
    )
    return [
        TrialBalanceLine(account, labels.get(account, ""), from_cents(debit), from_cents(credit))
        for account, debit, credit in rows
    ]


def trial_balance(session: Session, scope: ExportScope) -> Report:
    """Each account's movements and balance, a subtotal per class, and the grand total."""
    lines = trial_balance_lines(session, scope)

    def rows() -> Iterator[Row]:
        by_class: dict[str, list[TrialBalanceLine]] = {}
        for line in lines:
            by_class.setdefault(line.account[0], []).append(line)
        for account_class, members in by_class.items():
            for line in members:
                yield Row(_balance_values(line.account, line.label, [line]))
            yield Row(_balance_values("", f"Total classe {account_class}", members), True)
        yield Row(_balance_values("", "Total général", lines), True)

    return Report(
        name="balance",
        title="Balance générale",
        scope=scope,
        columns=(
            Column("Compte", width=0.8),
            Column("Libellé", width=4.0),
            Column("Débit", "amount", 1.4),
            Column("Crédit", "amount", 1.4),
            Column("Solde débiteur", "amount", 1.4),
            Column("Solde créditeur", "amount", 1.4),
        ),
        rows=rows(),
        line_count=len(lines),
    )


def _balance_values(account: str, label: str, lines: list[TrialBalanceLine]) -> tuple[Any, ...]:
    """A row of the balance: one account's, or the sums of several (balances apart)."""
    return (
        account,
        label,
        sum((line.debit for line in lines), ZERO),
        sum((line.credit for line in lines), ZERO),
        sum((line.debit_balance for line in lines), ZERO),
        sum((line.credit_balance for line in lines), ZERO),
    )


# --- CSV and XLSX -----------------------------------------------------------------------


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return value  # str(Decimal) keeps its cents: "1234.50"


def csv_chunks(report: Report) -> Iterator[bytes]:
    """The report as CSV (see the module doc), data rows only."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([column.title for column in report.columns])
    for row in report.rows:
        if row.total:
            continue
        writer.writerow([_csv_value(value) for value in row.values])
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def xlsx_chunks(report: Report) -> Iterator[bytes]:
    """The report as an Excel workbook, written row by row to a temporary file."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet: _XlsxSheet | None = None
    sheets = 0
    for row in report.rows:
        if sheet is None or sheet.full:
            sheets += 1
            sheet = _XlsxSheet(workbook, report, sheets)
        sheet.append(row)
    if sheet is None:
        _XlsxSheet(workbook, report, 1)
    with tempfile.TemporaryFile() as file:
        workbook.save(file)
        file.seek(0)
        while chunk := file.read(CHUNK_BYTES):
            yield chunk


class _XlsxSheet:
    """A write-only sheet of a report: header row, then rows until Excel's limit.

    Styling a cell is what costs in openpyxl: each column's styled cells (dates, amounts,
    totals in bold) are made once and refilled for every row, as a write-only sheet
    writes a row out as soon as it is appended.
    """

    _FORMATS: ClassVar[dict[str, str]] = {"date": "DD/MM/YYYY", "amount": "#,##0.00"}

    def __init__(self, workbook: Any, report: Report, number: int) -> None:
        from openpyxl.styles import Font

        title = report.title if number == 1 else f"{report.title} ({number})"
        self.sheet = workbook.create_sheet(title[:31])
        self.sheet.freeze_panes = "A2"
        for index, column in enumerate(report.columns):
            self.sheet.column_dimensions[_column_letter(index)].width = 8 + 6 * column.width
        bold = Font(bold=True)
        self.sheet.append([self._cell(column.title, font=bold) for column in report.columns])
        self.rows = 1
        self.plain = [self._cell(None, kind=column.kind) for column in report.columns]
        self.bold = [self._cell(None, kind=column.kind, font=bold) for column in report.columns]

    def _cell(self, value: Any, *, kind: str = "text", font: Any = None) -> Any:
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(self.sheet, value)
        if kind in self._FORMATS:
            cell.number_format = self._FORMATS[kind]
        if font is not None:
            cell.font = font
        return cell

    @property
    def full(self) -> bool:
        return self.rows >= XLSX_MAX_ROWS

    def append(self, row: Row) -> None:
        cells = self.bold if row.total else self.plain
        values = []
        for cell, value in zip(cells, row.values, strict=True):
            if cell.has_style:
                cell.value = value
                values.append(cell)
            else:
                values.append(value)
        self.sheet.append(values)
        self.rows += 1


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


# --- FEC --------------------------------------------------------------------------------

#: The 18 fields of article A47 A-1 (VII, 1° and 2°), in their order.
FEC_COLUMNS = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)
FEC_ENCODING = "iso-8859-15"
#: Characters outside ISO 8859-15 that French text often holds, and their stand-ins.
_FEC_TRANSLITERATION = str.maketrans(
    {
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2018": "'",
        "\u2019": "'",  # typographic apostrophe
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
        "\u00a0": " ",
        "\u202f": " ",  # narrow no-break space
        "\t": " ",  # the field separator may never appear in a value
        "\r": " ",
        "\n": " ",
    }
)


def fec_text(value: str | None) -> str:
    """A value as the FEC may carry it: ISO 8859-15, no tab nor line break.

    Typographic punctuation gets its plain equivalent; any other character outside the
    set loses its accent (NFKD) or, as a last resort, becomes "?".
    """
    if not value:
        return ""
    text = value.translate(_FEC_TRANSLITERATION)
    try:
        text.encode(FEC_ENCODING)
    except UnicodeEncodeError:
        text = "".join(_fec_char(char) for char in text)
    return text


def _fec_char(char: str) -> str:
    try:
        char.encode(FEC_ENCODING)
        return char
    except UnicodeEncodeError:
        plain = (
            unicodedata.normalize("NFKD", char).encode(FEC_ENCODING, "ignore").decode(FEC_ENCODING)
        )
        return plain or "?"


def fec_amount(value: Decimal) -> str:
    """Decimal("1234.50") -> "1234,50": comma, no thousands separator."""
    return f"{value:.2f}".replace(".", ",")


def fec_filename(settings: LedgerSettings, scope: ExportScope) -> str:
    """``{SIREN}FEC{closing date}.txt``: 255900128FEC20261231.txt."""
    return f"{settings.siren}FEC{scope.date_to:%Y%m%d}.txt"


def fec_records(session: Session, scope: ExportScope, settings: LedgerSettings) -> Iterator[str]:
    """The FEC's records as lines of text (CRLF-terminated), the header first.

    Two streams are read side by side in the same order: the entries, whose fields every
    line of theirs repeats (formatted once per entry), and the lines, whose amounts come
    as whole cents, so that a million lines are formatted exactly and fast.
    """
    yield "\t".join(FEC_COLUMNS) + "\r\n"
    account_labels = {number: fec_text(label) for number, label in _account_labels(session).items()}
    journal_labels = {code: fec_text(settings.journal_label(code)) for code in JournalCode}
    parties: dict[tuple[str | None, str | None], str] = {}
    in_order = (JournalEntry.fiscal_year, JournalEntry.sequence)
    entries = _stream(
        session,
        select(
            JournalEntry.id,
            JournalEntry.fiscal_year,
            JournalEntry.sequence,
            JournalEntry.entry_date,
            JournalEntry.journal,
            JournalEntry.document_reference,
            JournalEntry.label,
            JournalEntry.posted_at,
        )
        .where(*scope.conditions())
        .order_by(*in_order),
    )
    lines = _stream(
        session,
        select(
            JournalLine.entry_id,
            JournalLine.account_number,
            JournalLine.auxiliary_number,
            JournalLine.auxiliary_label,
            _cents(JournalLine.debit),
            _cents(JournalLine.credit),
        )
        .join(JournalEntry, JournalLine.entry_id == JournalEntry.id)
        .where(*scope.conditions())
        .order_by(*in_order, JournalLine.position),
    )
    entry_id = None
    # The fields of a record around the line's own: JournalCode to EcritureDate, then
    # PieceRef to EcritureLib, then EcritureLet to Idevise.
    head = middle = tail = ""
    for line_entry_id, account, party, party_label, debit, credit in lines:
        while line_entry_id != entry_id:  # the next entry: its lines follow
            entry = next(entries)
            entry_id = entry.id
            entry_date = f"{entry.entry_date:%Y%m%d}"
            head = "\t".join(
                (
                    entry.journal.value,
                    journal_labels[entry.journal],
                    _entry_number(entry.fiscal_year, entry.sequence),
                    entry_date,
                    "",
                )
            )
            middle = "\t".join(
                ("", fec_text(entry.document_reference), entry_date, fec_text(entry.label), "")
            )
            tail = f"\t\t\t{_paris_day(entry.posted_at)}\t\t\r\n"
        aux = parties.get((party, party_label))
        if aux is None:
            aux = parties[(party, party_label)] = f"{party or ''}\t{fec_text(party_label)}"
        yield (
            f"{head}{account}\t{account_labels.get(account, '')}\t{aux}{middle}"
            f"{_fec_cents(debit)}\t{_fec_cents(credit)}{tail}"
        )


def _cents(column: Any) -> ColumnElement[int]:
    """An amount as whole cents, computed by the database: exact, and cheap to format."""
    return cast(func.round(column * 100), BigInteger)


def _fec_cents(cents: int) -> str:
    """12345 -> "123,45"; 0 -> "0,00"."""
    if not cents:
        return "0,00"
    sign = "-" if cents < 0 else ""
    units, hundredths = divmod(abs(cents), 100)
    return f"{sign}{units},{hundredths:02d}"


def _paris_day(moment: datetime) -> str:
    """The day in Paris of a timestamp (stored in UTC), AAAAMMJJ."""
    return f"{moment.astimezone(PARIS):%Y%m%d}"


def fec_chunks(session: Session, scope: ExportScope, settings: LedgerSettings) -> Iterator[bytes]:
    """The FEC file, in chunks of bytes."""
    parts: list[str] = []
    size = 0
    for line in fec_records(session, scope, settings):
        parts.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield "".join(parts).encode(FEC_ENCODING)
            parts, size = [], 0
    yield "".join(parts).encode(FEC_ENCODING)


# --- Writing ----------------------------------------------------------------------------

#: The reports by the name URLs and commands give them.
REPORTS = {"journal": journal, "general-ledger": general_ledger, "trial-balance": trial_balance}
#: Their formats and media types.
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def report_chunks(report: Report, file_format: str, *, organisation: str) -> Iterator[bytes]:
    """The report in ``file_format``; a PDF too long is refused before anything is sent."""
    if file_format == "pdf":
        from purchasing.ledger.pdf import report_pdf_chunks  # the PDF module builds on this

        return report_pdf_chunks(report, organisation=organisation)
    if file_format == "xlsx":
        return xlsx_chunks(report)
    return csv_chunks(report)


def report_filename(report: Report, file_format: str) -> str:
    """``journal-2026.csv``, ``balance-20260101-20260331.pdf``."""
    return f"{report.name}-{report.scope.slug}.{file_format}"


def write_chunks(chunks: Iterable[bytes], out: BinaryIO) -> int:
    """Write a stream of chunks to ``out``; the number of bytes written."""
    written = 0
    for chunk in chunks:
        out.write(chunk)
        written += len(chunk)
    return written
