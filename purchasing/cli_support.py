"""Helpers shared by the ``centrale`` commands of every domain."""

from __future__ import annotations

import functools
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import URL, make_url

from purchasing.errors import DomainError


def reports_domain_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a DomainError into error lines on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DomainError as exc:
            click.echo(f"error: {exc.message}", err=True)
            for field, messages in exc.errors.items():
                for message in messages:
                    click.echo(f"error: {field}: {message}", err=True)
            sys.exit(1)

    return wrapper


# --- Backup and restore ------------------------------------------------------------------


class BackupFailed(DomainError):
    """A backup or restore could not be made; the message says why."""


def backup_database(database_url: str, target: Path) -> None:
    """Write a consistent copy of the database to ``target``, while the service runs.

    SQLite: the online backup API, page by page, into a SQLite file. PostgreSQL:
    ``pg_dump --format=custom`` (one snapshot), restored by ``pg_restore``.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(_sqlite_path(url))
        copy = sqlite3.connect(target)
        try:
            with copy:
                source.backup(copy)
        finally:
            copy.close()
            source.close()
        return
    _run_pg_tool(
        url, "pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"
    )


def restore_database(database_url: str, source: Path) -> None:
    """Replace the database's content by the backup ``source`` (from :func:`backup_database`).

    SQLite: the backup is copied over the database file through the backup API (the
    service must be stopped). PostgreSQL: ``pg_restore --clean --single-transaction``
    drops and recreates the objects of the backup, all or nothing.
    """
    if not source.is_file():
        raise BackupFailed(f"no backup file {source}", field="file")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        backup = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            _check_sqlite_backup(backup, source)
            target = sqlite3.connect(_sqlite_path(url))
            try:
                with target:
                    backup.backup(target)
            finally:
                target.close()
        finally:
            backup.close()
        return
    _run_pg_tool(
        url,
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        str(source),
    )


def _sqlite_path(url: URL) -> str:
    if not url.database or url.database == ":memory:":
        raise BackupFailed("an in-memory database has nothing to back up", field="database")
    return url.database


def _check_sqlite_backup(backup: sqlite3.Connection, source: Path) -> None:
    """Refuse a file that is not a Centrale backup before anything is overwritten."""
    try:
        found = backup.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
    except sqlite3.DatabaseError:
        found = None
    if found is None:
        raise BackupFailed(f"{source} is not a backup of a Centrale database", field="file")


def _run_pg_tool(url: URL, tool: str, *args: str) -> None:
    """Run ``pg_dump`` / ``pg_restore`` on the database of ``url``; the password goes
    through the environment, never the command line (visible to every local user)."""
    if shutil.which(tool) is None:
        raise BackupFailed(f"{tool} is not installed (PostgreSQL client tools)", field="database")
    conninfo = url.set(drivername="postgresql", password=None).render_as_string()
    env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
    database = ["--dbname", conninfo] if tool == "pg_restore" else [conninfo]
    done = subprocess.run([tool, *args, *database], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupFailed(f"{tool} failed: {done.stderr.strip()[-500:]}", field="database")
