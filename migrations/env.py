"""Alembic environment: the models' metadata, the URL from the application config."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from sqlalchemy.types import TypeDecorator

from purchasing.config import load_config
from purchasing.db import make_engine
from purchasing.models import metadata

config = context.config


def _url() -> str:
    return config.attributes.get("database_url") or load_config()["DATABASE_URL"]


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def render_item(type_: str, obj, autogen_context):
    """Write the project's column types as their plain SQL types, so that a migration
    stays what it was when written even if ``purchasing.db`` changes."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        impl = obj.impl
        if isinstance(impl, sa.Numeric):
            return f"sa.Numeric({impl.precision}, {impl.scale})"
        if isinstance(impl, sa.DateTime):
            return f"sa.DateTime(timezone={impl.timezone})"
    return False


def _run(connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        render_item=render_item,
        render_as_batch=sqlite,
    )
    if sqlite:
        # A batch migration rebuilds a table by dropping it, which SQLite refuses while
        # other rows reference it; the pragma only takes effect outside a transaction, so
        # it is set on the driver's connection, and the keys are checked once at the end.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    try:
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
    finally:
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
