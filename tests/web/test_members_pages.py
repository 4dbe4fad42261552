"""Purchasing staff manage members from their pages."""

from datetime import date

from purchasing.members.models import AdhesionStatus, Member
from tests.factories import make_member

VALID = {
    "name": "Commune de Wimille",
    "kind": "commune",
    "siret": "21620893400010",
    "insee_code": "62893",
    "population": "4 312",
    "departement_code": "62",
    "address_line1": "Place de la mairie",
    "postal_code": "62126",
    "city": "Wimille",
    "billing_email": "mairie@wimille.example.org",
}


def test_staff_list_members_filtered_and_paginated(pages_as, session):
    for number in range(3):
        make_member(session, name=f"Commune de Test {number}")
    make_member(session, name="Syndicat des eaux")
    staff = pages_as("purchasing")

    page = staff.get("/members?q=Test&per_page=2")

    assert page.status_code == 200
    assert "Commune de Test 0" in page.text and "Commune de Test 1" in page.text
    assert "Syndicat des eaux" not in page.text
    assert "3 résultats · page 1 sur 2" in page.text
    assert "Commune de Test 2" in staff.get("/members?q=Test&per_page=2&page=2").text


def test_bad_filter_is_shown_next_to_its_box_and_the_list_still_shows(pages_as, session):
    make_member(session, name="Commune de Test")
    page = pages_as("purchasing").get("/members?kind=bogus")
    assert page.status_code == 200
    assert "Choisissez une valeur proposée." in page.text
    assert "Commune de Test" in page.text


def test_new_member_is_registered_from_the_form(pages_as, session):
    answer = pages_as("purchasing").post("/members/new", VALID)

    assert answer.status_code == 302
    member = session.query(Member).filter_by(siret="21620893400010").one()
    assert member.population == 4312  # "4 312" typed the French way


def test_refused_member_form_keeps_what_was_typed_and_names_the_fields(pages_as, session):
    answer = pages_as("purchasing").post(
        "/members/new", {**VALID, "siret": "21620893400011", "billing_email": ""}
    )

    assert answer.status_code == 422
    assert "Ce champ est obligatoire." in answer.text  # billing e-mail
    assert 'id="siret-error"' in answer.text
    assert 'value="Commune de Wimille"' in answer.text
    assert session.query(Member).filter_by(name="Commune de Wimille").count() == 0


def test_member_users_cannot_open_the_members_pages(pages_as, session):
    member_user = pages_as("member", member=make_member(session))
    assert member_user.get("/members").status_code == 403
    assert member_user.post("/members/new", VALID).status_code == 403


# --- A member's page --------------------------------------------------------------------


def test_a_members_page_shows_its_facts_adhesion_and_history(pages_as, session):
    member = make_member(session, name="Commune de Wissant", population=1012)

    page = pages_as("purchasing").get(f"/members/{member.id}")

    assert page.status_code == 200
    assert "<h1>Commune de Wissant</h1>" in page.text
    assert member.siret in page.text
    assert "1\u202f012 habitants" in page.text
    adhesion = member.current_adhesion
    assert adhesion.convention_number in page.text
    assert f"{adhesion.deliberation_reference} du 14/02/2023" in page.text
    assert "Historique des adhésions" in page.text
    assert f"/orders?member_id={member.id}" in page.text
    assert "Suspendre" in page.text and "Retirer" in page.text
    assert "Demande d&#39;adhésion" not in page.text


def test_a_member_never_adhering_may_request_only(pages_as, session):
    member = make_member(session, adhesion_status=None)
    page = pages_as("purchasing").get(f"/members/{member.id}")
    assert "Ce membre n&#39;a jamais demandé à adhérer." in page.text
    assert f"/members/{member.id}/adhesion/request" in page.text
    assert f"/members/{member.id}/adhesion/suspend" not in page.text


def test_an_unknown_member_is_a_404_page(pages_as):
    assert pages_as("purchasing").get("/members/999999").status_code == 404


def test_a_member_is_edited_from_its_form(pages_as, session):
    member = make_member(session, name="Commune de Wimille", vat_number=None)
    staff = pages_as("purchasing")
    form = staff.get(f"/members/{member.id}/edit")
    assert 'value="Commune de Wimille"' in form.text

    values = {name: getattr(member, name) for name in VALID} | {
        "kind": member.kind.value,
        "population": "4 400",
        "address_line2": "BP 12",
    }
    answer = staff.post(f"/members/{member.id}/edit", values)

    assert answer.status_code == 302
    session.expire_all()
    changed = session.get(Member, member.id)
    assert changed.population == 4400
    assert changed.address_line2 == "BP 12"


def test_a_refused_edit_names_the_field_keeps_the_typing_and_changes_nothing(pages_as, session):
    member = make_member(session, name="Commune de Wimille")
    values = {name: getattr(member, name) for name in VALID} | {
        "kind": member.kind.value,
        "population": str(member.population),
        "name": "Commune de Wimille-Plage",
        "siret": "21620893400011",
    }

    answer = pages_as("purchasing").post(f"/members/{member.id}/edit", values)

    assert answer.status_code == 422
    assert '<p class="error" id="siret-error">SIRET invalide (clé de contrôle).</p>' in answer.text
    assert 'value="Commune de Wimille-Plage"' in answer.text
    session.expire_all()
    assert session.get(Member, member.id).name == "Commune de Wimille"


# --- Adhesion steps ---------------------------------------------------------------------


def _adhesion(session, member):
    session.expire_all()
    return session.get(Member, member.id).current_adhesion


def test_an_adhesion_is_requested_then_activated(pages_as, session):
    member = make_member(session, adhesion_status=None)
    staff = pages_as("purchasing")
    form = staff.get(f"/members/{member.id}/adhesion/request")
    assert form.status_code == 200

    requested = staff.post(
        f"/members/{member.id}/adhesion/request",
        {"requested_on": "2026-01-05", "convention_number": "CONV-2026-001"},
    )

    assert requested.status_code == 302
    assert _adhesion(session, member).status is AdhesionStatus.REQUESTED
    activation = staff.get(f"/members/{member.id}/adhesion/activate")
    assert 'value="CONV-2026-001"' in activation.text  # recorded at the request

    activated = staff.post(
        f"/members/{member.id}/adhesion/activate",
        {
            "convention_number": "CONV-2026-001",
            "deliberation_reference": "DEL-2026-004",
            "deliberation_date": "2026-01-20",
            "start_date": "2026-02-01",
        },
    )

    assert activated.status_code == 302
    adhesion = _adhesion(session, member)
    assert adhesion.status is AdhesionStatus.ACTIVE
    assert adhesion.start_date == date(2026, 2, 1)
    assert "Adhésion active" in staff.get(activated.headers["Location"]).text


def test_a_refused_activation_names_each_missing_value_and_changes_nothing(pages_as, session):
    member = make_member(session, adhesion_status="requested")
    activation = {"convention_number": "CONV-9", "start_date": "2023-01-01"}
    activation |= {"deliberation_date": "2023-02-14"}

    refused = pages_as("purchasing").post(f"/members/{member.id}/adhesion/activate", activation)

    assert refused.status_code == 422
    assert (
        'id="deliberation_reference-error">Obligatoire pour activer une adhésion.' in refused.text
    )
    assert (
        'id="start_date-error">Antérieure à la délibération approuvant l&#39;adhésion'
        in refused.text
    )
    assert 'value="CONV-9"' in refused.text
    assert _adhesion(session, member).status is AdhesionStatus.REQUESTED


def test_a_second_request_while_one_is_live_is_refused_above_the_form(pages_as, session):
    member = make_member(session)
    refused = pages_as("purchasing").post(
        f"/members/{member.id}/adhesion/request", {"requested_on": "2026-01-05"}
    )
    assert refused.status_code == 422
    assert "Le membre a déjà une adhésion « active »." in refused.text
    assert len(session.get(Member, member.id).adhesions) == 1


def test_a_suspension_needs_a_reason_and_is_reinstated_with_one_button(pages_as, session):
    member = make_member(session)
    staff = pages_as("purchasing")

    refused = staff.post(f"/members/{member.id}/adhesion/suspend", {"reason": " "})

    assert refused.status_code == 422
    assert 'id="reason-error"' in refused.text
    assert _adhesion(session, member).status is AdhesionStatus.ACTIVE

    assert (
        staff.post(
            f"/members/{member.id}/adhesion/suspend", {"reason": "Factures impayées"}
        ).status_code
        == 302
    )
    adhesion = _adhesion(session, member)
    assert (adhesion.status, adhesion.status_reason) == (
        AdhesionStatus.SUSPENDED,
        "Factures impayées",
    )
    page = staff.get(f"/members/{member.id}")
    assert "Rétablir l&#39;adhésion" in page.text

    assert staff.post(f"/members/{member.id}/adhesion/activate").status_code == 302
    assert _adhesion(session, member).status is AdhesionStatus.ACTIVE


def test_a_withdrawal_before_the_start_is_refused_next_to_the_end_date(pages_as, session):
    member = make_member(session)
    staff = pages_as("purchasing")

    refused = staff.post(f"/members/{member.id}/adhesion/withdraw", {"end_date": "2020-01-01"})

    assert refused.status_code == 422
    assert 'id="end_date-error">Antérieure au début de l&#39;adhésion' in refused.text
    assert 'value="2020-01-01"' in refused.text
    assert _adhesion(session, member).status is AdhesionStatus.ACTIVE

    answer = staff.post(
        f"/members/{member.id}/adhesion/withdraw",
        {"end_date": "2026-06-30", "reason": "Dissolution"},
    )
    assert answer.status_code == 302
    adhesion = _adhesion(session, member)
    assert (adhesion.status, adhesion.end_date) == (AdhesionStatus.WITHDRAWN, date(2026, 6, 30))


def test_member_users_cannot_open_a_members_pages(pages_as, session):
    own = make_member(session)
    member_user = pages_as("member", member=own)
    for path in (f"/members/{own.id}", f"/members/{own.id}/edit"):
        assert member_user.get(path).status_code == 403
    answer = member_user.post(f"/members/{own.id}/adhesion/suspend", {"reason": "x"})
    assert answer.status_code == 403
    assert _adhesion(session, own).status is AdhesionStatus.ACTIVE
