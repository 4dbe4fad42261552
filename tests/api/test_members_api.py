"""The members API: one happy path and one refusal per endpoint, access and tenant isolation."""

from __future__ import annotations

import pytest

from purchasing.members.models import AdhesionStatus, Member, MemberKind
from tests.factories import make_member

NEW_MEMBER = {
    "name": "Commune d'Audresselles",
    "kind": "commune",
    "siret": "216 200 543 00017",
    "insee_code": "62054",
    "population": 611,
    "departement_code": "62",
    "address_line1": "Mairie",
    "postal_code": "62164",
    "city": "Audresselles",
    "billing_email": "mairie@audresselles.fr",
}
CONVENTION = {
    "convention_number": "CONV-2023-014",
    "deliberation_reference": "DEL-2023-045",
    "deliberation_date": "2023-04-11",
    "start_date": "2023-06-01",
}
PEER_SCHEDULE = {
    "valid_from_year": 2025,
    "deliberation_reference": "CS-2025-03",
    "deliberation_date": "2024-12-10",
    "bands": [
        {"population_min": 0, "population_max": 9999, "amount": "0"},
        {"population_min": 10000, "population_max": 49999, "amount": "400"},
        {"population_min": 50000, "amount": "30000.00"},
    ],
}


def field_errors(response) -> dict:
    return response.json["errors"]["json"]


class TestListMembers:
    def test_staff_filter_and_paginate(self, session, api_as):
        make_member(session, name="Commune A", departement_code="62")
        make_member(session, name="Commune B", adhesion_status=AdhesionStatus.SUSPENDED)
        make_member(session, name="EPCI C", kind=MemberKind.EPCI)

        api = api_as("auditor")
        response = api.get("/members?kind=commune&per_page=1")
        assert response.status_code == 200
        assert response.json["total"] == 2
        assert [m["name"] for m in response.json["items"]] == ["Commune A"]
        suspended = api.get("/members?adhesion_status=suspended&departement_code=59").json
        assert [m["name"] for m in suspended["items"]] == ["Commune B"]
        assert suspended["items"][0]["adhesion"]["status"] == "suspended"

    def test_a_member_user_sees_only_itself(self, session, api_as):
        mine = make_member(session)
        make_member(session)
        response = api_as("member", member=mine).get("/members")
        assert response.status_code == 200
        assert [m["id"] for m in response.json["items"]] == [mine.id]
        assert response.json["total"] == 1

    def test_a_bad_filter_names_the_field(self, api_as):
        response = api_as("finance").get("/members?kind=mairie&departement_code=20")
        assert response.status_code == 422
        assert set(response.json["errors"]["query"]) == {"kind", "departement_code"}

    def test_anonymous_callers_are_refused(self, api_as):
        assert api_as(None).get("/members").status_code == 401


class TestCreateMember:
    def test_purchasing_registers_a_member(self, session, api_as):
        response = api_as("purchasing").post("/members", json=NEW_MEMBER)
        assert response.status_code == 201
        body = response.json
        assert (body["siret"], body["siren"]) == ("21620054300017", "216200543")
        assert body["chorus_engagement_required"] is False
        assert body["adhesion"] is None
        assert session.get(Member, body["id"]).name == "Commune d'Audresselles"

    def test_invalid_input_names_each_field(self, api_as):
        response = api_as("admin").post(
            "/members", json={**NEW_MEMBER, "siret": "21620054300018", "population": "many"}
        )
        assert response.status_code == 422
        assert field_errors(response) == {
            "siret": ["invalid SIRET (checksum)"],
            "population": ["Not a valid integer."],
        }

    def test_a_rule_across_fields_names_the_field(self, api_as):
        response = api_as("admin").post("/members", json={**NEW_MEMBER, "insee_code": None})
        assert response.status_code == 422
        assert field_errors(response) == {"insee_code": ["required for a commune"]}

    def test_a_duplicate_siret_is_a_conflict(self, session, api_as):
        existing = make_member(session, siret="21620054300017")
        response = api_as("purchasing").post("/members", json=NEW_MEMBER)
        assert response.status_code == 409
        assert field_errors(response) == {"siret": [f"already the SIRET of member {existing.id}"]}

    @pytest.mark.parametrize("role", ["finance", "auditor", "member"])
    def test_other_roles_are_refused(self, api_as, role):
        assert api_as(role).post("/members", json=NEW_MEMBER).status_code == 403


class TestGetMember:
    def test_a_member_user_reads_its_own_member(self, session, api_as):
        mine = make_member(session)
        response = api_as("member", member=mine).get(f"/members/{mine.id}")
        assert response.status_code == 200
        assert response.json["siret"] == mine.siret
        assert response.json["adhesion"]["status"] == "active"
        assert response.json["adhesion"]["start_date"] == "2023-03-01"

    def test_another_members_id_answers_404_like_an_unknown_one(self, session, api_as):
        mine, theirs = make_member(session), make_member(session)
        api = api_as("member", member=mine)
        hidden = api.get(f"/members/{theirs.id}")
        assert hidden.status_code == 404
        assert hidden.json["message"] == f"no member with id {theirs.id}"
        assert api_as("finance").get("/members/999999").status_code == 404


class TestUpdateMember:
    def test_purchasing_changes_some_fields(self, session, api_as):
        member = make_member(session, population=1200)
        response = api_as("purchasing").patch(
            f"/members/{member.id}",
            json={"population": 1250, "chorus_service_code": "MAIRIE", "vat_number": ""},
        )
        assert response.status_code == 200
        assert (response.json["population"], response.json["chorus_service_code"]) == (
            1250,
            "MAIRIE",
        )
        assert response.json["name"] == member.name

    def test_invalid_changes_name_the_field_and_change_nothing(self, session, api_as):
        member = make_member(session, population=1200)
        response = api_as("admin").patch(f"/members/{member.id}", json={"population": -1, "id": 7})
        assert response.status_code == 422
        assert set(field_errors(response)) == {"population", "id"}
        session.expire_all()
        assert member.population == 1200

    def test_an_unknown_member_answers_404(self, api_as):
        assert api_as("admin").patch("/members/999999", json={"population": 3}).status_code == 404

    def test_a_member_user_cannot_change_its_member(self, session, api_as):
        mine = make_member(session)
        api = api_as("member", member=mine)
        assert api.patch(f"/members/{mine.id}", json={"population": 3}).status_code == 403


class TestAdhesions:
    def test_list_a_members_adhesions(self, session, api_as):
        member = make_member(session)
        response = api_as("member", member=member).get(f"/members/{member.id}/adhesions")
        assert response.status_code == 200
        [adhesion] = response.json
        assert adhesion["status"] == "active"
        assert adhesion["convention_number"].startswith("CONV-")

    def test_another_members_adhesions_answer_404(self, session, api_as):
        mine, theirs = make_member(session), make_member(session)
        api = api_as("member", member=mine)
        assert api.get(f"/members/{theirs.id}/adhesions").status_code == 404

    def test_request_then_activate(self, session, api_as):
        member = make_member(session, adhesion_status=None)
        api = api_as("purchasing")
        requested = api.post(f"/members/{member.id}/adhesions", json={"requested_on": "2023-04-12"})
        assert requested.status_code == 201
        assert requested.json["status"] == "requested"

        activated = api.post(f"/members/{member.id}/adhesion/activate", json=CONVENTION)
        assert activated.status_code == 200
        assert activated.json["status"] == "active"
        assert activated.json["id"] == requested.json["id"]

    def test_a_second_live_request_is_a_conflict(self, session, api_as):
        member = make_member(session)
        response = api_as("purchasing").post(
            f"/members/{member.id}/adhesions", json={"requested_on": "2025-01-06"}
        )
        assert response.status_code == 409
        assert field_errors(response) == {"adhesion": ["the member already has an adhesion active"]}

    def test_a_request_needs_its_date(self, session, api_as):
        member = make_member(session, adhesion_status=None)
        response = api_as("purchasing").post(f"/members/{member.id}/adhesions", json={})
        assert response.status_code == 422
        assert field_errors(response) == {"requested_on": ["Missing data for required field."]}

    def test_activation_without_the_convention_names_what_is_missing(self, session, api_as):
        member = make_member(session, adhesion_status=AdhesionStatus.REQUESTED)
        response = api_as("admin").post(
            f"/members/{member.id}/adhesion/activate", json={"start_date": "2023-06-01"}
        )
        assert response.status_code == 422
        assert set(field_errors(response)) == {
            "convention_number",
            "deliberation_reference",
            "deliberation_date",
        }

    def test_suspend_and_reinstate(self, session, api_as):
        member = make_member(session)
        api = api_as("purchasing")
        suspended = api.post(
            f"/members/{member.id}/adhesion/suspend", json={"reason": "titres impayés"}
        )
        assert suspended.status_code == 200
        assert suspended.json["status_reason"] == "titres impayés"
        reinstated = api.post(f"/members/{member.id}/adhesion/activate", json={})
        assert reinstated.json["status"] == "active"

    def test_suspending_a_requested_adhesion_is_an_illegal_transition(self, session, api_as):
        member = make_member(session, adhesion_status=AdhesionStatus.REQUESTED)
        response = api_as("purchasing").post(
            f"/members/{member.id}/adhesion/suspend", json={"reason": "contrôle"}
        )
        assert response.status_code == 409
        assert field_errors(response) == {
            "status": ["adhesion cannot go from 'requested' to 'suspended'"]
        }

    def test_withdraw(self, session, api_as):
        member = make_member(session)
        response = api_as("admin").post(
            f"/members/{member.id}/adhesion/withdraw",
            json={"end_date": "2025-12-31", "reason": "délibération de retrait"},
        )
        assert response.status_code == 200
        assert (response.json["status"], response.json["end_date"]) == ("withdrawn", "2025-12-31")

    def test_a_withdrawal_needs_its_end_date(self, session, api_as):
        member = make_member(session)
        response = api_as("admin").post(f"/members/{member.id}/adhesion/withdraw", json={})
        assert response.status_code == 422
        assert list(field_errors(response)) == ["end_date"]
        session.expire_all()
        assert member.current_adhesion.status is AdhesionStatus.ACTIVE

    @pytest.mark.parametrize("action", ["activate", "suspend", "withdraw"])
    def test_a_member_user_cannot_change_its_adhesion(self, session, api_as, action):
        mine = make_member(session)
        response = api_as("member", member=mine).post(
            f"/members/{mine.id}/adhesion/{action}", json={}
        )
        assert response.status_code == 403


class TestAdhesionFees:
    def test_admin_sets_a_schedule_and_staff_read_it(self, api_as):
        created = api_as("admin").post("/adhesion-fees", json=PEER_SCHEDULE)
        assert created.status_code == 201
        assert [band["amount"] for band in created.json] == ["0.00", "400.00", "30000.00"]
        assert created.json[-1]["population_max"] is None
        assert {(b["deliberation_reference"], b["deliberation_date"]) for b in created.json} == {
            ("CS-2025-03", "2024-12-10")
        }

        listed = api_as("finance").get("/adhesion-fees?year=2026")
        assert listed.status_code == 200
        assert listed.json == created.json
        assert api_as("finance").get("/adhesion-fees?year=2024").json == []

    def test_overlapping_bands_are_refused(self, api_as):
        overlapping = {
            **PEER_SCHEDULE,
            "bands": [
                {"population_min": 0, "population_max": 10000, "amount": "0"},
                {"population_min": 10000, "amount": "400"},
            ],
        }
        response = api_as("admin").post("/adhesion-fees", json=overlapping)
        assert response.status_code == 422
        assert field_errors(response) == {"bands": ["bands 0-10000 and 10000+ overlap"]}
        assert api_as("admin").get("/adhesion-fees").json == []

    def test_an_amount_below_the_cent_names_the_band_and_field(self, api_as):
        schedule = {**PEER_SCHEDULE, "bands": [{"population_min": 0, "amount": "400.005"}]}
        response = api_as("admin").post("/adhesion-fees", json=schedule)
        assert response.status_code == 422
        assert field_errors(response) == {"bands": {"0": {"amount": ["at most 2 decimal places"]}}}

    def test_a_schedule_without_the_date_of_its_deliberation_is_refused(self, api_as):
        schedule = {k: v for k, v in PEER_SCHEDULE.items() if k != "deliberation_date"}
        response = api_as("admin").post("/adhesion-fees", json=schedule)
        assert response.status_code == 422
        assert field_errors(response) == {"deliberation_date": ["Missing data for required field."]}
        assert api_as("admin").get("/adhesion-fees").json == []

    def test_only_admins_set_the_schedule(self, api_as):
        assert api_as("purchasing").post("/adhesion-fees", json=PEER_SCHEDULE).status_code == 403

    def test_member_users_do_not_read_the_schedule(self, api_as):
        assert api_as("member").get("/adhesion-fees").status_code == 403


def test_every_members_endpoint_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {
        "/api/v1/members",
        "/api/v1/members/{member_id}",
        "/api/v1/members/{member_id}/adhesions",
        "/api/v1/members/{member_id}/adhesion/activate",
        "/api/v1/members/{member_id}/adhesion/suspend",
        "/api/v1/members/{member_id}/adhesion/withdraw",
        "/api/v1/members/{member_id}/service-domains",
        "/api/v1/members/{member_id}/service-domains/{domain}/leave",
        "/api/v1/adhesion-fees",
    } <= set(paths)
    amount = client.get("/api/v1/openapi.json").json["components"]["schemas"]["FeeBand"]
    assert amount["properties"]["amount"]["type"] == "string"
