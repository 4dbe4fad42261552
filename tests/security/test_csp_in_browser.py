"""The Content-Security-Policy blocks nothing the pages need, in a real Chromium.

The service is served over HTTP from a thread of this process, on a SQLite file of its own
built by the migrations; Chromium (in a process of its own) opens the API docs, signs in
and opens every page without a path parameter that the user's role may see, as a staff
user and as a member user. The browser must report no policy violation: no page relies
on inline script or style, and the docs' own inline script is allowed by its hash.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker
from werkzeug.serving import make_server

from purchasing import create_app
from purchasing.auth.access import PUBLIC, access_rule
from purchasing.auth.roles import Role
from purchasing.catalog.loader import load_catalog
from purchasing.config import PROJECT_ROOT
from purchasing.db import make_engine
from purchasing.migrate import upgrade
from tests.factories import make_member, make_user
from tests.factories.auth import PASSWORD
from tests.security.browser_csp import CHROMIUM

pytestmark = pytest.mark.e2e


def _pages_for(app, role: Role) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if (
            rule.arguments
            or rule.rule.startswith(("/api/", "/static"))
            or "GET" not in rule.methods
        ):
            continue
        allowed = access_rule(app, rule.endpoint, "GET")
        if allowed != PUBLIC and allowed is not None and role in allowed:
            paths.append(rule.rule)
    return sorted(paths)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER])
def test_pages_and_api_docs_run_under_the_policy(tmp_path: Path, role: Role):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    url = f"sqlite:///{tmp_path / 'csp.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    with sessionmaker(engine, expire_on_commit=False)() as session:
        load_catalog(session, PROJECT_ROOT / "catalog", loaded_by=None)
        member = make_member(session) if role is Role.MEMBER else None
        user, _token = make_user(session, role=role.value, member=member)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "csp", "SESSION_COOKIE_SECURE": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    paths = _pages_for(app, role)
    assert len(paths) >= 3
    try:
        done = subprocess.run(
            [
                sys.executable, "-m", "tests.security.browser_csp",
                f"http://127.0.0.1:{server.server_port}", user.email, PASSWORD, *paths,
            ],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    finally:
        server.shutdown()
        engine.dispose()
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["docs_rendered"]
    assert seen["violations"] == []
    assert all(status < 500 for status in seen["statuses"].values()), seen["statuses"]
