"""Security headers on every answer, and the page templates that let the CSP be strict."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from purchasing.config import PROJECT_ROOT
from tests.web.conftest import PageClient

TEMPLATES = PROJECT_ROOT / "purchasing" / "templates"


def _directives(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


@pytest.mark.parametrize("path", ["/login", "/api/v1/auth/me", "/api/v1/openapi.json", "/nowhere"])
def test_every_answer_carries_the_security_headers(client, path):
    response = client.get(path)
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    policy = _directives(headers["Content-Security-Policy"])
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert "unsafe-eval" not in headers["Content-Security-Policy"]


def test_strict_transport_security_over_https_only(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://centrale.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_signed_in_answers_are_not_cached(app, session, api_as):
    from tests.factories import make_user

    assert api_as("finance").get("/auth/me").headers["Cache-Control"] == "no-store"
    user, _ = make_user(session, role="finance")
    page = PageClient(app.test_client(), user).get("/")
    assert page.headers["Cache-Control"] == "no-store"


def test_the_api_docs_page_may_run_its_own_inline_script_and_no_other(client):
    page = client.get("/api/v1/docs")
    scripts = re.findall(rb"<script>(.*?)</script>", page.data, re.DOTALL)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0]).digest()).decode()
    policy = _directives(page.headers["Content-Security-Policy"])
    assert policy["script-src"] == f"'self' 'sha256-{digest}'"


# The policy above holds only if no page needs inline code: every template is read here, so
# a page added tomorrow with an inline script, style or event handler fails this test.
_INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def test_no_template_needs_inline_script_or_style():
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert len(templates) > 3
    found = [
        f"{path.relative_to(TEMPLATES)}: {what}"
        for path in templates
        for what, pattern in _INLINE.items()
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []
