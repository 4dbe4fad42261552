"""The service domains API: staff record a member joining or leaving a domain, a member user
reads its own; an order line outside the member's domains is refused on the product."""

from __future__ import annotations

from datetime import date

import pytest

from purchasing.catalog.models import ServiceDomain
from purchasing.fields import today_in_paris
from tests.factories import catalog_family, make_member, make_order, make_product

JOIN = {
    "domain": "video_protection",
    "start_date": "2026-01-01",
    "deliberation_reference": "DEL-2025-088",
    "deliberation_date": "2025-12-15",
}


def field_errors(response) -> dict:
    return response.json["errors"]["json"]


@pytest.fixture
def member(session):
    return make_member(session, name="Commune d'Esquelbecq", service_domains=["mairie_connectee"])


def test_purchasing_staff_record_a_member_joining_a_domain(api_as, session, member):
    response = api_as("purchasing").post(f"/members/{member.id}/service-domains", json=JOIN)
    assert response.status_code == 201
    body = response.json
    assert (body["domain"], body["domain_name"], body["start_date"]) == (
        "video_protection", "Vidéoprotection", "2026-01-01",
    )  # fmt: skip
    assert (body["deliberation_reference"], body["deliberation_date"]) == (
        "DEL-2025-088", "2025-12-15",
    )  # fmt: skip
    assert (body["end_date"], body["active_today"]) == (None, True)
    session.expire_all()
    assert member.has_joined(ServiceDomain.VIDEO_PROTECTION, date(2026, 1, 1))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"domain": "gardening"}, "domain"),
        ({"deliberation_date": None}, "deliberation_date"),
        ({"deliberation_reference": "  "}, "deliberation_reference"),
        ({"start_date": "2025-12-01"}, "start_date"),  # before the deliberation
    ],
)
def test_a_bad_join_is_refused_naming_the_field(api_as, session, member, change, field):
    body = {k: v for k, v in (JOIN | change).items() if v is not None}
    response = api_as("purchasing").post(f"/members/{member.id}/service-domains", json=body)
    assert response.status_code == 422
    assert list(field_errors(response)) == [field]
    session.expire_all()
    assert len(member.service_domains) == 1


def test_a_domain_already_joined_answers_409(api_as, member):
    body = JOIN | {"domain": "mairie_connectee"}
    response = api_as("admin").post(f"/members/{member.id}/service-domains", json=body)
    assert response.status_code == 409
    assert list(field_errors(response)) == ["domain"]


def test_a_member_user_reads_its_own_domains_only(api_as, session, member):
    agent = api_as("member", member=member)
    response = agent.get(f"/members/{member.id}/service-domains")
    assert response.status_code == 200
    assert [row["domain"] for row in response.json] == ["mairie_connectee"]
    assert [
        row["domain"] for row in agent.get(f"/members/{member.id}").json["service_domains"]
    ] == ["mairie_connectee"]
    other = make_member(session)
    assert agent.get(f"/members/{other.id}/service-domains").status_code == 404
    assert agent.post(f"/members/{member.id}/service-domains", json=JOIN).status_code == 403


def test_staff_record_a_member_leaving_a_domain(api_as, member):
    response = api_as("purchasing").post(
        f"/members/{member.id}/service-domains/mairie_connectee/leave",
        json={"end_date": "2026-03-31", "reason": "reprise en régie"},
    )
    assert response.status_code == 200
    assert (response.json["end_date"], response.json["end_reason"]) == (
        "2026-03-31", "reprise en régie",
    )  # fmt: skip


def test_leaving_a_domain_not_joined_or_unknown_is_refused(api_as, member):
    purchasing = api_as("purchasing")
    not_joined = purchasing.post(
        f"/members/{member.id}/service-domains/iot/leave", json={"end_date": "2026-03-31"}
    )
    assert not_joined.status_code == 409
    unknown = purchasing.post(
        f"/members/{member.id}/service-domains/gardening/leave", json={"end_date": "2026-03-31"}
    )
    assert unknown.status_code == 404
    assert field_errors(unknown) == {"domain": ["no service domain 'gardening'"]}


def test_a_line_outside_the_members_domains_is_refused_on_the_product(api_as, session, member):
    make_product(session, sku="VID-CAM", family=catalog_family(session, "video_protection"))
    order = make_order(session, member=member, lines=[], order_date=today_in_paris())
    agent = api_as("member", member=member)

    response = agent.post(f"/orders/{order.id}/lines", json={"sku": "VID-CAM", "quantity": "1"})

    assert response.status_code == 422
    [message] = field_errors(response)["sku"]
    assert message.startswith(
        "Commune d'Esquelbecq may not order in the Vidéoprotection domain (video_protection)"
    )
    assert agent.get(f"/orders/{order.id}").json["lines"] == []
