"""The database itself refuses what breaks the key rules, whatever code (or person) writes.

Each write here is raw SQL that bypasses the ORM and its guards, as a script, a bug in a
future service or someone at a SQL prompt would; the database must refuse it. A stored
PDF changed that way is not refused by the database, but found by the document check.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from purchasing.auth.roles import Role
from purchasing.billing.integrity import verify_documents
from purchasing.billing.models import Invoice, InvoiceLine, InvoiceStatus
from purchasing.cli import main
from purchasing.subsidies.models import SubsidyProgramme


@pytest.fixture
def session(world_app):
    """A session on the world; each refused write is tried in a savepoint of its own."""
    app, _world = world_app
    with app.extensions["centrale.sessionmaker"]() as session:
        yield session


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


def test_a_stored_pdf_altered_behind_the_applications_back_is_reported(world_app, session):
    app, world = world_app

    def check():
        with app.extensions["centrale.sessionmaker"]() as reader:
            return verify_documents(reader)

    def command():
        with app.app_context():
            return CliRunner().invoke(
                main, ["billing", "verify-documents"], obj=ScriptInfo(create_app=lambda: app)
            )

    assert check().ok
    tampered = _issued(session)[0]
    nested = session.begin_nested()
    session.execute(
        text("UPDATE invoice_documents SET pdf = :pdf WHERE invoice_id = :id"),
        {"pdf": b"%PDF-1.7 not the issued document", "id": tampered.id},
    )
    found = check()
    assert [(a.invoice_id, a.number) for a in found.altered] == [(tampered.id, tampered.number)]
    assert found.checked == len(_issued(session))
    result = command()
    assert result.exit_code == 1
    assert f"error: {tampered.number}: stored PDF altered" in result.output
    # Nor is it served: the application stops at the hash, and logs why.
    finance = {"Authorization": f"Bearer {world.staff_tokens[Role.FINANCE]}"}
    served = app.test_client().get(f"/api/v1/invoices/{tampered.id}/pdf", headers=finance)
    assert served.status_code == 500
    assert b"not the issued document" not in served.data
    nested.rollback()

    result = command()
    assert result.exit_code == 0, result.output
    assert f"{found.checked} document(s) checked" in result.output
