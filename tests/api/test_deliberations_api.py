"""Deliberated tariffs through the API: prices recorded as drafts, put in force with their
deliberation, and the deliberation shown wherever prices are."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import make_member, make_order, make_product

VOTE = {"reference": "2025-38", "date": "2025-12-09"}


@pytest.fixture
def camera(session):
    return make_product(session, sku="VID-CAM", billing="one_off", cost="480.00")


def draft(api, **change):
    body = {"valid_from": "2026-01-01", "supplier_cost": "495.00", "draft": True} | change
    return api.post("/catalog/products/VID-CAM/prices", json=body)


def test_a_draft_is_recorded_then_put_in_force_with_its_deliberation(api_as, camera):
    purchasing = api_as("purchasing")
    recorded = draft(purchasing)
    assert recorded.status_code == 201
    assert (recorded.json["status"], recorded.json["deliberation"]) == ("draft", None)
    before = api_as("member").get("/catalog/products/VID-CAM?on=2026-02-01").json
    assert before["price"]["sale_price"] == "505.82"  # still 480.00 x 1.0538, the 2025 price

    activated = purchasing.post(
        f"/catalog/price-versions/{recorded.json['id']}/activate",
        json={"deliberation": "2025-38 du 09/12/2025"},
    )

    assert activated.status_code == 200
    assert (activated.json["status"], activated.json["deliberation"]) == ("active", VOTE)
    after = api_as("member").get("/catalog/products/VID-CAM?on=2026-02-01").json
    assert (after["price"]["sale_price"], after["price"]["deliberation"]) == ("521.63", VOTE)


def test_a_draft_without_deliberation_is_not_activated(api_as, camera):
    purchasing = api_as("purchasing")
    recorded = draft(purchasing)
    response = purchasing.post(f"/catalog/price-versions/{recorded.json['id']}/activate", json={})
    assert response.status_code == 422
    assert list(response.json["errors"]["json"]) == ["deliberation"]
    staff_view = purchasing.get("/catalog/products/VID-CAM").json
    assert [v["status"] for v in staff_view["price_versions"]] == ["active", "draft"]


def test_activating_twice_or_an_unknown_version_is_refused(api_as, camera):
    purchasing = api_as("purchasing")
    version_id = draft(purchasing, deliberation=VOTE).json["id"]
    assert (
        purchasing.post(f"/catalog/price-versions/{version_id}/activate", json={}).status_code
        == 200
    )
    again = purchasing.post(f"/catalog/price-versions/{version_id}/activate", json={})
    assert again.status_code == 409
    assert purchasing.post("/catalog/price-versions/999999/activate", json={}).status_code == 404


def test_only_purchasing_staff_activate_prices(api_as, camera):
    version_id = draft(api_as("purchasing"), deliberation=VOTE).json["id"]
    response = api_as("finance").post(f"/catalog/price-versions/{version_id}/activate", json={})
    assert response.status_code == 403


def test_an_order_line_shows_the_deliberation_and_market_of_its_prices(api_as, session, camera):
    member = make_member(session)
    order = make_order(session, member=member, lines=[camera], order_date=date(2025, 6, 2))
    [line] = api_as("member", member=member).get(f"/orders/{order.id}").json["lines"]
    assert line["deliberation"] == {"reference": "T-2024-50", "date": "2024-12-10"}
    assert line["market_reference"] == camera.lot.reference
