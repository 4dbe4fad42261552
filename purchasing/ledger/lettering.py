"""Lettering (lettrage) of members' receivables and suppliers' payables.

A line on a member's or a supplier's account carries the invoice it belongs to: its
matching reference, set by the posting rules (the invoice's own number on the invoice's
line, the number a payment pays, the number a credit note corrects). The lines of one
account, auxiliary account and reference within a fiscal year that balance (an invoice
and the payments and credit notes that settle it) are lettered together: one letter code
(FEC ``EcritureLet``) and the date of the latest of them, the one that settled the
others (FEC ``DateLet``). A partial payment letters nothing: the invoice and its payments
stay open until the last cent is paid or credited.

Lettering stays within a fiscal year. An invoice still open when its year closes is
carried into the next year by a line of its own in the opening entry (à-nouveaux
détaillés, see :mod:`purchasing.ledger.closing`) bearing the same reference: the payment
that settles it next year letters with that line, so every lettering balances within the
FEC of its year, and the lines of a closed year are never lettered afterwards.

Items are lettered in the transaction that writes the line settling them (a posting, or
the closing for the opening entry's lines). The caller holds the fiscal year's row lock,
which every posting takes: two transactions never letter the same year at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from purchasing.ledger.cents import cents
from purchasing.ledger.models import (
    JournalEntry,
    JournalLine,
    LetteredLine,
    Lettering,
    lettering_code,
)

__all__ = ["MatchingKey", "letter_settled_items", "unbalanced_letterings"]


@dataclass(frozen=True, order=True)
class MatchingKey:
    """What the lines of one item share: account, auxiliary account, invoice reference."""

    account: str
    auxiliary: str
    reference: str

    @classmethod
    def of(cls, line: JournalLine) -> MatchingKey | None:
        if line.matching_reference is None or line.auxiliary_number is None:
            return None
        return cls(line.account_number, line.auxiliary_number, line.matching_reference)


def letter_settled_items(
    session: Session, fiscal_year: int, keys: Iterable[MatchingKey] | None = None
) -> int:
    """Letter the items of ``fiscal_year`` now settled (of ``keys`` only, if given).

    An item is settled when its lines not lettered yet balance, with at least one on
    each side. Returns the number of letterings made; the caller commits.
    """
    wanted = None if keys is None else sorted(set(keys))
    if wanted == []:
        return 0
    unlettered = _unlettered_lines(fiscal_year, wanted).subquery()
    item = (unlettered.c.account, unlettered.c.auxiliary, unlettered.c.reference)
    settled = (
        select(*item, func.max(unlettered.c.entry_date).label("lettered_on"))
        .group_by(*item)
        .having(
            func.sum(unlettered.c.debit) == func.sum(unlettered.c.credit),
            func.sum(unlettered.c.debit) > 0,
        )
        .subquery()
    )
    rows = session.execute(
        select(
            unlettered.c.line_id,
            settled.c.account,
            settled.c.auxiliary,
            settled.c.reference,
            settled.c.lettered_on,
        )
        .join(
            settled,
            and_(
                unlettered.c.account == settled.c.account,
                unlettered.c.auxiliary == settled.c.auxiliary,
                unlettered.c.reference == settled.c.reference,
            ),
        )
        .order_by(
            settled.c.lettered_on,
            settled.c.account,
            settled.c.auxiliary,
            settled.c.reference,
            unlettered.c.line_id,
        )
    ).all()
    if not rows:
        return 0
    last = session.scalar(
        select(func.coalesce(func.max(Lettering.sequence), 0)).where(
            Lettering.fiscal_year == fiscal_year
        )
    )
    letterings: dict[MatchingKey, Lettering] = {}
    for line_id, account, auxiliary, reference, lettered_on in rows:
        key = MatchingKey(account, auxiliary, reference)
        lettering = letterings.get(key)
        if lettering is None:
            lettering = letterings[key] = Lettering(
                fiscal_year=fiscal_year,
                sequence=last + len(letterings) + 1,
                account_number=account,
                auxiliary_number=auxiliary,
                matching_reference=reference,
                lettered_on=_as_date(lettered_on),
            )
        lettering.lines.append(LetteredLine(line_id=line_id))
    session.add_all(letterings.values())
    session.flush()
    return len(letterings)


def _unlettered_lines(fiscal_year: int, keys: list[MatchingKey] | None) -> Select[Any]:
    query = (
        select(
            JournalLine.id.label("line_id"),
            JournalLine.account_number.label("account"),
            JournalLine.auxiliary_number.label("auxiliary"),
            JournalLine.matching_reference.label("reference"),
            cents(JournalLine.debit).label("debit"),
            cents(JournalLine.credit).label("credit"),
            JournalEntry.entry_date.label("entry_date"),
        )
        .join(JournalEntry, JournalLine.entry_id == JournalEntry.id)
        .where(
            JournalEntry.fiscal_year == fiscal_year,
            JournalLine.matching_reference.is_not(None),
            JournalLine.auxiliary_number.is_not(None),
            ~select(LetteredLine.line_id).where(LetteredLine.line_id == JournalLine.id).exists(),
        )
    )
    if keys is not None:
        query = query.where(
            or_(
                *(
                    and_(
                        JournalLine.account_number == key.account,
                        JournalLine.auxiliary_number == key.auxiliary,
                        JournalLine.matching_reference == key.reference,
                    )
                    for key in keys
                )
            )
        )
    return query


def _as_date(value: date | str) -> date:
    """SQLite hands MAX() of a date column back as text."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def unbalanced_letterings(session: Session, *, fiscal_year: int | None = None) -> tuple[str, ...]:
    """Letterings that do not hold: lines that do not balance, or of another item or year.

    Named ``2026/AB``: the year and the letter code.
    """
    year_filter = [] if fiscal_year is None else [Lettering.fiscal_year == fiscal_year]
    strays = or_(
        JournalLine.account_number != Lettering.account_number,
        JournalLine.auxiliary_number != Lettering.auxiliary_number,
        JournalLine.matching_reference != Lettering.matching_reference,
        JournalLine.matching_reference.is_(None),
        JournalEntry.fiscal_year != Lettering.fiscal_year,
    )
    per_lettering = (
        select(Lettering.fiscal_year, Lettering.sequence)
        .join(LetteredLine, LetteredLine.lettering_id == Lettering.id)
        .join(JournalLine, LetteredLine.line_id == JournalLine.id)
        .join(JournalEntry, JournalLine.entry_id == JournalEntry.id)
        .where(*year_filter)
        .group_by(Lettering.id, Lettering.fiscal_year, Lettering.sequence)
        .having(
            or_(
                func.sum(cents(JournalLine.debit)) != func.sum(cents(JournalLine.credit)),
                # A line of another item or of another year.
                func.sum(case((strays, 1), else_=0)) > 0,
            )
        )
        .order_by(Lettering.fiscal_year, Lettering.sequence)
    )
    return tuple(
        f"{year}/{lettering_code(sequence)}" for year, sequence in session.execute(per_lettering)
    )
