"""Ledger helpers for tests: the shipped settings, posting, and events written by hand.

Events of the other domains are best produced through their services (invoices,
payments, supplier invoices); ``publish_event`` writes one directly, for the kinds whose
domain is elsewhere (grants) or for payloads a service would never produce.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from purchasing.catalog.models import Account
from purchasing.config import load_config
from purchasing.events import DomainEvent, publish
from purchasing.ledger import exports, services
from purchasing.ledger.models import JournalEntry, JournalLine
from purchasing.ledger.settings import LedgerSettings, settings_from_config
from purchasing.money import ZERO
from tests.factories.catalog import make_account

#: The accounts the shipped posting settings use (labels shortened from the chart's).
LEDGER_ACCOUNTS = {
    "4111": "Clients amiable",
    "4011": "Fournisseurs de biens et prestations de services",
    "44571": "TVA collectée",
    "44566": "TVA sur autres biens et services",
    "515": "Compte au Trésor",
    "441": "Subventions à recevoir",
    "7477": "Budget communautaire et fonds structurels (FEDER)",
    "6573": "Subventions de fonctionnement aux organismes publics",
    "673": "Titres annulés (sur exercices antérieurs)",
    "120": "Résultat de l'exercice (excédent)",
    "129": "Résultat de l'exercice (déficit)",
}


def ledger_settings() -> LedgerSettings:
    return settings_from_config(load_config())


def make_ledger_accounts(session: Session) -> None:
    """The accounts of the posting settings, in the chart (families bring their own)."""
    for number, label in LEDGER_ACCOUNTS.items():
        make_account(session, number, label)


def post_all(session: Session, **kw: Any) -> services.PostingResult:
    """Post every pending event with the shipped settings."""
    make_ledger_accounts(session)
    return services.post_pending_events(session, settings=ledger_settings(), posted_by=None, **kw)


def publish_event(
    session: Session, kind: str, payload: dict[str, Any], *, entity: str = "test", entity_id=1
) -> DomainEvent:
    """Write one event, committed, as its domain would."""
    event = publish(session, kind, entity=entity, entity_id=entity_id, payload=payload)
    session.commit()
    return event


def subsidy_received(
    session: Session,
    *,
    amount: str = "1000.00",
    received_on: date = date(2026, 6, 1),
    programme_code: str = "FEDER-2024",
    reference: str = "VIR-0001",
) -> DomainEvent:
    return publish_event(
        session,
        "subsidy.received",
        {
            "programme_id": 1,
            "programme_code": programme_code,
            "amount": amount,
            "received_on": received_on.isoformat(),
            "reference": reference,
        },
        entity="subsidy_receipt",
    )


def subsidy_reversed(
    session: Session,
    *,
    amount: str = "400.00",
    reversed_on: date = date(2026, 7, 1),
    programme_code: str = "FEDER-2024",
    partner_code: str = "CDG59",
) -> DomainEvent:
    return publish_event(
        session,
        "subsidy.reversed",
        {
            "programme_id": 1,
            "programme_code": programme_code,
            "partner_code": partner_code,
            "amount": amount,
            "reversed_on": reversed_on.isoformat(),
            "reference": "MANDAT-0001",
        },
        entity="subsidy_reversal",
    )


def entry_for(session: Session, event: DomainEvent) -> JournalEntry | None:
    return session.scalar(select(JournalEntry).where(JournalEntry.source_event_id == event.id))


def lines_of(entry: JournalEntry) -> list[tuple[str, str | None, Decimal, Decimal]]:
    """``(account, auxiliary, debit, credit)`` of each line, in order."""
    return [
        (line.account_number, line.auxiliary_number, line.debit, line.credit)
        for line in entry.lines
    ]


def balances(session: Session) -> dict[str, Decimal]:
    """Debit minus credit per account, over the whole books (accounts with lines only)."""
    result: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in session.scalars(select(JournalLine)):
        result[line.account_number] += line.debit - line.credit
    return dict(result)


def account_label(session: Session, number: str) -> str:
    return session.scalar(select(Account.label).where(Account.number == number))


def fec_records(session: Session, year: int) -> list[dict[str, str]]:
    """The year's FEC file, written then re-read as an auditor's tool reads it."""
    data = b"".join(
        exports.fec_chunks(session, exports.ExportScope.for_year(year), ledger_settings())
    )
    rows = csv.reader(io.StringIO(data.decode("iso-8859-15"), newline=""), delimiter="\t")
    header, *records = list(rows)
    assert tuple(header) == exports.FEC_COLUMNS
    return [dict(zip(header, record, strict=True)) for record in records]


__all__ = [
    "LEDGER_ACCOUNTS",
    "account_label",
    "balances",
    "entry_for",
    "fec_records",
    "ledger_settings",
    "lines_of",
    "make_ledger_accounts",
    "post_all",
    "publish_event",
    "subsidy_received",
    "subsidy_reversed",
]
