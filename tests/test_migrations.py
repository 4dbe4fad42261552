"""The Alembic migrations build the schema the models describe, on both databases."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from purchasing.billing.document import DocumentKind
from purchasing.billing.models import Invoice
from purchasing.catalog.deliberations import Deliberation
from purchasing.db import make_engine
from purchasing.migrate import alembic_config, upgrade
from purchasing.models import metadata
from tests.factories import make_family, make_member, make_product

SCRATCH_DATABASE = "centrale_migrations_test"


@pytest.fixture
def empty_database_url(database_url: str, tmp_path) -> Iterator[str]:
    """A database with nothing in it, of the same kind as the suite's."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    admin = make_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE}")
        conn.exec_driver_sql(f"CREATE DATABASE {SCRATCH_DATABASE}")
    try:
        yield url.set(database=SCRATCH_DATABASE).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE} WITH (FORCE)")
        admin.dispose()


def test_upgrade_head_builds_every_table_and_matches_the_models(empty_database_url):
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert set(metadata.tables) <= tables
        # `alembic check`: autogenerate finds nothing left to migrate.
        command.check(alembic_config(empty_database_url))
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(empty_database_url):
    upgrade(empty_database_url)
    command.downgrade(alembic_config(empty_database_url), "base")
    engine = make_engine(empty_database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(empty_database_url)


def test_0012_hashes_the_xml_of_the_documents_already_stored(empty_database_url):
    """The XML of documents stored before 0012 gets its SHA-256, computed from it."""
    upgrade(empty_database_url, "0011")
    xml = b'<?xml version="1.0"?><rsm:CrossIndustryInvoice/>'
    engine = make_engine(empty_database_url)
    try:
        # Members and invoices are as 0011 left them: the models may write them.
        with Session(engine) as session:
            invoice = Invoice(
                kind=DocumentKind.INVOICE, series="FA", member_id=make_member(session).id
            )
            session.add(invoice)
            session.commit()
            invoice_id = invoice.id
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO invoice_documents (invoice_id, pdf, xml, pdf_sha256, "
                    "rendered_at) VALUES (:id, :pdf, :xml, :digest, :at)"
                ),
                {
                    "id": invoice_id,
                    "pdf": b"%PDF",
                    "xml": xml,
                    "digest": hashlib.sha256(b"%PDF").hexdigest(),
                    "at": datetime(2026, 11, 30, 10, tzinfo=UTC),
                },
            )
        upgrade(empty_database_url)
        with engine.connect() as conn:
            stored = conn.scalar(
                text("SELECT xml_sha256 FROM invoice_documents WHERE invoice_id = :id"),
                {"id": invoice_id},
            )
        assert stored == hashlib.sha256(xml).hexdigest()
    finally:
        engine.dispose()


def test_0015_gives_existing_versions_their_familys_margin_deliberation(empty_database_url):
    """Versions recorded before 0015 get the deliberation of their family's current rate."""
    upgrade(empty_database_url, "0014")
    engine = make_engine(empty_database_url)
    try:
        # Families and products are as 0014 left them: the models may write them.
        with Session(engine) as session:
            cited = make_family(
                session, margin_deliberation=Deliberation("2024-17", date(2024, 3, 12))
            )
            products = {
                "cited": make_product(session, family=cited, cost=None).id,
                "uncited": make_product(
                    session, family=make_family(session, margin_deliberation=None), cost=None
                ).id,
            }
        with engine.begin() as conn:
            for product_id in products.values():
                conn.execute(
                    text(
                        "INSERT INTO price_versions (product_id, status, deliberation_reference,"
                        " deliberation_date, valid_from, supplier_cost, margin_rate, note,"
                        " created_at) VALUES (:product, 'active', '2024-41', :adopted,"
                        " :start, 100, 0.0538, '', :at)"
                    ),
                    {
                        "product": product_id,
                        "adopted": date(2024, 12, 10),
                        "start": date(2025, 1, 1),
                        "at": datetime(2026, 11, 30, 10, tzinfo=UTC),
                    },
                )
        upgrade(empty_database_url)
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT product_id, margin_deliberation_reference, margin_deliberation_date "
                    "FROM price_versions"
                )
            ).all()
        by_product = {product_id: (ref, str(day) if day else None) for product_id, ref, day in rows}
        assert by_product == {
            products["cited"]: ("2024-17", "2024-03-12"),
            products["uncited"]: (None, None),
        }
    finally:
        engine.dispose()


def _document_compression(url: str) -> dict[str, str]:
    """How PostgreSQL compresses the stored PDF and XML: 'l' lz4, '' the server's default."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT attname, attcompression FROM pg_attribute "
                    "WHERE attrelid = 'invoice_documents'::regclass AND attname IN ('pdf', 'xml')"
                )
            )
            return {name: str(method) for name, method in rows}
    finally:
        engine.dispose()


def test_0016_compresses_the_stored_documents_with_lz4_and_back(empty_database_url, engine):
    if make_url(empty_database_url).get_backend_name() != "postgresql":
        pytest.skip("a PostgreSQL storage setting")
    upgrade(empty_database_url)
    assert _document_compression(empty_database_url) == {"pdf": "l", "xml": "l"}
    # The schema the models create says the same as the migrations.
    assert _document_compression(engine.url.render_as_string(hide_password=False)) == {
        "pdf": "l",
        "xml": "l",
    }
    command.downgrade(alembic_config(empty_database_url), "0015")
    assert _document_compression(empty_database_url) == {"pdf": "", "xml": ""}
