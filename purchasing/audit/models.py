from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column

from purchasing.db import Base, utcnow


class AuditRecord(Base):
    """One state change. Rows are only ever inserted (see the guard below)."""

    __tablename__ = "audit_records"
    __table_args__ = (Index("ix_audit_records_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: None for changes made by an operator command or a system job.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: E-mail kept as written, so the record stays readable if the user is renamed.
    actor_label: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AuditTrailIsAppendOnly(RuntimeError):
    pass


@event.listens_for(AuditRecord, "before_update")
@event.listens_for(AuditRecord, "before_delete")
def _refuse_change(_mapper: Any, _connection: Any, target: AuditRecord) -> None:
    raise AuditTrailIsAppendOnly(f"audit record {target.id} cannot be changed or deleted")
