"""Production refuses to start with no secret key or the shipped development one: a key
anyone can read in the repository lets anyone forge a session or a CSRF token."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from purchasing import create_app
from purchasing.config import DEV_SECRET_KEY, PROJECT_ROOT, InsecureSecretKey


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch, database_url: str) -> dict:
    """The environment of a production host that forgot its key."""
    for name in ("SECRET_KEY", "CENTRALE_ENV", "FLASK_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    return {"DATABASE_URL": database_url}


@pytest.mark.parametrize("key", [None, "", DEV_SECRET_KEY])
def test_production_refuses_a_missing_or_shipped_key(production, monkeypatch, key):
    if key is not None:
        monkeypatch.setenv("SECRET_KEY", key)
    with pytest.raises(InsecureSecretKey, match="SECRET_KEY"):
        create_app(production)
    with pytest.raises(InsecureSecretKey):
        create_app({**production, "SECRET_KEY": DEV_SECRET_KEY})


def test_production_starts_with_a_key_of_its_own(production, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "a-key-of-our-own")
    assert create_app(production).secret_key == "a-key-of-our-own"


@pytest.mark.parametrize(
    "development",
    [{"env": {"CENTRALE_ENV": "development"}}, {"env": {"FLASK_DEBUG": "1"}}, {"TESTING": True}],
    ids=["CENTRALE_ENV", "FLASK_DEBUG", "TESTING"],
)
def test_development_accepts_the_shipped_key(production, monkeypatch, development):
    """``make run`` (CENTRALE_ENV=development), the debugger and the tests."""
    for name, value in development.get("env", {}).items():
        monkeypatch.setenv(name, value)
    overrides = {k: v for k, v in development.items() if k != "env"}
    assert create_app({**production, **overrides}).secret_key == DEV_SECRET_KEY


def test_gunicorn_entry_point_refuses_without_a_key(database_url):
    """``gunicorn wsgi:app`` imports wsgi.py: in production, it stops with a clear line."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"SECRET_KEY", "CENTRALE_ENV", "FLASK_DEBUG"}
    }
    done = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=PROJECT_ROOT,
        env={**env, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "InsecureSecretKey: SECRET_KEY is unset or the shipped development key" in done.stderr


def test_make_run_and_serve_run_as_development():
    """The demo on a fresh machine has no key: its targets export that it is a laptop."""
    makefile = (PROJECT_ROOT / "Makefile").read_text().splitlines()
    assert "run serve: export CENTRALE_ENV = development" in makefile
