"""The subsidy programmes API: one happy path and one refusal per endpoint; programmes are
finance business, so member users are refused."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from purchasing.subsidies.models import SubsidyProgramme, SubsidyReceipt, SubsidyReversal
from tests.factories import make_product, make_programme

NEW_PROGRAMME = {
    "code": "FEDER-MC-2024",
    "name": "Mairie connectée - services de base des petites communes",
    "funder": "Union européenne - FEDER",
    "aid_label": "FEDER-MC-2024 Mairie connectée",
    "period_start": "2024-01-01",
    "period_end": "2025-12-31",
    "grant_total": "577013.94",
    "envelope": "370835.54",
    "member_kinds": ["commune"],
    "max_population": 3499,
    "aid_kind": "rate",
    "aid_rate": "0.5000",
    "aid_cap_per_unit": "100.00",
    "products": ["MC-SITE"],
    "partners": [
        {"code": "CDG59", "name": "Centre de gestion du Nord", "share": "103089.20"},
        {"code": "CDG62", "name": "Centre de gestion du Pas-de-Calais", "share": "103089.20"},
    ],
}


def field_errors(response) -> dict:
    return response.json["errors"]["json"]


@pytest.fixture
def programme(session):
    return make_programme(session, code="FEDER-TEST")


def receive(api, programme, amount="500.00", reference="VIR-1"):
    return api.post(
        f"/subsidy-programmes/{programme.id}/receipts",
        json={"received_on": "2026-03-01", "amount": amount, "reference": reference},
    )


class TestProgrammes:
    def test_finance_defines_a_programme(self, session, api_as):
        make_product(session, sku="MC-SITE", subsidy_eligible=True)

        response = api_as("finance").post("/subsidy-programmes", json=NEW_PROGRAMME)

        assert response.status_code == 201, response.json
        body = response.json
        assert (body["grant_total"], body["envelope"]) == ("577013.94", "370835.54")
        assert (body["consumed"], body["remaining"]) == ("0.00", "370835.54")
        assert body["aid_in_vat_base"] is True
        assert (body["aid_rate"], body["aid_cap_per_unit"]) == ("0.5000", "100.00")
        assert body["products"] == ["MC-SITE"]
        assert body["partners"][1] == NEW_PROGRAMME["partners"][1]

    def test_shares_that_do_not_add_up_are_refused_by_field(self, session, api_as):
        make_product(session, sku="MC-SITE", subsidy_eligible=True)
        data = NEW_PROGRAMME | {"envelope": "370835.55", "aid_rate": 0.5}

        response = api_as("finance").post("/subsidy-programmes", json=data)

        assert response.status_code == 422
        assert set(field_errors(response)) == {"aid_rate"}  # a float: inexact
        response = api_as("finance").post(
            "/subsidy-programmes", json=NEW_PROGRAMME | {"envelope": "370835.55"}
        )
        assert response.status_code == 422
        assert set(field_errors(response)) == {"partners"}
        assert session.scalar(select(func.count()).select_from(SubsidyProgramme)) == 0

    def test_finance_auditor_and_admin_list_them(self, api_as, programme):
        for role in ("finance", "auditor", "admin"):
            response = api_as(role).get("/subsidy-programmes")
            assert response.status_code == 200
            assert [p["code"] for p in response.json] == ["FEDER-TEST"]

    def test_one_programme(self, api_as, programme):
        response = api_as("auditor").get(f"/subsidy-programmes/{programme.id}")
        assert response.status_code == 200
        assert response.json["code"] == "FEDER-TEST"
        assert api_as("auditor").get("/subsidy-programmes/999999").status_code == 404

    def test_finance_changes_settings(self, api_as, programme):
        response = api_as("finance").patch(
            f"/subsidy-programmes/{programme.id}",
            json={"name": "Programme prolongé", "period_end": "2027-06-30", "max_population": None},
        )
        assert response.status_code == 200
        assert (response.json["name"], response.json["max_population"]) == (
            "Programme prolongé",
            None,
        )

    def test_money_settings_are_frozen_once_money_moved(self, api_as, programme):
        api = api_as("finance")
        assert receive(api, programme).status_code == 201
        response = api.patch(f"/subsidy-programmes/{programme.id}", json={"aid_rate": "0.4000"})
        assert response.status_code == 409
        assert list(field_errors(response)) == ["aid_rate"]

    def test_the_code_cannot_change(self, api_as, programme):
        response = api_as("finance").patch(
            f"/subsidy-programmes/{programme.id}", json={"code": "OTHER"}
        )
        assert response.status_code == 422
        assert response.json["errors"]["json"] == {"code": ["Unknown field."]}

    def test_auditors_only_read(self, api_as, programme):
        api = api_as("auditor")
        assert api.post("/subsidy-programmes", json=NEW_PROGRAMME).status_code == 403
        assert api.patch(f"/subsidy-programmes/{programme.id}", json={}).status_code == 403
        assert receive(api, programme).status_code == 403


class TestReceiptsAndReversals:
    def test_finance_records_a_receipt(self, api_as, programme):
        response = receive(api_as("finance"), programme, amount="400.00", reference="FEDER avance")
        assert response.status_code == 201
        assert response.json | {"id": None, "recorded_at": None} == {
            "id": None,
            "programme_id": programme.id,
            "received_on": "2026-03-01",
            "amount": "400.00",
            "reference": "FEDER avance",
            "recorded_at": None,
        }

    def test_a_receipt_beyond_the_grant_is_refused(self, session, api_as, programme):
        response = receive(api_as("finance"), programme, amount="1000.01")
        assert response.status_code == 422
        assert list(field_errors(response)) == ["amount"]
        assert session.scalar(select(func.count()).select_from(SubsidyReceipt)) == 0

    def test_finance_records_a_reversal(self, api_as, programme):
        api = api_as("finance")
        receive(api, programme)
        response = api.post(
            f"/subsidy-programmes/{programme.id}/reversals",
            json={
                "partner": "CDG59",
                "reversed_on": "2026-04-01",
                "amount": "200.00",
                "reference": "MANDAT-2026-1187",
            },
        )
        assert response.status_code == 201
        assert (response.json["partner"], response.json["amount"]) == ("CDG59", "200.00")

    def test_a_reversal_over_the_partners_share_is_refused_naming_the_amount(
        self, session, api_as, programme
    ):
        api = api_as("finance")
        receive(api, programme)
        response = api.post(
            f"/subsidy-programmes/{programme.id}/reversals",
            json={
                "partner": "CDG59",
                "reversed_on": "2026-04-01",
                "amount": "200.01",
                "reference": "MANDAT-2026-1187",
            },
        )
        assert response.status_code == 422
        assert field_errors(response) == {
            "amount": [
                "at most 200.00 can still be reversed to CDG59: its share is 200.00, "
                "0.00 reversed so far"
            ]
        }
        assert session.scalar(select(func.count()).select_from(SubsidyReversal)) == 0


class TestStatement:
    def test_the_statement_as_of_a_day(self, api_as, programme):
        api = api_as("finance")
        receive(api, programme, amount="500.00")
        response = api_as("auditor").get(
            f"/subsidy-programmes/{programme.id}/statement?as_of=2026-12-31"
        )
        assert response.status_code == 200
        body = response.json
        assert (body["envelope"], body["remaining"], body["received"], body["to_receive"]) == (
            "600.00",
            "600.00",
            "500.00",
            "500.00",
        )
        assert body["partners"][0] == {
            "code": "CDG59",
            "name": "Centre de gestion du Nord",
            "share": "200.00",
            "reversed": "0.00",
            "left": "200.00",
        }

    def test_a_bad_day_is_refused(self, api_as, programme):
        response = api_as("finance").get(
            f"/subsidy-programmes/{programme.id}/statement?as_of=31/12/2026"
        )
        assert response.status_code == 422
        assert list(response.json["errors"]["query"]) == ["as_of"]

    def test_the_statement_as_a_pdf(self, api_as, programme):
        response = api_as("finance").get(
            f"/subsidy-programmes/{programme.id}/statement.pdf?as_of=2026-12-31"
        )
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert (
            'filename="etat-FEDER-TEST-2026-12-31.pdf"' in response.headers["Content-Disposition"]
        )
        text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
        assert "Situation au 31/12/2026" in text

    def test_an_unknown_programme_has_no_statement(self, api_as):
        assert api_as("finance").get("/subsidy-programmes/999999/statement").status_code == 404
        assert api_as("finance").get("/subsidy-programmes/999999/statement.pdf").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", ""),
        ("POST", ""),
        ("GET", "/{id}"),
        ("PATCH", "/{id}"),
        ("POST", "/{id}/receipts"),
        ("POST", "/{id}/reversals"),
        ("GET", "/{id}/statement"),
        ("GET", "/{id}/statement.pdf"),
    ],
)
def test_member_users_are_refused(api_as, programme, method, path):
    response = api_as("member").request(
        method, "/subsidy-programmes" + path.format(id=programme.id), json={}
    )
    assert response.status_code == 403
