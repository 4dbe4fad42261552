"""The books of the annex budget: fiscal years, journal entries and their lines, letterings.

An entry is written once, by the posting of one domain event, and never changes: a
mistake is corrected by a later entry, as in any public accountant's books. The guards
below refuse an update or a delete at the ORM layer; the database refuses a line that is
negative, both debit and credit, or neither, and a second entry for the same event.

Lettering (lettrage) is decided after the lines it matches were written, so it lives in
tables of its own (:class:`Lettering`, :class:`LetteredLine`), append-only as well: a
line is lettered at most once, and its entry never changes for it.

That an entry balances (its debits equal its credits) is checked four times: by the
posting rules as they build it, by a flush guard here before it reaches the database, by
a constraint trigger of PostgreSQL when the transaction commits, and by
:func:`purchasing.ledger.services.verify_ledger` over everything already written.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    DDL,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from purchasing.db import Base, enum_column, utcnow
from purchasing.money import ZERO
from purchasing.numbering import format_number

__all__ = [
    "ENTRY_SERIES",
    "OPENING_SEQUENCE",
    "FiscalYear",
    "FiscalYearStatus",
    "JournalCode",
    "JournalEntry",
    "JournalLine",
    "LedgerIsAppendOnly",
    "LetteredLine",
    "Lettering",
    "UnbalancedEntry",
    "lettering_code",
]

#: Numbering series of journal entries: "EC-2026-000042", one sequence per fiscal year.
ENTRY_SERIES = "EC"
#: Longest auxiliary account number: "M00012", a supplier or programme code.
AUX_NUMBER_LENGTH = 40
LABEL_LENGTH = 200
REFERENCE_LENGTH = 100
#: Length of the family code a journal line keeps.
FAMILY_CODE_LENGTH = 40


class FiscalYearStatus(enum.StrEnum):
    OPEN = "open"
    #: Final: a closed year takes no posting and is never reopened.
    CLOSED = "closed"


class JournalCode(enum.StrEnum):
    """The journals of the annex budget; their labels are data (``catalog/ledger``)."""

    SALES = "VE"
    PURCHASES = "AC"
    TREASURY = "BQ"
    MISCELLANEOUS = "OD"
    #: The year-end entry that carries the result (classes 6 and 7 to 120 / 129).
    CLOSING = "CL"
    #: The opening entry (à-nouveaux): the balance-sheet balances carried forward.
    OPENING = "AN"


#: The opening entry is entry 0 of its year (see :mod:`purchasing.ledger.closing`).
OPENING_SEQUENCE = 0


class FiscalYear(Base):
    """A fiscal year of the annex budget: the calendar year, as for every collectivity."""

    __tablename__ = "fiscal_years"
    __table_args__ = (
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),
        CheckConstraint(
            "(status = 'closed') = (closed_at IS NOT NULL)", name="closed_at_when_closed"
        ),
    )

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[FiscalYearStatus] = mapped_column(
        enum_column(FiscalYearStatus, length=10), default=FiscalYearStatus.OPEN
    )
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    #: None when closed by an operator command.
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def is_closed(self) -> bool:
        return self.status is FiscalYearStatus.CLOSED

    @property
    def first_day(self) -> date:
        return date(self.year, 1, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, 12, 31)

    def __repr__(self) -> str:
        return f"<FiscalYear {self.year} {self.status}>"


class JournalEntry(Base):
    """One balanced entry, posted from one domain event."""

    __tablename__ = "journal_entries"
    __table_args__ = (
        UniqueConstraint("fiscal_year", "sequence"),
        CheckConstraint("sequence >= 0", name="sequence_not_negative"),
        # Entry 0 of a year is its opening entry, and only it.
        CheckConstraint("(journal = 'AN') = (sequence = 0)", name="opening_is_entry_zero"),
        CheckConstraint("total > 0", name="total_positive"),
        Index("ix_journal_entries_entry_date", "entry_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(ForeignKey("fiscal_years.year"))
    #: Position in the year's continuous sequence (FEC ``EcritureNum``), in posting order
    #: from 1; 0 is the year's opening entry, written when the previous year closes.
    sequence: Mapped[int]
    #: Accounting date: the date of the document (invoice, payment, grant receipt).
    entry_date: Mapped[date] = mapped_column(Date)
    journal: Mapped[JournalCode] = mapped_column(enum_column(JournalCode, length=10))
    #: The supporting document's number: invoice, credit note, supplier invoice, payment.
    document_reference: Mapped[str] = mapped_column(String(REFERENCE_LENGTH))
    label: Mapped[str] = mapped_column(String(LABEL_LENGTH))
    #: The event this entry posts; unique, so an event is posted at most once.
    source_event_id: Mapped[int] = mapped_column(ForeignKey("domain_events.id"), unique=True)
    #: The event's kind ("invoice.issued"...), for reports that read the books by origin.
    source_kind: Mapped[str] = mapped_column(String(64), index=True)
    #: The sum of the debits, equal to the sum of the credits.
    total: Mapped[Decimal]
    #: When the entry was written: its validation date (FEC ``ValidDate``).
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[JournalLine]] = relationship(
        back_populates="entry", order_by="JournalLine.position", cascade="all"
    )

    @property
    def number(self) -> str:
        """``EC-2026-000042``."""
        return format_number(ENTRY_SERIES, self.fiscal_year, self.sequence)

    def __repr__(self) -> str:
        return f"<JournalEntry {self.number} {self.journal} {self.document_reference}>"


class JournalLine(Base):
    """One account debited or credited by an entry: exactly one side, never negative."""

    __tablename__ = "journal_lines"
    __table_args__ = (
        UniqueConstraint("entry_id", "position"),
        CheckConstraint(
            "(debit > 0 AND credit = 0) OR (debit = 0 AND credit > 0)", name="one_side"
        ),
        CheckConstraint(
            "auxiliary_label IS NULL OR auxiliary_number IS NOT NULL",
            name="auxiliary_label_has_number",
        ),
        Index("ix_journal_lines_account_entry", "account_number", "entry_id"),
        Index(
            "ix_journal_lines_matching",
            "account_number",
            "auxiliary_number",
            "matching_reference",
        ),
        CheckConstraint(
            "matching_reference IS NULL OR auxiliary_number IS NOT NULL",
            name="matching_reference_has_auxiliary",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))
    position: Mapped[int]
    account_number: Mapped[str] = mapped_column(ForeignKey("accounts.number"))
    #: The member, supplier, programme or partner the amount is due from or to:
    #: "M00012", a supplier code... (FEC ``CompAuxNum``); None on other accounts.
    auxiliary_number: Mapped[str | None] = mapped_column(String(AUX_NUMBER_LENGTH))
    #: Its name when posted (FEC ``CompAuxLib``).
    auxiliary_label: Mapped[str | None] = mapped_column(String(LABEL_LENGTH))
    #: The catalogue family a sales or purchase line belongs to (margin per family).
    family_code: Mapped[str | None] = mapped_column(String(FAMILY_CODE_LENGTH))
    debit: Mapped[Decimal] = mapped_column(default=ZERO)
    credit: Mapped[Decimal] = mapped_column(default=ZERO)
    #: On a member's or a supplier's account: the invoice this line is, pays or credits
    #: ("FA-2026-000123", the supplier's own number). Lettering matches lines by it.
    matching_reference: Mapped[str | None] = mapped_column(String(REFERENCE_LENGTH))

    entry: Mapped[JournalEntry] = relationship(back_populates="lines")

    def __repr__(self) -> str:
        return f"<JournalLine {self.account_number} D {self.debit} C {self.credit}>"


class Lettering(Base):
    """Lines of one account and party that settle each other: an invoice and what paid it.

    Every line of a lettering has the same account, auxiliary account and matching
    reference, belongs to the same fiscal year, and their debits equal their credits.
    """

    __tablename__ = "letterings"
    __table_args__ = (
        UniqueConstraint("fiscal_year", "sequence"),
        CheckConstraint("sequence > 0", name="sequence_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(ForeignKey("fiscal_years.year"))
    #: Its number in the year; the letter code (FEC ``EcritureLet``) is made from it.
    sequence: Mapped[int]
    account_number: Mapped[str] = mapped_column(ForeignKey("accounts.number"))
    auxiliary_number: Mapped[str] = mapped_column(String(AUX_NUMBER_LENGTH))
    matching_reference: Mapped[str] = mapped_column(String(REFERENCE_LENGTH))
    #: The date of the line that settled the others (FEC ``DateLet``).
    lettered_on: Mapped[date] = mapped_column(Date)
    lettered_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[LetteredLine]] = relationship(back_populates="lettering", cascade="all")

    @property
    def code(self) -> str:
        """``A``, ``B``... ``Z``, ``AA``...: FEC ``EcritureLet``."""
        return lettering_code(self.sequence)

    def __repr__(self) -> str:
        return f"<Lettering {self.fiscal_year} {self.code} {self.matching_reference}>"


class LetteredLine(Base):
    """A journal line and the lettering it belongs to: one at most."""

    __tablename__ = "lettered_lines"

    line_id: Mapped[int] = mapped_column(ForeignKey("journal_lines.id"), primary_key=True)
    lettering_id: Mapped[int] = mapped_column(ForeignKey("letterings.id"), index=True)

    lettering: Mapped[Lettering] = relationship(back_populates="lines")


def lettering_code(sequence: int) -> str:
    """1 -> "A", 26 -> "Z", 27 -> "AA", 703 -> "AAA": letters, as accountants write them."""
    if sequence < 1:
        raise ValueError(f"a lettering is numbered from 1, not {sequence}")
    letters = []
    while sequence:
        sequence, rest = divmod(sequence - 1, 26)
        letters.append(chr(ord("A") + rest))
    return "".join(reversed(letters))


class LedgerIsAppendOnly(RuntimeError):
    """An update or delete of the books reached the ORM: a bug upstream."""


class UnbalancedEntry(RuntimeError):
    """An entry whose debits and credits differ reached the flush: a bug in a rule."""


@event.listens_for(JournalEntry, "before_update")
@event.listens_for(JournalEntry, "before_delete")
@event.listens_for(JournalLine, "before_update")
@event.listens_for(JournalLine, "before_delete")
@event.listens_for(FiscalYear, "before_delete")
@event.listens_for(Lettering, "before_update")
@event.listens_for(Lettering, "before_delete")
@event.listens_for(LetteredLine, "before_update")
@event.listens_for(LetteredLine, "before_delete")
def _refuse_change(_mapper: Any, _connection: Any, target: Any) -> None:
    raise LedgerIsAppendOnly(f"{target!r} is in the books: it cannot change or go away")


#: PostgreSQL checks, when a transaction commits, that every entry whose lines it wrote
#: balances and adds up to its total: the database's own guard, below the ORM's.
#: (SQLite cannot defer a trigger to the commit; the flush guard below holds there.)
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
DROP_BALANCE_FUNCTION_SQL = "DROP FUNCTION IF EXISTS journal_entry_balances()"

for _statement in (BALANCE_FUNCTION_SQL, BALANCE_TRIGGER_SQL):
    event.listen(
        JournalLine.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql")
    )
event.listen(
    JournalLine.__table__,
    "after_drop",
    DDL(DROP_BALANCE_FUNCTION_SQL).execute_if(dialect="postgresql"),
)


@event.listens_for(Session, "before_flush")
def _new_entries_balance(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.new:
        if isinstance(obj, JournalEntry):
            # A side left unset is written as its column default: zero.
            debit = sum((line.debit or ZERO for line in obj.lines), ZERO)
            credit = sum((line.credit or ZERO for line in obj.lines), ZERO)
            if not obj.lines or debit != credit or debit != obj.total:
                raise UnbalancedEntry(
                    f"entry {obj.document_reference}: debits {debit}, credits {credit}, "
                    f"total {obj.total}"
                )
