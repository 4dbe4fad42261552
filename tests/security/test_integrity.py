"""The database itself refuses what breaks the key rules, whatever code (or person) writes.

Each write here is raw SQL that bypasses the ORM and its guards, as a script, a bug in a
future service or someone at a SQL prompt would; the database must refuse it. The schema
is the one the Alembic migrations build, as in production (not the models' create_all),
so that a constraint or trigger a migration lost is noticed here. A stored PDF or XML
changed that way is not refused by the database, but found by the document check.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from purchasing.auth.roles import Role
from purchasing.billing.integrity import verify_documents
from purchasing.billing.models import (
    Invoice,
    InvoiceDocumentFile,
    InvoiceLine,
    InvoiceStatus,
    IssuedDocumentIsImmutable,
)
from purchasing.cli import main
from purchasing.db import make_engine
from purchasing.migrate import alembic_config, upgrade
from purchasing.subsidies.models import SubsidyProgramme
from tests.security.world import world_on

#: The scratch PostgreSQL database of this module, next to the suite's.
SCRATCH_DATABASE = "sec_integrity"


@pytest.fixture(scope="module")
def migrated_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A new database built by ``alembic upgrade head``, of the same kind as the suite's."""
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        url = f"sqlite:///{tmp_path_factory.mktemp('integrity') / 'migrated.sqlite3'}"
        upgrade(url)
        yield url
        return
    admin = make_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{SCRATCH_DATABASE}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{SCRATCH_DATABASE}"')
    url = make_url(base).set(database=SCRATCH_DATABASE).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{SCRATCH_DATABASE}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="module")
def world_app(migrated_url: str):
    """The hostile tests' world, on the migrated schema."""
    engine = make_engine(migrated_url)
    try:
        with world_on(engine, migrated_url) as built:
            yield built
    finally:
        engine.dispose()


@pytest.fixture
def session(world_app):
    """A session on the world; each refused write is tried in a savepoint of its own."""
    app, _world = world_app
    with app.extensions["centrale.sessionmaker"]() as session:
        yield session


def test_the_schema_is_the_migrations_one(session):
    """Built by Alembic (its version table at head), not by the models' create_all."""
    assert "alembic_version" in inspect(session.connection()).get_table_names()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert session.scalar(text("SELECT version_num FROM alembic_version")) == head


def _refused(session, statement: str, **params) -> None:
    nested = session.begin_nested()
    with pytest.raises(IntegrityError):
        session.execute(text(statement), params)
        session.flush()
    nested.rollback()


def _issued(session) -> list[Invoice]:
    return list(
        session.scalars(
            select(Invoice).where(Invoice.status == InvoiceStatus.ISSUED).order_by(Invoice.id)
        )
    )


def test_two_documents_never_share_a_number(session):
    first, second = _issued(session)[:2]
    _refused(
        session, "UPDATE invoices SET number = :n WHERE id = :id", n=first.number, id=second.id
    )
    _refused(
        session,
        "UPDATE invoices SET sequence = :s WHERE id = :id",
        s=first.sequence,
        id=second.id,
    )


def test_an_issued_invoice_always_has_its_number_and_a_draft_none(session):
    invoice = _issued(session)[0]
    _refused(session, "UPDATE invoices SET number = NULL WHERE id = :id", id=invoice.id)
    _refused(session, "UPDATE invoices SET status = 'draft' WHERE id = :id", id=invoice.id)


def test_an_issued_invoice_never_goes_back_to_draft_nor_changes_its_number(session):
    """A trigger (PostgreSQL and SQLite): whatever writes, an issued invoice keeps its
    status, series, fiscal year, sequence and number; what is paid on it may change."""
    invoice = _issued(session)[0]
    statement = "UPDATE invoices SET {} WHERE id = :id"
    for change in (
        "status = 'draft', number = NULL, sequence = NULL, fiscal_year = NULL",
        "number = 'FA-2099-999999'",
        "sequence = 999999",
        "fiscal_year = fiscal_year + 50",
        "series = 'XX'",
    ):
        _refused(session, statement.format(change), id=invoice.id)
    # The settlement columns stay free: payments and credit notes write them.
    nested = session.begin_nested()
    session.execute(
        text(statement.format("amount_paid = 1, payment_status = 'partly_paid'")),
        {"id": invoice.id},
    )
    nested.rollback()
    # Nor does the ORM let one back to draft (its own guard, above the database's).
    session.expire_all()
    nested = session.begin_nested()
    invoice = session.get(Invoice, invoice.id)
    invoice.status, invoice.number, invoice.sequence = InvoiceStatus.DRAFT, None, None
    with pytest.raises(IssuedDocumentIsImmutable):
        session.flush()
    nested.rollback()
    session.expire_all()


def test_a_subscription_line_always_carries_its_period(session):
    """The unique index below counts a NULL as distinct from every other value: a
    subscription line without its period start or service start is refused outright."""
    line = session.scalar(
        select(InvoiceLine).where(InvoiceLine.subscription_id.is_not(None)).limit(1)
    )
    for column in ("billed_period_start", "service_start"):
        _refused(session, f"UPDATE invoice_lines SET {column} = NULL WHERE id = :id", id=line.id)
        # A copy of the line without it, which the unique index alone would let in.
        columns = [
            c.name
            for c in InvoiceLine.__table__.columns
            if c.name not in {"id", "position", column}
        ]
        listed = ", ".join(columns)
        _refused(
            session,
            f"INSERT INTO invoice_lines (position, {column}, {listed}) "
            f"SELECT position + 100, NULL, {listed} FROM invoice_lines WHERE id = :id",
            id=line.id,
        )


def test_a_subscription_is_never_invoiced_twice_for_a_period(session):
    line = session.scalar(
        select(InvoiceLine).where(InvoiceLine.subscription_id.is_not(None)).limit(1)
    )
    # The very same line again (another position), every column copied but the id.
    columns = [c.name for c in InvoiceLine.__table__.columns if c.name not in {"id", "position"}]
    listed = ", ".join(columns)
    _refused(
        session,
        f"INSERT INTO invoice_lines (position, {listed}) "
        f"SELECT position + 100, {listed} FROM invoice_lines WHERE id = :id",
        id=line.id,
    )


def test_a_subsidy_envelope_is_never_negative_nor_overspent(session):
    programme = session.scalar(select(SubsidyProgramme).limit(1))
    statement = "UPDATE subsidy_programmes SET {} WHERE id = :id"
    for change in ("envelope = -1", "consumed = -0.01", "consumed = envelope + 0.01"):
        _refused(session, statement.format(change), id=programme.id)


def test_money_received_is_never_negative(session):
    invoice = _issued(session)[0]
    _refused(session, "UPDATE invoices SET amount_paid = -5 WHERE id = :id", id=invoice.id)
    _refused(
        session,
        "INSERT INTO payments (invoice_id, amount, paid_on, reference, recorded_at) "
        "VALUES (:id, -10, '2026-01-02', 'x', '2026-01-02 10:00:00')",
        id=invoice.id,
    )


def _check(app):
    with app.extensions["centrale.sessionmaker"]() as reader:
        return verify_documents(reader)


def _command(app):
    with app.app_context():
        return CliRunner().invoke(
            main, ["billing", "verify-documents"], obj=ScriptInfo(create_app=lambda: app)
        )


@pytest.mark.parametrize("part", ["pdf", "xml"])
def test_a_stored_document_altered_behind_the_applications_back_is_reported(
    world_app, session, part
):
    app, world = world_app
    assert _check(app).ok
    tampered = _issued(session)[0]
    nested = session.begin_nested()
    session.execute(
        text(f"UPDATE invoice_documents SET {part} = :content WHERE invoice_id = :id"),
        {"content": b"not the issued document", "id": tampered.id},
    )
    found = _check(app)
    assert [(a.invoice_id, a.number, a.part) for a in found.altered] == [
        (tampered.id, tampered.number, part.upper())
    ]
    assert found.altered[0].stored_sha256 == hashlib.sha256(b"not the issued document").hexdigest()
    assert found.checked == len(_issued(session))
    result = _command(app)
    assert result.exit_code == 1
    assert f"error: {tampered.number}: stored {part.upper()} altered" in result.output
    # Nor is it served, the PDF nor the XML: the application stops at the hash.
    finance = {"Authorization": f"Bearer {world.staff_tokens[Role.FINANCE]}"}
    for served_part in ("pdf", "xml"):
        served = app.test_client().get(
            f"/api/v1/invoices/{tampered.id}/{served_part}", headers=finance
        )
        assert served.status_code == 500, served_part
        assert b"not the issued document" not in served.data
    nested.rollback()

    result = _command(app)
    assert result.exit_code == 0, result.output
    assert f"{found.checked} document(s) checked" in result.output
    # As issued again: served, with the hash recorded at issue.
    session.expire_all()
    stored = session.get(InvoiceDocumentFile, tampered.id)
    served = app.test_client().get(f"/api/v1/invoices/{tampered.id}/xml", headers=finance)
    assert served.status_code == 200
    assert served.headers["X-Content-SHA256"] == stored.xml_sha256
    assert hashlib.sha256(served.data).hexdigest() == stored.xml_sha256


def test_an_issued_invoice_without_its_stored_document_is_reported(world_app, session):
    app, world = world_app
    lost = _issued(session)[0]
    nested = session.begin_nested()
    session.execute(text("DELETE FROM invoice_documents WHERE invoice_id = :id"), {"id": lost.id})
    found = _check(app)
    assert found.missing == [lost.number] and not found.altered and not found.ok
    assert found.checked == len(_issued(session)) - 1
    result = _command(app)
    assert result.exit_code == 1
    assert f"error: {lost.number}: no stored document" in result.output
    finance = {"Authorization": f"Bearer {world.staff_tokens[Role.FINANCE]}"}
    for part in ("pdf", "xml"):
        served = app.test_client().get(f"/api/v1/invoices/{lost.id}/{part}", headers=finance)
        assert served.status_code == 404, part
    nested.rollback()
    assert _check(app).ok
