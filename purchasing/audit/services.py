"""Recording and reading the audit trail.

``record_change`` and ``record_changes`` add to the caller's transaction: a record lands with
the change it describes, or not at all.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, inspect, select
from sqlalchemy.orm import Session

from purchasing.audit.models import AuditRecord
from purchasing.auth.roles import Actor
from purchasing.db import utcnow
from purchasing.unit_of_work import Page, paginate


def snapshot(obj: Any, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The column values of an ORM object, as JSON-safe values."""
    mapper = inspect(obj).mapper
    return {
        attr.key: json_safe(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in exclude
    }


def json_safe(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def record_change(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    entity: str,
    entity_id: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditRecord:
    """Add an audit record to the session; the caller's commit makes it durable."""
    record = AuditRecord(
        **_values(actor, NewRecord(action, entity, entity_id, before=before, after=after))
    )
    session.add(record)
    return record


@dataclass(frozen=True)
class NewRecord:
    """An audit record to write with :func:`record_changes`."""

    action: str
    entity: str
    entity_id: Any
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


def record_changes(session: Session, *, actor: Actor | None, records: Iterable[NewRecord]) -> None:
    """Write several audit records with one ``INSERT`` in the caller's transaction.

    For a use case that changes many rows at once: no ORM object is built for each
    record, nor its id read back. The records are written when this is called, so
    whatever they name must already be flushed.
    """
    rows = [_values(actor, record) for record in records]
    if rows:
        session.execute(insert(AuditRecord.__table__), rows)


def _values(actor: Actor | None, record: NewRecord) -> dict[str, Any]:
    before, after = record.before, record.after
    if before is not None and after is not None:
        # Keep only what changed, so a reader sees the change, not the whole row twice.
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        before = {k: v for k, v in before.items() if k in changed}
        after = {k: v for k, v in after.items() if k in changed}
    return {
        "at": utcnow(),
        "actor_id": actor.id if actor is not None else None,
        "actor_label": actor.email if actor is not None else "system",
        "action": record.action,
        "entity": record.entity,
        "entity_id": str(record.entity_id),
        "before": before,
        "after": after,
    }


@dataclass(frozen=True)
class AuditFilters:
    entity: str | None = None
    entity_id: str | None = None
    action: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def search_records(
    session: Session, filters: AuditFilters, *, page: int = 1, per_page: int = 50
) -> Page[AuditRecord]:
    """Audit records, newest first, matching every filter given."""
    query = select(AuditRecord).order_by(AuditRecord.id.desc())
    if filters.entity:
        query = query.where(AuditRecord.entity == filters.entity)
    if filters.entity_id:
        query = query.where(AuditRecord.entity_id == filters.entity_id)
    if filters.action:
        query = query.where(AuditRecord.action == filters.action)
    if filters.actor:
        query = query.where(AuditRecord.actor_label == filters.actor.strip().lower())
    if filters.since:
        query = query.where(AuditRecord.at >= filters.since)
    if filters.until:
        query = query.where(AuditRecord.at < filters.until)
    return paginate(session, query, page=page, per_page=per_page)
