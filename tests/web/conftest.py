"""Pages seen through a signed-in browser session (Flask's test client, real forms)."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.factories import make_user
from tests.factories.auth import PASSWORD

_TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def csrf_token(html: str) -> str:
    return _TOKEN.search(html).group(1)


class PageClient:
    """A browser session of one user: GETs pages, POSTs forms with their CSRF token."""

    def __init__(self, client: FlaskClient, user) -> None:
        self.client = client
        self.user = user
        login = client.get("/login")
        answer = client.post(
            "/login",
            data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(login.text)},
        )
        assert answer.status_code == 302, answer.text
        self.token = csrf_token(client.get("/").text)

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, **kwargs):
        return self.client.post(path, data={**(data or {}), "csrf_token": self.token}, **kwargs)


@pytest.fixture
def pages_as(app, session: Session):
    """``pages_as("purchasing")`` or ``pages_as("member", member=m)``: a signed-in browser.

    Each call is a separate browser (its own cookie jar).
    """

    def make(role: str, **user_kwargs) -> PageClient:
        user, _token = make_user(session, role=role, **user_kwargs)
        return PageClient(app.test_client(), user)

    return make
