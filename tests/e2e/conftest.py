"""End-to-end: the application served over HTTP, driven by a real headless Chromium.

The server runs in a thread of the test process on a database of its own, built by the
migrations and loaded with the real catalogue: a SQLite file, or, when the suite runs on
PostgreSQL, a database created next to the test database and dropped at the end. Its
requests commit, so nothing here shares the rolled-back session of the other tests.

Screenshots of the main pages are saved under ``test-output/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from purchasing import create_app
from purchasing.catalog.loader import load_catalog
from purchasing.config import PROJECT_ROOT
from purchasing.db import make_engine
from purchasing.migrate import upgrade
from purchasing.subsidies.loader import read_programme_file
from purchasing.subsidies.services import load_programme
from tests.factories.auth import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = PROJECT_ROOT / "test-output" / "screenshots"

pytestmark = pytest.mark.e2e


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")


@pytest.fixture(scope="session")
def e2e_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        yield f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'centrale.sqlite3'}"
        return
    url = make_url(base)
    name = f"{url.database}_e2e"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class LiveServer:
    url: str
    sessions: sessionmaker[Session]
    #: the served application's configuration
    config: dict


@pytest.fixture(scope="session")
def live_server(e2e_database_url: str) -> Iterator[LiveServer]:
    _need_chromium()
    upgrade(e2e_database_url)
    engine = make_engine(e2e_database_url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with sessions() as session:
        load_catalog(session, PROJECT_ROOT / "catalog", loaded_by=None)
        load_programme(
            session, read_programme_file(PROJECT_ROOT / "demo" / "feder.yaml"), loaded_by=None
        )
    app = create_app(
        {
            "DATABASE_URL": e2e_database_url,
            "SECRET_KEY": "e2e-secret",
            "SESSION_COOKIE_SECURE": False,
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(
            url=f"http://127.0.0.1:{server.server_port}", sessions=sessions, config=app.config
        )
    finally:
        server.shutdown()
        engine.dispose()


@pytest.fixture(scope="session")
def browser(live_server: LiveServer):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


@pytest.fixture
def sign_in(browser, live_server: LiveServer):
    """``sign_in(user)``: a new browser window (own cookies) signed in as ``user``."""
    contexts = []

    def open_as(user, *, phone: bool = False):
        options = {"base_url": live_server.url, "locale": "fr-FR", "accept_downloads": True}
        if phone:
            options |= {"viewport": {"width": 390, "height": 844}, "is_mobile": True}
        else:
            options |= {"viewport": {"width": 1366, "height": 900}}
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("E-mail").fill(user.email)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(f"{live_server.url}/")
        return page

    yield open_as
    for context in contexts:
        context.close()
