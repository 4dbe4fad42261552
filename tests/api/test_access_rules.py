"""Every endpoint declares who may call it; anonymous callers and wrong roles are refused.

The test walks the application's URL map, so a new endpoint is covered the day it is added.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask

from purchasing.auth.access import ANY_USER, PUBLIC, access_rule
from purchasing.auth.roles import Role

_ARG = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>[^<>]+)>")


def _sample_url(rule: str) -> str:
    """Fill URL variables with plausible values; access is checked before any lookup."""

    def fill(match: re.Match[str]) -> str:
        return "1" if match.group("converter") == "int" else "x"

    return _ARG.sub(fill, rule)


def _endpoints(app: Flask) -> list[tuple[str, str, str]]:
    rows = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            rows.append((rule.endpoint, method, _sample_url(rule.rule)))
    return rows


def test_every_endpoint_declares_an_access_rule(app):
    undeclared = [
        f"{method} {url} ({endpoint})"
        for endpoint, method, url in _endpoints(app)
        if access_rule(app, endpoint, method) is None
    ]
    assert undeclared == []


def test_public_endpoints_are_only_the_expected_ones(app):
    public = {
        endpoint
        for endpoint, method, _url in _endpoints(app)
        if access_rule(app, endpoint, method) == PUBLIC
    }
    assert public == {
        "static",
        "swagger_ui_static",
        "api-docs.openapi_json",
        "api-docs.openapi_swagger_ui",
        "auth.login",
    }


def test_anonymous_callers_are_refused_everywhere_but_public_endpoints(app, client):
    for endpoint, method, url in _endpoints(app):
        if access_rule(app, endpoint, method) == PUBLIC:
            continue
        response = client.open(url, method=method)
        if url.startswith("/api/"):
            assert response.status_code == 401, f"{method} {url}"
            assert response.is_json
        else:
            # Pages send the visitor to the login page (POSTs without CSRF token are 400).
            assert response.status_code in {302, 400}, f"{method} {url}"
            if response.status_code == 302:
                assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", list(Role))
def test_a_role_outside_an_endpoints_rule_is_refused(app, api_as, role):
    api = api_as(role.value)
    checked = 0
    for endpoint, method, url in _endpoints(app):
        rule = access_rule(app, endpoint, method)
        if rule in (PUBLIC, ANY_USER) or role in rule or not url.startswith("/api/"):
            continue
        response = api.client.open(url, method=method, headers=api.headers)
        assert response.status_code == 403, f"{role} {method} {url}"
        checked += 1
    if role is Role.MEMBER:
        assert checked > 0, "member users must be refused somewhere"


def test_an_undeclared_endpoint_is_refused(app, api_as):
    app.add_url_rule("/api/v1/undeclared", "undeclared", lambda: "open")
    assert api_as("admin").get("/undeclared").status_code == 403


def test_an_id_beyond_64_bits_is_a_404_not_a_server_error(api_as):
    response = api_as("admin").get("/members/99999999999999999999")
    assert response.status_code == 404


def test_an_id_no_id_column_holds_is_a_404_naming_the_parameter(api_as):
    # Ids are 32-bit columns: PostgreSQL would refuse a larger value with an error.
    admin = api_as("admin")
    for method, path in (
        ("GET", f"/members/{2**31}"),
        ("GET", "/members/abc"),
        ("DELETE", "/orders/1/lines/-1"),
    ):
        response = admin.request(method, path)
        assert response.status_code == 404, path
        (name,) = response.json["errors"]["path"]
        assert name in {"member_id", "line_id"}
        assert response.json["errors"]["path"][name] == [
            f"not a whole number from 0 to {2**31 - 1}"
        ]


def test_anonymous_and_wrong_role_refusals_name_the_credential(api_as):
    anonymous = api_as(None).get("/members")
    assert anonymous.status_code == 401
    assert anonymous.json["errors"] == {
        "headers": {"Authorization": ["missing, unknown or revoked bearer token"]}
    }
    refused = api_as("member").get("/audit-records")
    assert refused.status_code == 403
    assert refused.json["errors"]["headers"]["Authorization"] == [
        "the role member may not call this endpoint"
    ]
