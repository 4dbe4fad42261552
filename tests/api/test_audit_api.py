from sqlalchemy import func, select

from purchasing.audit.models import AuditRecord, AuditTrailIsAppendOnly
from tests.factories import make_member, make_user


def test_auditor_finds_who_changed_a_member_before_and_after(api_as, session):
    purchasing = api_as("purchasing", email="achats@example.org")
    member = make_member(session, name="Commune de Wormhout", population=2300)
    changed = purchasing.patch(f"/members/{member.id}", json={"population": 2350})
    assert changed.status_code == 200, changed.json

    found = api_as("auditor").get(
        "/audit-records", query_string={"entity": "member", "entity_id": str(member.id)}
    )
    assert found.status_code == 200
    update = next(r for r in found.json["items"] if r["actor"] == "achats@example.org")
    assert update["before"] == {"population": 2300}
    assert update["after"] == {"population": 2350}
    assert update["at"]


def test_filters_are_validated_by_name(api_as):
    auditor = api_as("auditor")
    response = auditor.get("/audit-records", query_string={"since": "yesterday"})
    assert response.status_code == 422
    assert "since" in response.json["errors"]["query"]
    response = auditor.get(
        "/audit-records",
        query_string={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    )
    assert response.status_code == 422
    assert "until" in response.json["errors"]["query"]


def test_members_and_finance_cannot_read_the_trail(api_as):
    assert api_as("member").get("/audit-records").status_code == 403
    assert api_as("finance").get("/audit-records").status_code == 403


def test_no_route_changes_the_trail(app):
    methods = {
        method
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/audit-records")
        for method in rule.methods
    }
    assert methods <= {"GET", "HEAD", "OPTIONS"}


def test_records_cannot_be_changed_or_deleted_through_the_models(session):
    make_user(session, role="finance")  # writes "user.created"
    record = session.scalars(select(AuditRecord)).first()
    record.action = "tampered"
    try:
        session.flush()
        raise AssertionError("the change was accepted")
    except AuditTrailIsAppendOnly:
        session.rollback()
    record = session.scalars(select(AuditRecord)).first()
    session.delete(record)
    try:
        session.flush()
        raise AssertionError("the deletion was accepted")
    except AuditTrailIsAppendOnly:
        session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditRecord)) >= 1
