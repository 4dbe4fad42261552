"""Test fixtures: a real database (SQLite file, or PostgreSQL from TEST_DATABASE_URL).

The schema is built once per run; each test runs inside a transaction that is rolled back
at its end. Services commit as usual: with ``join_transaction_mode="create_savepoint"``
their commits only release a savepoint of that outer transaction.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from purchasing import create_app
from purchasing.db import drop_every_table, make_engine
from purchasing.fields import today_in_paris
from purchasing.models import metadata
from tests.factories import make_user


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _database_url(tmp_path_factory)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    drop_every_table(engine)  # a previous run killed half-way may have left tables
    metadata.create_all(engine)
    yield engine
    drop_every_table(engine)  # leave the shared PostgreSQL database as we found it
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def app(database_url: str, session_factory: sessionmaker[Session]) -> Flask:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "SESSION_COOKIE_SECURE": False,
        }
    )
    # Requests share the test's connection, so they see its data and are rolled back with it.
    app.extensions["centrale.sessionmaker"] = session_factory
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class ApiClient:
    """A test client that sends a bearer token and speaks JSON under /api/v1."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def request(self, method: str, path: str, **kwargs):
        return self.client.open(f"/api/v1{path}", method=method, headers=self.headers, **kwargs)

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs):
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def api_as(client: FlaskClient, session: Session):
    """``api_as("finance")`` or ``api_as("member", member=m)``: an API client with a token."""

    def make(role: str | None, **user_kwargs) -> ApiClient:
        if role is None:
            return ApiClient(client, None)
        _user, token = make_user(session, role=role, **user_kwargs)
        return ApiClient(client, token)

    return make


@pytest.fixture
def years_over(monkeypatch: pytest.MonkeyPatch) -> date:
    """Today is far ahead, for the routes and commands that close fiscal years on today's
    date: every year the tests use is over, and may be closed."""
    today = date(2045, 1, 2)
    monkeypatch.setattr("purchasing.ledger.services.today_in_paris", lambda: today)
    return today


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_postgres = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")
    if on_postgres:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set TEST_DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def fresh_today(request: pytest.FixtureRequest) -> date:
    """The test module's ``TODAY`` set again to today in Paris before each test: read
    once at import, it went stale when the suite ran across midnight in Paris, and the
    services' messages then named the next day. Modules that compare with what the
    services say of today use it (``pytestmark``)."""
    request.module.TODAY = today = today_in_paris()
    return today
