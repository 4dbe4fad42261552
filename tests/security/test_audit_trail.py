"""The audit trail cannot be edited through any route, whoever calls it.

The URL map is walked, so an audit route added tomorrow (API or page) is covered too: any
method that could write (POST, PUT, PATCH, DELETE) is refused, and afterwards the trail
holds exactly the records it held before, unchanged.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from purchasing.audit.models import AuditRecord
from tests.factories import make_member, make_user
from tests.web.conftest import PageClient

WRITES = ("POST", "PUT", "PATCH", "DELETE")
_VARIABLE = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>[^<>]+)>")


def _trail(session) -> list[tuple]:
    session.expire_all()
    return [
        (r.id, r.at, r.actor_id, r.action, r.entity, r.entity_id, r.before, r.after)
        for r in session.scalars(select(AuditRecord).order_by(AuditRecord.id))
    ]


def _audit_urls(app, record_id: int) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "audit" not in rule.rule and "audit" not in rule.endpoint:
            continue
        urls.append(
            _VARIABLE.sub(lambda m: str(record_id) if m["converter"] == "int" else "x", rule.rule)
        )
    return urls


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_no_route_writes_to_the_audit_trail(app, session, role):
    make_member(session, name="Commune auditée")  # a few records to tamper with
    user, token = make_user(session, role=role)
    record_id = session.scalars(select(AuditRecord.id)).first()
    before = _trail(session)
    urls = _audit_urls(app, record_id)
    assert any(url.startswith("/api/") for url in urls)
    pages = PageClient(app.test_client(), user)  # a signed-in browser with a CSRF token
    api_headers = {"Authorization": f"Bearer {token}"}
    tampering = {"action": "nothing happened", "after": {}, "id": record_id}

    tried = 0
    for url in urls:
        for method in WRITES:
            if url.startswith("/api/"):
                answer = app.test_client().open(
                    url, method=method, headers=api_headers, json=tampering
                )
            else:
                answer = pages.client.open(
                    url, method=method, data={**tampering, "csrf_token": pages.token}
                )
            assert answer.status_code in {403, 404, 405}, f"{method} {url}: {answer.status_code}"
            tried += 1
    assert tried >= len(WRITES)
    # Signing in and the calls above may add records of their own; none may change or go.
    after = _trail(session)
    assert after[: len(before)] == before
