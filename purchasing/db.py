"""Database plumbing: the declarative ``Base``, the money column type, sessions.

Services receive a ``Session`` and commit once; views get the request's session from
:func:`get_session`. Tests swap the session factory for one bound to a rolled-back
transaction (see ``tests/conftest.py``).
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    DateTime,
    Engine,
    Enum,
    MetaData,
    Numeric,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from purchasing.money import round_cents, round_rate

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Money(TypeDecorator):
    """An amount in euros: ``Numeric(14, 2)``, read back as a Decimal to the cent.

    SQLite keeps numerics as binary floats; quantising on the way in and out keeps
    every amount exact to the cent on both databases.
    """

    impl = Numeric(14, 2, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else round_cents(value)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else round_cents(value)


class Rate(TypeDecorator):
    """A rate with four decimals (0.2000 = 20 %): margin, VAT, aid."""

    impl = Numeric(7, 4, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else round_rate(value)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else round_rate(value)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on both databases (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: timestamps are stored in UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_column(
    enum_class: type[enum.Enum], *, length: int, name: str | None = None, check: bool = False
) -> Enum:
    """A portable enum column: a string holding the members' values ('one_off'), not their
    names, refusing any other string; ``check`` adds a CHECK constraint called ``name``."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=check,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    #: ``Mapped[Decimal]`` means money unless a column says otherwise (rates use ``Rate``).
    type_annotation_map = {Decimal: Money, datetime: UTCDateTime}


def utcnow() -> datetime:
    return datetime.now(UTC)


def reserve_ids(session: Session, table: Table, count: int) -> list[int] | None:
    """``count`` ids taken from the sequence of ``table``'s ``id`` on PostgreSQL, in one
    query; None elsewhere. Rows whose ids are known are inserted in one batch without
    sending each id back: the driver pipelines them, where rows whose ids come back are
    sent as one statement of thousands of parameters that it must parse each time."""
    if count == 0 or session.get_bind().dialect.name != "postgresql":
        return None
    return list(
        session.scalars(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table.name, "n": count},
        )
    )


def any_of(
    session: Session, column: ColumnElement[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """``column IN values``, for the thousand ids a billing run's group looks up at once.

    On PostgreSQL the values go as one array parameter (``column = ANY(:values)``): an
    ``IN`` list is one parameter a value, each rendered, bound and parsed again for every
    new count, which cost the client seven times the array's CPU for a thousand ids.
    Elsewhere, the ``IN`` list.
    """
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def copy_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    columns: Sequence[str] | None = None,
) -> bool:
    """Write ``rows`` (ids included) into ``table`` by PostgreSQL's ``COPY``, in the
    session's transaction; False elsewhere, nothing written. ``columns``: the keys of
    each row to write, by default those of the first row (a row may then hold other keys,
    as an object's ``__dict__`` does).

    For the thousands of rows of a billing run's group: each row of an ``INSERT`` batch is a
    statement the server parses, plans and runs, where ``COPY`` streams them all. Values go
    through the columns' types as in any statement, so what is written is the same.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return False
    if not rows:
        return True
    names = list(rows[0] if columns is None else columns)
    # Only the few columns whose type changes a value go through it (amounts, booleans):
    # a group's thousand rows of twenty columns each, one call a value, cost more than COPY.
    processed = [
        (index, process)
        for index, process in enumerate(
            table.c[name].type._cached_bind_processor(connection.dialect) for name in names
        )
        if process is not None
    ]
    values_of = operator.itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
    quote = connection.dialect.identifier_preparer.quote
    command = f"COPY {quote(table.name)} ({', '.join(quote(name) for name in names)}) FROM STDIN"
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(command) as copy:
        for row in rows:
            values = list(values_of(row))
            for index, process in processed:
                values[index] = process(values[index])
            copy.write_row(values)
    return True


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin, so that
            # BEGIN and SAVEPOINT behave as on PostgreSQL (the driver's own handling
            # defers BEGIN and breaks savepoints).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN")

    return engine


def drop_every_table(engine: Engine) -> None:
    """Empty a scratch database (tests, benchmarks) whatever schema it holds.

    Reflects what is really there rather than trusting the current models: a database left
    by another branch's run may hold tables, and foreign keys to them, that this code no
    longer knows.
    """
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        return
    found = MetaData()
    found.reflect(engine)
    found.drop_all(engine)


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["centrale.engine"] = engine
    app.extensions["centrale.sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def get_session() -> Session:
    """The session of the current request or CLI command, created on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["centrale.sessionmaker"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
