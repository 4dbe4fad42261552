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
  numbers, totals in bold (XlsxWriter's constant-memory mode: rows go to a temporary
  file as they come).
- **PDF**: see :mod:`purchasing.ledger.pdf`.
- **FEC** (article A47 A-1 of the Livre des procédures fiscales, BOI-CF-IOR-60-40-20):
  the 18 standard columns, tab-separated, a header row of the field names, dates
  ``AAAAMMJJ``, amounts with a comma and no thousands separator, entries in the order they
  were validated (their number; the opening entry, number 0, first), ISO 8859-15 text;
  ``EcritureLet`` / ``DateLet`` from the lettering, both or neither; named
  ``{SIREN}FEC{AAAAMMJJ}.txt`` after the closing date.
"""

from __future__ import annotations

import csv
import io
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Literal, NamedTuple

import xlsxwriter
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from purchasing.catalog.models import Account
from purchasing.errors import ValidationFailed
from purchasing.fields import PARIS
from purchasing.ledger.cents import cents, cents_sum, from_cents
from purchasing.ledger.models import (
    ENTRY_SERIES,
    JournalCode,
    JournalEntry,
    JournalLine,
    LetteredLine,
    Lettering,
    lettering_code,
)
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
        """Entries of one fiscal year dated ``date_from`` to ``date_to``. A range across a
        year end is refused: it would take in both the closing entries of one year and the
        opening entry of the next, which counts the carried balances twice."""
        if date_to < date_from:
            raise ValidationFailed("is before the start of the range", field="date_to")
        if date_to.year != date_from.year:
            raise ValidationFailed(
                "a range stays within one fiscal year (1 January to 31 December): export each year",
                field="date_to",
            )
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


#: What a spreadsheet takes for the start of a formula (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        # A label typed by a user ("=HYPERLINK(...)") must open as text in the auditor's
        # spreadsheet, never run; the quote is what spreadsheets show as "text".
        return "'" + value
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
    """The report as an Excel workbook, written row by row to a temporary file.

    XlsxWriter's constant-memory mode writes each row out as the next one starts, so
    memory stays flat whatever the size; the finished file is then read back in chunks.
    """
    with tempfile.TemporaryDirectory(prefix="centrale-xlsx-") as directory:
        path = Path(directory) / "report.xlsx"
        workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": directory})
        book = _XlsxBook(workbook, report)
        for row in report.rows:
            book.append(row)
        book.finish()
        workbook.close()
        with path.open("rb") as file:
            while chunk := file.read(CHUNK_BYTES):
                yield chunk


class _XlsxBook:
    """The sheets of a report: header row, then rows until Excel's limit, then a new sheet.

    Each column's writer is chosen once per sheet (``write_string`` or ``write_number``
    with its format) rather than through XlsxWriter's ``write``, which guesses the type of
    every value; a date is written as the Excel serial number it stands for, worked out
    once per day.
    """

    _FORMATS: ClassVar[dict[str, str]] = {"date": "dd/mm/yyyy", "amount": "#,##0.00"}

    def __init__(self, workbook: Any, report: Report) -> None:
        self.workbook = workbook
        self.report = report
        self.formats = {
            (kind, bold): workbook.add_format({"num_format": self._FORMATS[kind], "bold": bold})
            for kind in self._FORMATS
            for bold in (False, True)
        }
        # Plain text needs no format: its cells then carry no style attribute.
        self.formats[("text", False)] = None
        self.formats[("text", True)] = workbook.add_format({"bold": True})
        self._serials: dict[date, int] = {}
        self.sheets = 0
        self.sheet: Any = None
        #: Per column, for plain rows and for totals: (writer, value converter, format).
        self.cells: dict[bool, list[tuple[Callable[..., Any], Callable[[Any], Any], Any]]] = {}
        self.row = XLSX_MAX_ROWS  # no sheet yet: the first row opens one

    def _open_sheet(self) -> None:
        self.sheets += 1
        title = self.report.title
        sheet = self.sheet = self.workbook.add_worksheet(
            (title if self.sheets == 1 else f"{title} ({self.sheets})")[:31]
        )
        sheet.freeze_panes(1, 0)
        bold = self.formats[("text", True)]
        for index, column in enumerate(self.report.columns):
            sheet.set_column(index, index, 8 + 6 * column.width)
            sheet.write_string(0, index, column.title, bold)
        writers = {
            "text": (sheet.write_string, str),
            "date": (sheet.write_number, self._serial),
            "amount": (sheet.write_number, float),
        }
        self.cells = {
            total: [
                (*writers[column.kind], self.formats[(column.kind, total)])
                for column in self.report.columns
            ]
            for total in (False, True)
        }
        self.row = 1

    def append(self, row: Row) -> None:
        if self.row >= XLSX_MAX_ROWS:
            self._open_sheet()
        number = self.row
        for index, ((write, convert, cell_format), value) in enumerate(
            zip(self.cells[row.total], row.values, strict=True)
        ):
            if value is not None and value != "":
                write(number, index, convert(value), cell_format)
        self.row = number + 1

    def finish(self) -> None:
        """A report without rows still gets its sheet and header."""
        if self.sheet is None:
            self._open_sheet()

    def _serial(self, day: date) -> int:
        serial = self._serials.get(day)
        if serial is None:
            serial = self._serials[day] = (day - _EXCEL_EPOCH).days
        return serial


#: Day 0 of Excel's 1900 date system, as counted for every date after February 1900.
_EXCEL_EPOCH = date(1899, 12, 30)


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
    if value.isascii() and value.isprintable():
        return value  # most values: nothing to change (tabs and line breaks are not printable)
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
            cents(JournalLine.debit),
            cents(JournalLine.credit),
            Lettering.sequence,
            Lettering.lettered_on,
        )
        .join(JournalEntry, JournalLine.entry_id == JournalEntry.id)
        .outerjoin(LetteredLine, LetteredLine.line_id == JournalLine.id)
        .outerjoin(Lettering, LetteredLine.lettering_id == Lettering.id)
        .where(*scope.conditions())
        .order_by(*in_order, JournalLine.position),
    )
    entry_id = None
    # The fields of a record around the line's own: JournalCode to EcritureDate, then
    # PieceRef to EcritureLib, then ValidDate to Idevise.
    head = middle = tail = ""
    for line_entry_id, account, party, party_label, debit, credit, letter, lettered_on in lines:
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
            tail = f"\t{_paris_day(entry.posted_at)}\t\t\r\n"
        aux = parties.get((party, party_label))
        if aux is None:
            aux = parties[(party, party_label)] = f"{party or ''}\t{fec_text(party_label)}"
        # EcritureLet and DateLet: both, or neither (DateLet only with a letter).
        lettering = f"\t{lettering_code(letter)}\t{_fec_date(lettered_on)}" if letter else "\t\t"
        yield (
            f"{head}{account}\t{account_labels.get(account, '')}\t{aux}{middle}"
            f"{_fec_cents(debit)}\t{_fec_cents(credit)}{lettering}{tail}"
        )


def _fec_cents(cents: int) -> str:
    """12345 -> "123,45"; 0 -> "0,00"."""
    if not cents:
        return "0,00"
    sign = "-" if cents < 0 else ""
    units, hundredths = divmod(abs(cents), 100)
    return f"{sign}{units},{hundredths:02d}"


def _fec_date(day: date | str) -> str:
    """AAAAMMJJ (SQLite may hand a date of an outer join back as text)."""
    return f"{day if isinstance(day, date) else date.fromisoformat(day):%Y%m%d}"


def _paris_day(moment: datetime) -> str:
    """The day in Paris of a timestamp (stored in UTC), AAAAMMJJ."""
    # Paris is a whole number of hours from UTC, changing on the hour: every moment of a
    # UTC hour falls on the same Paris day, which is worked out once per hour exported.
    return _paris_day_of_hour(moment.year, moment.month, moment.day, moment.hour, moment.tzinfo)


@lru_cache(maxsize=4096)
def _paris_day_of_hour(year: int, month: int, day: int, hour: int, tzinfo: Any) -> str:
    return f"{datetime(year, month, day, hour, tzinfo=tzinfo or UTC).astimezone(PARIS):%Y%m%d}"


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
