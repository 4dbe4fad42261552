"""Domain events kept in an outbox table, written in the same transaction as the change.

The ledger reads them to post journal entries: a committed purchase or invoice always has
its event, and a rolled-back one never has.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from purchasing.audit.services import json_safe
from purchasing.db import Base, utcnow


class DomainEvent(Base):
    __tablename__ = "domain_events"
    __table_args__ = (Index("ix_domain_events_unconsumed", "consumed_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: e.g. "purchase.recorded", "invoice.issued"
    kind: Mapped[str] = mapped_column(String(64), index=True)
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: set by the consumer (the ledger) once the event has been posted
    consumed_at: Mapped[datetime | None]


def publish(
    session: Session, kind: str, *, entity: str, entity_id: Any, payload: dict[str, Any]
) -> DomainEvent:
    """Add an event to the caller's transaction."""
    event = DomainEvent(
        kind=kind,
        entity=entity,
        entity_id=str(entity_id),
        payload={key: json_safe(value) for key, value in payload.items()},
    )
    session.add(event)
    return event
