"""Year-end closing (M4, operating section): the year's result, and the balances carried on.

Closing year N writes two entries in the closing's one transaction (a refused closing
writes nothing), built here from the year's balances as pure functions:

1. **The result entry** (détermination du résultat), journal ``CL``, dated 31 December N,
   the last entry of N: every class 6 and 7 account with a balance is brought to zero,
   and the difference goes to the result account, 120 "excédent" credited or 129
   "déficit" debited. It is dated on the year's last day because it belongs to the
   year's accounts (its FEC ``ValidDate`` is the day of the closing); the closed year's
   trial balance and FEC thus end on its result, as its compte de gestion states it. A
   journal of its own keeps it apart from the year's operations: the margin and activity
   reports, which read the year's sales and purchases, leave it out.

2. **The opening entry** (à-nouveaux), journal ``AN``, dated 1 January N+1: the balance of
   every balance-sheet account (classes 1 to 5, the new 120 or 129 included) carried
   into N+1, which is opened if it does not exist yet. Balances are carried per
   auxiliary account (member, supplier, grant programme) and, on members' and
   suppliers' accounts, per invoice still open (à-nouveaux détaillés): the payment of an
   N invoice received in N+1 then letters with that invoice's own opening line (see
   :mod:`purchasing.ledger.lettering`).

   It is **entry 0** of N+1 (``EC-2027-000000``). The FEC (article A47 A-1 of the LPF,
   BOI-CF-IOR-60-40-20) wants the à-nouveaux as the first entry of the year, yet N closes
   weeks into N+1, after its first postings, and entry numbers follow the order entries
   were validated, without gaps. Number 0 keeps both: the opening entry comes first in
   every listing and FEC of N+1, and postings keep their continuous numbers from 1. The
   database holds entry 0 for the ``AN`` journal alone, and one per year.

The result then stays in 120 or 129 until the assembly assigns it by deliberation in N+1
(affectation du résultat, to 110 / 119 or elsewhere): an entry of N+1, not of the closing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from purchasing.ledger.cents import cents_sum, from_cents
from purchasing.ledger.models import JournalCode, JournalEntry, JournalLine, UnbalancedEntry
from purchasing.ledger.posting import EntryDraft, LineDraft, Party
from purchasing.ledger.settings import LedgerAccounts
from purchasing.money import ZERO

__all__ = [
    "RESULT_CLASSES",
    "Balance",
    "is_result_account",
    "opening_entry",
    "result_entry",
    "result_of",
    "year_end_balances",
]

#: The classes the result is made of: expenses (6) and revenues (7), M4.
RESULT_CLASSES = ("6", "7")


def is_result_account(number: str) -> bool:
    return number.startswith(RESULT_CLASSES)


@dataclass(frozen=True)
class Balance:
    """What one account owes or is owed at year end, per auxiliary account and invoice."""

    account: str
    auxiliary: str | None
    auxiliary_label: str | None
    #: The open invoice, on members' and suppliers' accounts.
    matching: str | None
    #: Debit minus credit: positive for a debit balance.
    amount: Decimal

    @property
    def key(self) -> tuple[str, str, str]:
        return self.account, self.auxiliary or "", self.matching or ""


def year_end_balances(session: Session, year: int) -> list[Balance]:
    """Every non-zero balance of ``year``'s books, by account, auxiliary account, invoice."""
    group = (
        JournalLine.account_number,
        JournalLine.auxiliary_number,
        JournalLine.matching_reference,
    )
    rows = session.execute(
        select(
            *group,
            # One name per party: they differ only if a member was renamed meanwhile.
            func.max(JournalLine.auxiliary_label),
            cents_sum(JournalLine.debit) - cents_sum(JournalLine.credit),
        )
        .join(JournalEntry, JournalLine.entry_id == JournalEntry.id)
        .where(JournalEntry.fiscal_year == year)
        .group_by(*group)
    )
    balances = [
        Balance(account, auxiliary, label, matching, from_cents(amount))
        for account, auxiliary, matching, label, amount in rows
        if amount
    ]
    return sorted(balances, key=lambda balance: balance.key)


def result_entry(
    year: int, balances: Iterable[Balance], accounts: LedgerAccounts
) -> EntryDraft | None:
    """The entry that brings classes 6 and 7 to zero against 120 or 129; None if all are.

    Each account is brought to zero per auxiliary account too (the partners a grant is
    passed on to, on 6573), so that nothing of the year is left on any of them.
    """
    per_account: dict[tuple[str, str | None], Balance] = {}
    for balance in balances:
        if is_result_account(balance.account):
            key = (balance.account, balance.auxiliary)
            known = per_account.get(key)
            per_account[key] = dataclasses.replace(
                balance, matching=None, amount=balance.amount + (known.amount if known else ZERO)
            )
    ordered = sorted(per_account.values(), key=lambda balance: balance.key)
    lines = [_reversing(balance) for balance in ordered if balance.amount]
    if not lines:
        return None
    # Revenues are credit balances, expenses debit ones: the result is minus their sum.
    result = -sum((balance.amount for balance in ordered), ZERO)
    if result > 0:
        lines.append(LineDraft(accounts.result_surplus, credit=result))
    elif result < 0:
        lines.append(LineDraft(accounts.result_deficit, debit=-result))
    return _draft(
        entry_date=date(year, 12, 31),
        journal=JournalCode.CLOSING,
        reference=f"RESULTAT-{year}",
        label=f"Détermination du résultat de l'exercice {year}",
        lines=lines,
    )


def result_of(draft: EntryDraft | None, accounts: LedgerAccounts) -> Decimal:
    """The result a result entry carries: positive for a surplus, negative for a deficit."""
    if draft is None:
        return ZERO
    return sum(
        (
            line.credit - line.debit
            for line in draft.lines
            if line.account in (accounts.result_surplus, accounts.result_deficit)
        ),
        ZERO,
    )


def opening_entry(
    year: int, balances: Iterable[Balance], result: EntryDraft | None
) -> EntryDraft | None:
    """The à-nouveaux of ``year + 1``: the balance-sheet balances once the result is in."""
    carried: dict[tuple[str, str, str], Balance] = {}
    closing_lines = [
        Balance(line.account, None, None, None, line.debit - line.credit)
        for line in (result.lines if result is not None else ())
    ]
    for balance in (*balances, *closing_lines):
        if is_result_account(balance.account):
            continue
        known = carried.get(balance.key)
        amount = balance.amount + (known.amount if known else ZERO)
        carried[balance.key] = Balance(
            balance.account,
            balance.auxiliary,
            balance.auxiliary_label,
            balance.matching,
            amount,
        )
    lines = [_carried(balance) for _key, balance in sorted(carried.items()) if balance.amount]
    if not lines:
        return None
    following = year + 1
    return _draft(
        entry_date=date(following, 1, 1),
        journal=JournalCode.OPENING,
        reference=f"AN-{following}",
        label=f"À-nouveaux {following} : soldes de bilan au 31/12/{year}",
        lines=lines,
    )


def _reversing(balance: Balance) -> LineDraft:
    """The line that brings a result account's balance to zero."""
    side = {"credit": balance.amount} if balance.amount > 0 else {"debit": -balance.amount}
    return LineDraft(balance.account, party=_party(balance), **side)


def _carried(balance: Balance) -> LineDraft:
    """The line that carries a balance-sheet balance into the next year."""
    side = {"debit": balance.amount} if balance.amount > 0 else {"credit": -balance.amount}
    return LineDraft(balance.account, party=_party(balance), matching=balance.matching, **side)


def _party(balance: Balance) -> Party | None:
    if balance.auxiliary is None:
        return None
    return Party(balance.auxiliary, balance.auxiliary_label or balance.auxiliary)


def _draft(*, lines: Sequence[LineDraft], **header: object) -> EntryDraft:
    draft = EntryDraft(lines=tuple(lines), **header)  # type: ignore[arg-type]
    if draft.total_debit != draft.total_credit:
        raise UnbalancedEntry(
            f"{draft.reference}: debits {draft.total_debit} != credits {draft.total_credit}"
        )
    return draft
