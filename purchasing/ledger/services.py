"""Use cases of the ledger: post pending events, keep fiscal years, read and check the books.

Posting
-------
:func:`post_pending_events` reads the outbox (``purchasing.events``): the events of the
kinds the ledger posts whose ``consumed_at`` is empty, in id order, up to
:data:`POSTING_BATCH` of them in one transaction. Each event is drafted and checked first
(its payload, its accounts, its fiscal year, which may be closed); one that cannot be
posted changes nothing, stays pending and is reported with the reason, and the others of
its batch are posted. The entries checked are then written together (see
``_BatchPosting``), numbered in their fiscal year's continuous sequence, with the events'
``consumed_at``: all or nothing, so the sequence stays without gaps. A batch's events are
locked together, in id order, so two runs at once never post one twice nor wait on each
other in a circle. A run interrupted half-way is resumed by running it again, and running
it twice posts nothing twice; the unique ``source_event_id`` of an entry is the last
guard. (One transaction per event cost a commit each, 19 ms an event; one savepoint and
eight statements per event still cost 13.5 ms of CPU, against 4.3 ms written together.)

Posting an entry also letters what it settles: the invoice a payment or a credit note
pays off in full, with everything that paid it (see :mod:`purchasing.ledger.lettering`).

Fiscal years
------------
A fiscal year is the calendar year. It opens explicitly, or with its first posting; it is
closed by finance once it is over (from 1 January of the next year, in Paris), every
event dated in it is posted, and earlier years are closed.
Closing determines the year's result and carries the balance-sheet balances into the
next year (see :mod:`purchasing.ledger.closing`). A closed year takes no posting and is
never reopened: a correction is an entry of the open year (a credit note, for instance).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, Protocol

from marshmallow import ValidationError
from sqlalchemy import BigInteger, ColumnElement, cast, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from purchasing.audit.services import record_change
from purchasing.auth.roles import Actor
from purchasing.batch import fewer_collections
from purchasing.catalog.models import Account, Product, ProductFamily, Supplier
from purchasing.db import reserve_ids, utcnow
from purchasing.errors import Conflict, DomainError, NotFound, ValidationFailed
from purchasing.events import DomainEvent, publish
from purchasing.fields import today_in_paris
from purchasing.ledger import closing
from purchasing.ledger.cents import cents_sum, from_cents
from purchasing.ledger.lettering import MatchingKey, letter_settled_items, unbalanced_letterings
from purchasing.ledger.models import (
    ENTRY_SERIES,
    OPENING_SEQUENCE,
    FiscalYear,
    FiscalYearStatus,
    JournalCode,
    JournalEntry,
    JournalLine,
)
from purchasing.ledger.posting import (
    POSTED_KINDS,
    EntryDraft,
    InvalidEventPayload,
    Party,
    draft_entry,
    entry_date_of,
)
from purchasing.ledger.settings import LedgerSettings, configured_settings
from purchasing.members.models import Member
from purchasing.numbering import next_number, next_numbers
from purchasing.unit_of_work import Page, paginate, transaction

__all__ = [
    "MEMBER_AUX_FORMAT",
    "EntryFilters",
    "FiscalYearClosed",
    "FiscalYearIsFinal",
    "FiscalYearNotClosable",
    "FiscalYearSummary",
    "LedgerCheck",
    "PostingRefusal",
    "PostingResult",
    "StopSignal",
    "UnknownAccount",
    "YearEnd",
    "cents_sum",
    "close_fiscal_year",
    "follow_pending_events",
    "from_cents",
    "get_entry",
    "letter_open_years",
    "list_entries",
    "list_fiscal_years",
    "open_fiscal_year",
    "pending_events",
    "post_pending_events",
    "reopen_fiscal_year",
    "verify_ledger",
    "year_end",
]

#: A member's auxiliary account: "M00012" for member 12.
MEMBER_AUX_FORMAT = "M{:05d}"
#: Pending events read per query while posting.
_BATCH = 500
#: Events posted per transaction (each in its own savepoint).
POSTING_BATCH = 200
#: Matching keys looked up per query while lettering a segment of entries.
_LETTERING_LOOKUP = 300
#: The fiscal years the books may hold (a CHECK of the table).
FIRST_YEAR, LAST_YEAR = 2000, 2100


class FiscalYearClosed(Conflict):
    """The fiscal year of an entry is closed: it takes no posting."""

    def __init__(self, year: int, *, reason: str = "") -> None:
        super().__init__(
            f"fiscal year {year} is closed{reason}: it takes no posting", field="fiscal_year"
        )
        self.year = year


class FiscalYearIsFinal(Conflict):
    """A closed fiscal year is never reopened."""

    def __init__(self, year: int) -> None:
        super().__init__(
            f"fiscal year {year} is closed for good: its accounts are final and it is never "
            "reopened; correct it with an entry of the open year (a credit note, for instance)",
            field="status",
        )


class FiscalYearNotClosable(Conflict):
    """Something of the year, or of an earlier one, is not finished yet."""


class UnknownAccount(ValidationFailed):
    """An entry would use an account the chart does not have, or a heading account."""


# --- Posting ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PostingRefusal:
    event_id: int
    kind: str
    message: str
    errors: dict[str, list[str]]


@dataclass(frozen=True)
class PostingResult:
    #: Entries written.
    posted: int
    #: Events whose amounts are all zero: consumed without an entry.
    empty: int
    #: Events left pending, with the reason.
    refused: tuple[PostingRefusal, ...]
    #: Events of the ledger's kinds still pending after the run (refused ones included).
    pending: int


def pending_events(session: Session) -> Any:
    """The query of the events the ledger has still to post, oldest first."""
    return (
        select(DomainEvent)
        .where(DomainEvent.consumed_at.is_(None), DomainEvent.kind.in_(sorted(POSTED_KINDS)))
        .order_by(DomainEvent.id)
    )


def post_pending_events(
    session: Session,
    *,
    settings: LedgerSettings,
    posted_by: Actor | None,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PostingResult:
    """Post the pending events in id order, many to a transaction (see module doc).

    ``posted_by`` is None for the operator command. ``limit`` bounds how many events are
    tried; ``progress(done, total)`` is called after each one.
    """
    total = _count(session, pending_events(session))
    if limit is not None:
        total = min(total, limit)
    directory = _DatabaseDirectory(session)
    posted = empty = tried = 0
    refused: list[PostingRefusal] = []
    for batch in _batches(_pending_ids(session, limit), POSTING_BATCH):
        with transaction(session), fewer_collections():
            events = _lock_events(session, [event_id for event_id, _kind in batch])
            directory.read_members(events)
            posting = _BatchPosting(session, settings, directory, posted_by)
            for event_id, kind in batch:
                try:
                    posting.add(events.get(event_id))
                except DomainError as exc:
                    refused.append(PostingRefusal(event_id, kind, exc.message, exc.errors))
            outcomes = posting.finish()
        for event_id, _kind in batch:
            outcome = outcomes.get(event_id)
            posted += outcome is _Outcome.POSTED
            empty += outcome is _Outcome.EMPTY
            tried += 1
            if progress is not None:
                progress(tried, total)
    pending = _count(session, pending_events(session))
    session.commit()  # end the reading transaction
    return PostingResult(posted=posted, empty=empty, refused=tuple(refused), pending=pending)


class StopSignal(Protocol):
    """What tells :func:`follow_pending_events` to finish: a ``threading.Event`` or a
    ``multiprocessing.Event``."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


def follow_pending_events(
    session: Session,
    *,
    settings: LedgerSettings,
    posted_by: Actor | None,
    stop: StopSignal,
    interval: float = 0.5,
    progress: Callable[[PostingResult], None] | None = None,
) -> PostingResult:
    """Post the events as they are published, until ``stop`` is set: then once more, so
    that every event published before it is posted too.

    What posts a billing run's entries while it issues: each group's events are posted
    while the next groups are invoiced, on the cores the run leaves idle, rather than all
    of them once it is over. Each pass is :func:`post_pending_events` (so two followers,
    or a follower and the operator command, never post an event twice); a pass that
    posted nothing waits ``interval`` seconds, or less if ``stop`` is set meanwhile.
    ``progress`` is given the result of each pass that posted something. The result adds
    the passes up; its refusals and pending count are those of the last pass.
    """
    posted = empty = 0
    while True:
        last_pass = stop.is_set()
        result = post_pending_events(session, settings=settings, posted_by=posted_by)
        posted, empty = posted + result.posted, empty + result.empty
        consumed = result.posted + result.empty
        if progress is not None and consumed:
            progress(result)
        if last_pass:
            return PostingResult(
                posted=posted, empty=empty, refused=result.refused, pending=result.pending
            )
        if not consumed:
            stop.wait(interval)


def _batches(items: Iterator[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    batch: list[tuple[int, str]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _lock_events(session: Session, event_ids: Sequence[int]) -> dict[int, DomainEvent]:
    """The events still pending among ``event_ids``, locked in id order and read afresh
    (another run may have posted some since their ids were read)."""
    return {
        event.id: event
        for event in session.scalars(
            pending_events(session)
            .where(DomainEvent.id.in_(event_ids))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }


def _pending_ids(session: Session, limit: int | None) -> Iterator[tuple[int, str]]:
    """Pending event ids after one another, read in batches; each is yielded once."""
    last_id, yielded = 0, 0
    while limit is None or yielded < limit:
        batch = session.execute(
            pending_events(session)
            .with_only_columns(DomainEvent.id, DomainEvent.kind)
            .where(DomainEvent.id > last_id)
            .limit(_BATCH if limit is None else min(_BATCH, limit - yielded))
        ).all()
        session.commit()  # end the reading transaction before posting
        if not batch:
            return
        for event_id, kind in batch:
            yield event_id, kind
            yielded += 1
        last_id = batch[-1][0]


class _Outcome(enum.Enum):
    POSTED = "posted"
    #: Every amount is zero: consumed without an entry.
    EMPTY = "empty"
    #: Another run posted it since its id was read.
    ALREADY_POSTED = "already posted"


@dataclass
class _Posting:
    """An event drafted and checked, waiting to be written with its segment."""

    event: DomainEvent
    draft: EntryDraft
    year: FiscalYear | None
    keys: frozenset[MatchingKey]


class _BatchPosting:
    """The events of one transaction, drafted one by one and written a segment at a time.

    Everything that may refuse an event (its payload, its accounts, its fiscal year) is
    checked as it is added, before anything of it is written: a refused event changes
    nothing and the others go on. The entries checked are then written together: one
    ``UPDATE`` numbers all those of a year, one ``INSERT`` writes them, one their lines,
    one their audit records, one query finds what they may letter. That is what makes
    posting a billing run's thousands of invoices fast: a few statements for two hundred
    entries, where one entry at a time took eight each.

    A segment never holds two entries with a matching key in common (an invoice and the
    payment that settles it): the second starts the next segment, once the first is
    written and lettered, so lettering sees what it would have seen one event at a time.
    A segment the database refuses (a concurrent run has just posted one of its events)
    is rolled back to its savepoint and its events posted again one by one.
    """

    def __init__(
        self,
        session: Session,
        settings: LedgerSettings,
        directory: _DatabaseDirectory,
        posted_by: Actor | None,
    ) -> None:
        self.session, self.settings, self.directory = session, settings, directory
        self.posted_by = posted_by
        self.years: dict[int, FiscalYear] = {}
        self.segment: list[_Posting] = []
        self.segment_keys: set[MatchingKey] = set()
        self.outcomes: dict[int, _Outcome] = {}

    def add(self, event: DomainEvent | None) -> None:
        """Draft and check ``event`` (None: posted by another run since); DomainError if
        it cannot be posted, and nothing of it is kept."""
        if event is None:
            return
        draft = draft_entry(event.kind, event.payload, self.settings.accounts, self.directory)
        year, keys = None, frozenset[MatchingKey]()
        if not draft.is_empty:
            year = self.years.get(draft.entry_date.year)
            if year is None:
                # A year opened for an event refused after all is given back with it.
                with self.session.begin_nested():
                    year = _fiscal_year_taking_postings(
                        self.session, draft.entry_date.year, self.posted_by
                    )
                    self.directory.check_accounts(draft)
                self.years[year.year] = year
            else:
                self.directory.check_accounts(draft)
            keys = _draft_keys(draft)
        if keys & self.segment_keys:
            self._write_segment()
        self.segment.append(_Posting(event, draft, year, keys))
        self.segment_keys |= keys

    def finish(self) -> dict[int, _Outcome]:
        """Write what is left; the outcome of each event written, by id."""
        self._write_segment()
        return self.outcomes

    def _write_segment(self) -> None:
        segment, self.segment, self.segment_keys = self.segment, [], set()
        if not segment:
            return
        try:
            with self.session.begin_nested():
                self._write(segment)
        except IntegrityError as exc:
            if "source_event_id" not in str(exc.orig):
                raise
            for posting in segment:  # one by one, each in its own savepoint
                self.outcomes[posting.event.id] = _post_event(
                    self.session,
                    posting.event,
                    settings=self.settings,
                    directory=self.directory,
                    posted_by=self.posted_by,
                    years=self.years,
                )
            return
        for posting in segment:
            self.outcomes[posting.event.id] = (
                _Outcome.EMPTY if posting.draft.is_empty else _Outcome.POSTED
            )

    def _write(self, segment: Sequence[_Posting]) -> None:
        session = self.session
        entries: list[tuple[_Posting, JournalEntry]] = []
        by_year: dict[int, list[_Posting]] = {}
        for posting in segment:
            if posting.year is not None:
                by_year.setdefault(posting.year.year, []).append(posting)
        sequences: dict[int, int] = {}
        for year, postings in by_year.items():
            numbers = next_numbers(session, ENTRY_SERIES, year, len(postings))
            sequences.update(zip((id(p) for p in postings), numbers, strict=True))
        for posting in segment:
            if posting.year is not None:
                entry = _new_entry(
                    posting.draft, posting.year, posting.event, sequences[id(posting)]
                )
                session.add(entry)
                entries.append((posting, entry))
        _give_ids(session, JournalEntry, [entry for _posting, entry in entries])
        _give_ids(session, JournalLine, [line for _p, entry in entries for line in entry.lines])
        session.flush()  # the entries and their lines: their ids for the audit records
        now = utcnow()
        for posting in segment:
            posting.event.consumed_at = now
        for _posting, entry in entries:
            _record_posting(session, entry, self.posted_by)
        settling = _keys_to_letter(session, [entry for _posting, entry in entries])
        for year in sorted(settling):
            letter_settled_items(session, year, settling[year])
        session.flush()


def _give_ids(session: Session, model: type[JournalEntry | JournalLine], rows: Sequence) -> None:
    """Ids for new rows of a segment, taken ahead where the database can (see
    :func:`~purchasing.db.reserve_ids`): the flush then sends them in one batch."""
    ids = reserve_ids(session, model.__table__, len(rows))
    if ids is not None:
        for row, row_id in zip(rows, ids, strict=True):
            row.id = row_id


def _post_event(
    session: Session,
    event: DomainEvent,
    *,
    settings: LedgerSettings,
    directory: _DatabaseDirectory,
    posted_by: Actor | None,
    years: dict[int, FiscalYear],
) -> _Outcome:
    """Post one locked event in its own savepoint: the way back for a segment the
    database refused as a whole."""
    try:
        with session.begin_nested():
            draft = draft_entry(event.kind, event.payload, settings.accounts, directory)
            if not draft.is_empty:
                year = years.get(draft.entry_date.year)
                if year is None:
                    year = _fiscal_year_taking_postings(session, draft.entry_date.year, posted_by)
                directory.check_accounts(draft)
                entry = _write_entry(session, draft, year, event)
                _record_posting(session, entry, posted_by)
                settling = _keys_to_letter(session, [entry])
                letter_settled_items(session, year.year, settling.get(year.year, set()))
            event.consumed_at = utcnow()
            session.flush()
    except IntegrityError as exc:
        if "source_event_id" not in str(exc.orig):
            raise
        return _Outcome.ALREADY_POSTED  # a concurrent run won the unique key
    return _Outcome.EMPTY if draft.is_empty else _Outcome.POSTED


def _write_entry(
    session: Session,
    draft: EntryDraft,
    year: FiscalYear,
    event: DomainEvent,
    *,
    sequence: int | None = None,
) -> JournalEntry:
    """The entry, numbered next in its year unless its ``sequence`` is given (entry 0)."""
    if sequence is None:
        sequence = next_number(session, ENTRY_SERIES, year.year)
    entry = _new_entry(draft, year, event, sequence)
    session.add(entry)
    session.flush()
    return entry


def _new_entry(
    draft: EntryDraft, year: FiscalYear, event: DomainEvent, sequence: int
) -> JournalEntry:
    return JournalEntry(
        fiscal_year=year.year,
        sequence=sequence,
        entry_date=draft.entry_date,
        journal=draft.journal,
        document_reference=draft.reference,
        label=draft.label,
        source_event_id=event.id,
        source_kind=event.kind,
        total=draft.total_debit,
        lines=[
            JournalLine(
                position=position,
                account_number=line.account,
                auxiliary_number=line.party.number if line.party else None,
                auxiliary_label=line.party.label if line.party else None,
                family_code=line.family_code,
                debit=line.debit,
                credit=line.credit,
                matching_reference=line.matching,
            )
            for position, line in enumerate(draft.lines, start=1)
        ],
    )


def _record_posting(session: Session, entry: JournalEntry, actor: Actor | None) -> None:
    record_change(
        session,
        actor=actor,
        action="journal_entry.posted",
        entity="journal_entry",
        entity_id=entry.id,
        after={
            "number": entry.number,
            "source_event_id": entry.source_event_id,
            "document_reference": entry.document_reference,
            "total": str(entry.total),
        },
    )


def _draft_keys(draft: EntryDraft) -> frozenset[MatchingKey]:
    """The matching keys the entry of ``draft`` will carry (see ``MatchingKey.of``)."""
    return frozenset(
        MatchingKey(line.account, line.party.number, line.matching)
        for line in draft.lines
        if line.matching is not None and line.party is not None
    )


def _keys_to_letter(
    session: Session, entries: Sequence[JournalEntry]
) -> dict[int, set[MatchingKey]]:
    """The items the ``entries`` may settle, by fiscal year: those an entry balances by
    itself, and those with lines of entries written before. None of the ``entries`` shares
    a key with another. An invoice's entry opens its item (nothing else carries its number
    yet): one indexed look-up for all the entries, rather than the lettering's query."""
    own: dict[MatchingKey, tuple[int, Decimal]] = {}
    for entry in entries:
        for line in entry.lines:
            key = MatchingKey.of(line)
            if key is not None:
                _year, balance = own.get(key, (entry.fiscal_year, Decimal(0)))
                own[key] = (entry.fiscal_year, balance + line.debit - line.credit)
    if not own:
        return {}
    with_others: set[MatchingKey] = set()
    wanted = [(key.account, key.auxiliary, key.reference) for key in own]
    for start in range(0, len(wanted), _LETTERING_LOOKUP):
        with_others.update(
            MatchingKey(*row)
            for row in session.execute(
                select(
                    JournalLine.account_number,
                    JournalLine.auxiliary_number,
                    JournalLine.matching_reference,
                )
                .where(
                    tuple_(
                        JournalLine.account_number,
                        JournalLine.auxiliary_number,
                        JournalLine.matching_reference,
                    ).in_(wanted[start : start + _LETTERING_LOOKUP]),
                    JournalLine.entry_id.not_in([entry.id for entry in entries]),
                )
                .distinct()
            )
        )
    settling: dict[int, set[MatchingKey]] = {}
    for key, (year, balance) in own.items():
        if key in with_others or balance == 0:
            settling.setdefault(year, set()).add(key)
    return settling


class _DatabaseDirectory:
    """Names, families and the chart, looked up once per posting run."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._members: dict[int, Party] = {}
        self._suppliers: dict[int, Party] = {}

    def read_members(self, events: dict[int, DomainEvent]) -> None:
        """The names of the members the events name, read at once for a batch."""
        wanted = {
            member_id
            for event in events.values()
            if isinstance(event.payload, dict)
            and isinstance(member_id := event.payload.get("member_id"), int)
            and member_id not in self._members
        }
        if wanted:
            for member_id, name in self.session.execute(
                select(Member.id, Member.name).where(Member.id.in_(wanted))
            ):
                self._members[member_id] = Party(MEMBER_AUX_FORMAT.format(member_id), name)

    def member(self, member_id: int) -> Party:
        if member_id not in self._members:
            name = self.session.scalar(select(Member.name).where(Member.id == member_id))
            if name is None:
                raise ValidationError(f"no member with id {member_id}", "member_id")
            self._members[member_id] = Party(MEMBER_AUX_FORMAT.format(member_id), name)
        return self._members[member_id]

    def supplier(self, supplier_id: int) -> Party:
        if supplier_id not in self._suppliers:
            row = self.session.execute(
                select(Supplier.code, Supplier.name).where(Supplier.id == supplier_id)
            ).first()
            if row is None:
                raise ValidationError(f"no supplier with id {supplier_id}", "supplier_id")
            self._suppliers[supplier_id] = Party(row.code, row.name)
        return self._suppliers[supplier_id]

    def family_sales_account(self, family_code: str) -> str | None:
        return self._family_sales_accounts.get(family_code)

    def family_of_purchase_account(self, account: str) -> str | None:
        families = self._families_by_purchase_account.get(account, set())
        return next(iter(families)) if len(families) == 1 else None

    def invoice_year(self, invoice_id: int) -> int | None:
        try:
            return date.fromisoformat(self._invoice_issued(invoice_id)["issue_date"]).year
        except (TypeError, KeyError, ValueError):
            return None

    def invoice_number(self, invoice_id: int) -> str | None:
        number = self._invoice_issued(invoice_id).get("number")
        return number if isinstance(number, str) and number else None

    def _invoice_issued(self, invoice_id: int) -> dict[str, Any]:
        """The payload of the invoice's issue event; empty if there is none."""
        payload = self.session.scalar(
            select(DomainEvent.payload).where(
                DomainEvent.kind == "invoice.issued",
                DomainEvent.entity == "invoice",
                DomainEvent.entity_id == str(invoice_id),
            )
        )
        return payload if isinstance(payload, dict) else {}

    def check_accounts(self, draft: EntryDraft) -> None:
        """Every account of the entry is a detail account of the chart."""
        chart = self._chart
        for line in draft.lines:
            number = line.account
            if number not in chart:
                raise UnknownAccount(
                    f"account {number} is not in the chart of accounts "
                    "(catalog/accounts.yaml): load it, or correct catalog/ledger/posting.yaml",
                    field="account",
                )
            if number in self._headings:
                raise UnknownAccount(
                    f"account {number} is a heading of the chart: post to one of its sub-accounts",
                    field="account",
                )

    @cached_property
    def _chart(self) -> frozenset[str]:
        return frozenset(self.session.scalars(select(Account.number)))

    @cached_property
    def _headings(self) -> frozenset[str]:
        """The accounts of the chart that head others (a prefix of another account):
        found once, where each line of each entry compared its account with the whole
        chart (a tenth of the ledger's posting time)."""
        chart = self._chart
        return frozenset(
            account[:length]
            for account in chart
            for length in range(1, len(account))
            if account[:length] in chart
        )

    @cached_property
    def _family_sales_accounts(self) -> dict[str, str]:
        rows = self.session.execute(
            select(ProductFamily.code, Account.number).join(
                Account, ProductFamily.sales_account_id == Account.id
            )
        )
        return dict(rows.tuples().all())

    @cached_property
    def _families_by_purchase_account(self) -> dict[str, set[str]]:
        families: dict[str, set[str]] = {}
        of_families = select(Account.number, ProductFamily.code).join(
            ProductFamily, ProductFamily.purchase_account_id == Account.id
        )
        of_products = (
            select(Account.number, ProductFamily.code)
            .join(Product, Product.purchase_account_id == Account.id)
            .join(ProductFamily, Product.family_id == ProductFamily.id)
        )
        for query in (of_families, of_products):
            for number, code in self.session.execute(query):
                families.setdefault(number, set()).add(code)
        return families


# --- Fiscal years -----------------------------------------------------------------------


def _fiscal_year_taking_postings(session: Session, year: int, actor: Actor | None) -> FiscalYear:
    """The year, locked against a concurrent close, opened if new; FiscalYearClosed if shut."""
    fiscal_year = _lock_year(session, year)
    if fiscal_year is None:
        later_closed = _latest_closed_year(session)
        if later_closed is not None and later_closed > year:
            raise FiscalYearClosed(year, reason=f" (it precedes the closed year {later_closed})")
        if _insert_open_year(session, year):
            _record_opening(session, year, actor)
        fiscal_year = _lock_year(session, year)
        assert fiscal_year is not None
    if fiscal_year.is_closed:
        raise FiscalYearClosed(year)
    return fiscal_year


def _lock_year(session: Session, year: int) -> FiscalYear | None:
    return session.scalar(
        select(FiscalYear)
        .where(FiscalYear.year == year)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _insert_open_year(session: Session, year: int) -> bool:
    """Create the open year, unless a concurrent transaction just did; whether we did."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    result = session.execute(
        insert(FiscalYear)
        .values(year=year, status=FiscalYearStatus.OPEN, opened_at=utcnow())
        .on_conflict_do_nothing()
    )
    return bool(result.rowcount)


def _record_opening(session: Session, year: int, actor: Actor | None) -> None:
    record_change(
        session,
        actor=actor,
        action="fiscal_year.opened",
        entity="fiscal_year",
        entity_id=year,
        after={"status": FiscalYearStatus.OPEN.value},
    )


def _latest_closed_year(session: Session) -> int | None:
    return session.scalar(
        select(func.max(FiscalYear.year)).where(FiscalYear.status == FiscalYearStatus.CLOSED)
    )


@dataclass(frozen=True)
class FiscalYearSummary:
    year: int
    status: FiscalYearStatus
    opened_at: datetime
    closed_at: datetime | None
    closed_by_id: int | None
    entries: int
    #: Sum of the entries' debits (equal to their credits).
    total: Decimal
    #: Once closed, its result: positive for a surplus, negative for a deficit.
    result: Decimal | None = None


def list_fiscal_years(session: Session) -> list[FiscalYearSummary]:
    """Every fiscal year, latest first, with its number of entries, their total, its result."""
    # The result entry's only class 1 lines are those of the result (120 or 129).
    results = dict(
        session.execute(
            select(
                JournalEntry.fiscal_year,
                cents_sum(JournalLine.credit) - cents_sum(JournalLine.debit),
            )
            .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
            .where(
                JournalEntry.journal == JournalCode.CLOSING,
                JournalLine.account_number.startswith("1"),
            )
            .group_by(JournalEntry.fiscal_year)
        )
        .tuples()
        .all()
    )
    counts = {
        year: (count, total)
        for year, count, total in session.execute(
            select(
                JournalEntry.fiscal_year,
                func.count(JournalEntry.id),
                cents_sum(JournalEntry.total),
            ).group_by(JournalEntry.fiscal_year)
        )
    }
    return [
        FiscalYearSummary(
            year=fy.year,
            status=fy.status,
            opened_at=fy.opened_at,
            closed_at=fy.closed_at,
            closed_by_id=fy.closed_by_id,
            entries=counts.get(fy.year, (0, 0))[0],
            total=from_cents(counts.get(fy.year, (0, 0))[1]),
            result=from_cents(results.get(fy.year)) if fy.is_closed else None,
        )
        for fy in session.scalars(select(FiscalYear).order_by(FiscalYear.year.desc()))
    ]


def open_fiscal_year(session: Session, year: int, *, actor: Actor | None) -> FiscalYear:
    """Open ``year`` ahead of its first posting."""
    _check_year(year)
    with transaction(session):
        if session.get(FiscalYear, year) is not None:
            raise Conflict(f"fiscal year {year} already exists", field="year")
        later_closed = _latest_closed_year(session)
        if later_closed is not None and later_closed > year:
            raise FiscalYearClosed(year, reason=f" (it precedes the closed year {later_closed})")
        fiscal_year = FiscalYear(year=year, status=FiscalYearStatus.OPEN, opened_at=utcnow())
        session.add(fiscal_year)
        session.flush()
        _record_opening(session, year, actor)
    return fiscal_year


def close_fiscal_year(
    session: Session,
    year: int,
    *,
    actor: Actor | None,
    settings: LedgerSettings | None = None,
    today: date | None = None,
) -> FiscalYear:
    """Close ``year`` for good, once it is over, its events are posted and earlier years
    are closed.

    In the same transaction: the year's result entry, and the opening entry of the next
    year, opened if new (see :mod:`purchasing.ledger.closing`). ``settings`` name the
    result accounts; those of the configured catalogue when not given. ``today`` is the
    day of the closing (Paris time when not given): a year still running cannot be closed,
    since closing is final and would refuse every later document dated in it.
    """
    settings = settings or configured_settings()
    today = today or today_in_paris()
    with transaction(session):
        fiscal_year = _lock_year(session, year)
        if fiscal_year is None:
            raise NotFound(f"no fiscal year {year}", field="year")
        if fiscal_year.is_closed:
            raise Conflict(f"fiscal year {year} is already closed", field="status")
        if today <= date(year, 12, 31):
            raise FiscalYearNotClosable(
                f"fiscal year {year} is not over: it can be closed from 01/01/{year + 1}",
                field="year",
            )
        earlier_open = session.scalars(
            select(FiscalYear.year).where(
                FiscalYear.year < year, FiscalYear.status == FiscalYearStatus.OPEN
            )
        ).all()
        if earlier_open:
            raise FiscalYearNotClosable(
                f"close fiscal year {', '.join(map(str, earlier_open))} first", field="year"
            )
        pending = _pending_event_ids_of_year(session, year)
        if pending:
            shown = ", ".join(map(str, pending[:10])) + (" ..." if len(pending) > 10 else "")
            raise FiscalYearNotClosable(
                f"{len(pending)} event(s) of {year} are not posted yet (event {shown}): "
                "post them first (centrale ledger post)",
                field="year",
            )
        if year + 1 > LAST_YEAR:
            raise FiscalYearNotClosable(
                f"no fiscal year after {LAST_YEAR} to carry the balances into", field="year"
            )
        # Locked too: postings of the next year wait, as the opening entry letters them.
        next_year = _fiscal_year_taking_postings(session, year + 1, actor)
        # Items settled in the year are lettered already, unless posted before lettering
        # existed: letter them now, so that only open invoices are carried forward.
        letter_settled_items(session, year)
        balances = closing.year_end_balances(session, year)
        result_draft = closing.result_entry(year, balances, settings.accounts)
        opening_draft = closing.opening_entry(year, balances, result_draft)
        result = closing.result_of(result_draft, settings.accounts)
        directory = _DatabaseDirectory(session)
        for draft in (result_draft, opening_draft):
            if draft is not None:
                directory.check_accounts(draft)
        written: dict[str, JournalEntry] = {}
        closed = _ledger_event(session, "fiscal_year.closed", year, {"result": result})
        if result_draft is not None:
            written["result_entry"] = _write_entry(session, result_draft, fiscal_year, closed)
        carried = _ledger_event(
            session, "fiscal_year.carried_forward", year + 1, {"from_year": year}
        )
        if opening_draft is not None:
            opening = _write_entry(
                session, opening_draft, next_year, carried, sequence=OPENING_SEQUENCE
            )
            written["opening_entry"] = opening
            # Invoices of the closed year already paid in the next one now letter.
            letter_settled_items(session, next_year.year)
        for entry in written.values():
            _record_posting(session, entry, actor)
        fiscal_year.status = FiscalYearStatus.CLOSED
        fiscal_year.closed_at = utcnow()
        fiscal_year.closed_by_id = actor.id if actor is not None else None
        record_change(
            session,
            actor=actor,
            action="fiscal_year.closed",
            entity="fiscal_year",
            entity_id=year,
            before={"status": FiscalYearStatus.OPEN.value},
            after={
                "status": FiscalYearStatus.CLOSED.value,
                "result": str(result),
                **{name: entry.number for name, entry in written.items()},
            },
        )
    return fiscal_year


def _ledger_event(session: Session, kind: str, year: int, payload: dict[str, Any]) -> DomainEvent:
    """An event of the ledger itself, posted as it happens: the source of its entry."""
    event = publish(
        session, kind, entity="fiscal_year", entity_id=year, payload={"year": year, **payload}
    )
    event.consumed_at = utcnow()
    session.flush()
    return event


def letter_open_years(session: Session, *, actor: Actor | None) -> int:
    """Letter every settled item of the open years: books posted before lettering existed.

    Safe to run again: an item is lettered once. Returns the number of letterings made.
    """
    made = 0
    with transaction(session):
        years = session.scalars(
            select(FiscalYear.year)
            .where(FiscalYear.status == FiscalYearStatus.OPEN)
            .order_by(FiscalYear.year)
        ).all()
        for year in years:
            _lock_year(session, year)
            made += letter_settled_items(session, year)
        if made:
            record_change(
                session,
                actor=actor,
                action="ledger.lettered",
                entity="fiscal_year",
                entity_id=",".join(map(str, years)),
                after={"letterings": made},
            )
    return made


@dataclass(frozen=True)
class YearEnd:
    """What closing a year wrote: its result, and the entries that carry it."""

    year: int
    #: Positive for a surplus, negative for a deficit.
    result: Decimal
    #: The result entry of the year (journal CL); None if classes 6 and 7 were empty.
    result_entry: JournalEntry | None
    #: The opening entry of the next year (journal AN); None if nothing was carried.
    opening_entry: JournalEntry | None


def year_end(session: Session, year: int) -> YearEnd:
    """The result and year-end entries of a closed year; NotFound if it is not closed."""
    fiscal_year = session.get(FiscalYear, year)
    if fiscal_year is None or not fiscal_year.is_closed:
        raise NotFound(f"no closed fiscal year {year}", field="year")
    summary = next(s for s in list_fiscal_years(session) if s.year == year)
    entries = session.scalars(
        select(JournalEntry)
        .options(selectinload(JournalEntry.lines))
        .where(
            or_(
                (JournalEntry.fiscal_year == year) & (JournalEntry.journal == JournalCode.CLOSING),
                (JournalEntry.fiscal_year == year + 1)
                & (JournalEntry.sequence == OPENING_SEQUENCE),
            )
        )
    ).all()
    by_journal = {entry.journal: entry for entry in entries}
    return YearEnd(
        year=year,
        result=summary.result or Decimal("0.00"),
        result_entry=by_journal.get(JournalCode.CLOSING),
        opening_entry=by_journal.get(JournalCode.OPENING),
    )


def reopen_fiscal_year(session: Session, year: int, *, actor: Actor | None) -> FiscalYear:
    """Always refused for a closed year: the service says why."""
    fiscal_year = session.get(FiscalYear, year)
    if fiscal_year is None:
        raise NotFound(f"no fiscal year {year}", field="year")
    if fiscal_year.is_closed:
        raise FiscalYearIsFinal(year)
    raise Conflict(f"fiscal year {year} is open", field="status")


def _pending_event_ids_of_year(session: Session, year: int) -> list[int]:
    """Pending events dated in ``year``, and those whose date cannot be read (any year)."""
    found = []
    for event_id, kind, payload in session.execute(
        pending_events(session).with_only_columns(
            DomainEvent.id, DomainEvent.kind, DomainEvent.payload
        )
    ):
        try:
            event_year = entry_date_of(kind, payload).year
        except InvalidEventPayload:
            event_year = year  # unreadable: it might belong to this year
        if event_year == year:
            found.append(event_id)
    return found


def _check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValidationFailed(f"a fiscal year from {FIRST_YEAR} to {LAST_YEAR}", field="year")


# --- Reading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryFilters:
    fiscal_year: int | None = None
    journal: JournalCode | None = None
    #: Entries with a line on this account (or a sub-account of it).
    account: str | None = None
    #: Entries with a line on this auxiliary account ("M00012", a supplier code).
    auxiliary: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    reference: str | None = None


def list_entries(
    session: Session, filters: EntryFilters | None = None, *, page: int = 1, per_page: int = 50
) -> Page[JournalEntry]:
    """Entries in the order they were posted, each with its lines."""
    filters = filters or EntryFilters()
    query = select(JournalEntry).options(selectinload(JournalEntry.lines))
    if filters.fiscal_year is not None:
        query = query.where(JournalEntry.fiscal_year == filters.fiscal_year)
    if filters.journal is not None:
        query = query.where(JournalEntry.journal == filters.journal)
    if filters.date_from is not None:
        query = query.where(JournalEntry.entry_date >= filters.date_from)
    if filters.date_to is not None:
        query = query.where(JournalEntry.entry_date <= filters.date_to)
    if filters.reference:
        query = query.where(JournalEntry.document_reference == filters.reference)
    line_conditions: list[ColumnElement[bool]] = []
    if filters.account:
        line_conditions.append(JournalLine.account_number.startswith(filters.account))
    if filters.auxiliary:
        line_conditions.append(JournalLine.auxiliary_number == filters.auxiliary)
    if line_conditions:
        query = query.where(
            select(JournalLine.id)
            .where(JournalLine.entry_id == JournalEntry.id, *line_conditions)
            .exists()
        )
    query = query.order_by(JournalEntry.fiscal_year, JournalEntry.sequence)
    return paginate(session, query, page=page, per_page=per_page)


def get_entry(session: Session, entry_id: int) -> JournalEntry:
    entry = session.get(JournalEntry, entry_id)
    if entry is None:
        raise NotFound(f"no journal entry with id {entry_id}", field="entry_id")
    return entry


# --- Checking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerCheck:
    """What an auditor checks first: every entry balances, every sequence is whole, and
    every lettering matches lines of one invoice that settle each other."""

    entries: int
    lines: int
    total_debit: Decimal
    total_credit: Decimal
    #: Numbers of entries whose lines do not balance or do not add up to their total.
    unbalanced: tuple[str, ...] = ()
    #: Per fiscal year, the entry numbers missing from its sequence.
    gaps: dict[int, tuple[int, ...]] = field(default_factory=dict)
    #: Events of the kinds the ledger posts that are not posted yet.
    pending_ledger_events: int = 0
    #: Letterings whose lines do not balance, or mix items or years: "2026/AB".
    unbalanced_letterings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return (
            not self.unbalanced
            and not self.gaps
            and not self.unbalanced_letterings
            and self.total_debit == self.total_credit
        )


def verify_ledger(session: Session, *, fiscal_year: int | None = None) -> LedgerCheck:
    """Check the books as written: balance of each entry and of the whole, no gap (the
    postings are numbered from 1; entry 0 is an opening entry), sound letterings."""
    entry_filter = [] if fiscal_year is None else [JournalEntry.fiscal_year == fiscal_year]
    per_entry = (
        select(
            JournalEntry.fiscal_year,
            JournalEntry.sequence,
            cents_sum(JournalLine.debit).label("debit"),
            cents_sum(JournalLine.credit).label("credit"),
            cast(func.round(func.max(JournalEntry.total) * 100), BigInteger).label("total"),
        )
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .where(*entry_filter)
        .group_by(JournalEntry.id, JournalEntry.fiscal_year, JournalEntry.sequence)
    ).subquery()
    unbalanced = session.execute(
        select(per_entry.c.fiscal_year, per_entry.c.sequence)
        .where(
            or_(
                per_entry.c.debit != per_entry.c.credit,
                per_entry.c.debit != per_entry.c.total,
            )
        )
        .order_by(per_entry.c.fiscal_year, per_entry.c.sequence)
    ).all()
    entries, lines, debit, credit = session.execute(
        select(
            func.count(func.distinct(JournalLine.entry_id)),
            func.count(JournalLine.id),
            cents_sum(JournalLine.debit),
            cents_sum(JournalLine.credit),
        )
        .join(JournalEntry, JournalLine.entry_id == JournalEntry.id)
        .where(*entry_filter)
    ).one()
    gaps = {}
    for year, count, highest in session.execute(
        select(JournalEntry.fiscal_year, func.count(), func.max(JournalEntry.sequence))
        .where(*entry_filter, JournalEntry.sequence != OPENING_SEQUENCE)
        .group_by(JournalEntry.fiscal_year)
    ):
        if count != highest:
            present = set(
                session.scalars(
                    select(JournalEntry.sequence).where(JournalEntry.fiscal_year == year)
                )
            )
            gaps[year] = tuple(n for n in range(1, highest + 1) if n not in present)
    pending = _count(session, pending_events(session))
    letterings = unbalanced_letterings(session, fiscal_year=fiscal_year)
    session.commit()
    return LedgerCheck(
        entries=entries,
        lines=lines,
        total_debit=from_cents(debit),
        total_credit=from_cents(credit),
        unbalanced=tuple(f"{ENTRY_SERIES}-{year}-{sequence:06d}" for year, sequence in unbalanced),
        gaps=gaps,
        pending_ledger_events=pending,
        unbalanced_letterings=letterings,
    )


def _count(session: Session, query: Any) -> int:
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def refusal_lines(refused: Sequence[PostingRefusal]) -> list[str]:
    """One readable line per refusal: ``event 12 (invoice.issued): <message>``."""
    return [f"event {r.event_id} ({r.kind}): {r.message}" for r in refused]
