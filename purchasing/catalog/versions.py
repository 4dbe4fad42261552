"""The catalogue's version: a value that changes with every write to the catalogue.

Readers that keep something computed from the catalogue (the API's page cache) key it on
this version and read it with one cheap query; whatever they kept under an older version
is never served again.

Every flush that writes a catalogue row (accounts, families, suppliers, markets and their
lots, products, price versions), through the unit of work or a bulk ORM statement, sets a
new version in the same transaction, so the new version becomes visible exactly when the
change does. The version is random rather than a counter: a rolled-back write, or another
database, can never bring back a version already seen with other data.

Writes made outside SQLAlchemy's ``Session`` (a manual ``psql`` session) do not change
it: after one, restart the application, or call :func:`bump_catalog_version`.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import String, event, insert, select, update
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from purchasing.catalog.models import (
    Account,
    Market,
    MarketLot,
    PriceVersion,
    Product,
    ProductFamily,
    Supplier,
)
from purchasing.db import Base

#: The models whose rows make up the catalogue as the API shows it.
CATALOG_MODELS = (Account, ProductFamily, Supplier, Market, MarketLot, Product, PriceVersion)
CATALOG_TABLES = frozenset(model.__tablename__ for model in CATALOG_MODELS)
#: The one row of ``catalog_state``.
STATE_ID = 1


class CatalogState(Base):
    """One row: the catalogue's current version (see the module)."""

    __tablename__ = "catalog_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Random, replaced in the transaction of every catalogue write.
    version: Mapped[str] = mapped_column(String(32))


def new_version() -> str:
    return secrets.token_hex(16)


# A schema built from the models (tests, benchmarks) starts with its row, as the migration
# does; the version is drawn when the table is created.
@event.listens_for(CatalogState.__table__, "after_create")
def _first_version(target: Any, connection: Any, **_kwargs: Any) -> None:
    connection.execute(insert(target).values(id=STATE_ID, version=new_version()))


def catalog_version(session: Session) -> str | None:
    """The catalogue's current version, as this transaction sees it."""
    # On the session's connection, in its transaction: a plain row needs no ORM loading.
    return session.connection().scalar(_VERSION)


_VERSION = select(CatalogState.__table__.c.version).where(CatalogState.__table__.c.id == STATE_ID)


def bump_catalog_version(session: Session) -> None:
    """Give the catalogue a new version in the session's transaction."""
    connection = session.connection()
    changed = connection.execute(
        update(CatalogState).where(CatalogState.id == STATE_ID).values(version=new_version())
    ).rowcount
    if not changed:  # a database whose row was removed: put it back
        connection.execute(insert(CatalogState).values(id=STATE_ID, version=new_version()))


@event.listens_for(Session, "before_flush")
def _bump_on_flush(session: Session, _context: Any, _instances: Any) -> None:
    touched = (session.new, session.dirty, session.deleted)
    if any(isinstance(obj, CATALOG_MODELS) for objects in touched for obj in objects):
        bump_catalog_version(session)


@event.listens_for(Session, "do_orm_execute")
def _bump_on_bulk_write(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in CATALOG_TABLES:
        bump_catalog_version(state.session)
