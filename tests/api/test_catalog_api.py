"""Catalogue API: one happy path and one refusal per endpoint; members never see costs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from purchasing.catalog.models import PriceVersion, Product
from purchasing.catalog.services import price_on
from tests.factories import make_family, make_product, make_supplier

STAFF_ONLY_PRICE_FIELDS = {
    "supplier_cost", "setup_fee_cost", "margin_rate", "margin_deliberation", "note", "status",
}  # fmt: skip
DELIBERATION = {"reference": "2025-38", "date": "2025-12-09"}


@pytest.fixture
def camera(session):
    video = make_family(
        session, code="video_protection", name="Vidéoprotection", margin_rate=Decimal("0.0162")
    )
    supplier = make_supplier(session, code="VIGIE", name="Vigie Systèmes Vidéo")
    return make_product(
        session,
        sku="VID-CAM-DOME",
        name="Caméra dôme fixe 4 MP",
        family=video,
        supplier=supplier,
        billing="one_off",
        unit="caméra",
        cost="480.00",
        valid_to=date(2025, 12, 31),
    )


# --- families -------------------------------------------------------------------------


def test_staff_see_family_margins_and_accounts(api_as, camera):
    response = api_as("finance").get("/catalog/families")
    assert response.status_code == 200
    [family] = response.json
    assert family == {
        "code": "video_protection",
        "name": "Vidéoprotection",
        "purchase_mode": "wholesaler",
        "service_domain": "video_protection",
        "margin_rate": "0.0162",
        "margin_deliberation": {"reference": "T-2024-50", "date": "2024-12-10"},
        "sales_account": "7062",
        "purchase_account": "6042",
    }


def test_members_see_families_without_margins(api_as, camera):
    response = api_as("member").get("/catalog/families")
    assert response.status_code == 200
    assert response.json == [
        {
            "code": "video_protection",
            "name": "Vidéoprotection",
            "purchase_mode": "wholesaler",
            "service_domain": "video_protection",
        }
    ]


def test_anonymous_callers_cannot_list_families(api_as):
    assert api_as(None).get("/catalog/families").status_code == 401


# --- products -------------------------------------------------------------------------


def test_members_list_products_with_their_price_but_no_cost(api_as, camera):
    response = api_as("member").get("/catalog/products?on=2025-06-01")
    assert response.status_code == 200
    body = response.json
    assert (body["total"], body["page"], body["on"]) == (1, 1, "2025-06-01")
    [item] = body["items"]
    assert item["sku"] == "VID-CAM-DOME"
    assert item["supplier"] == {"code": "VIGIE", "name": "Vigie Systèmes Vidéo"}
    assert item["vat_rate"] == "0.2000"
    assert item["price"]["sale_price"] == "487.78"
    assert item["price"]["deliberation"] == {"reference": "T-2024-50", "date": "2024-12-10"}
    assert item["market"]["reference"] == camera.lot.reference
    assert item["market"]["market_end_date"] == "2099-12-31"
    assert not STAFF_ONLY_PRICE_FIELDS & set(item["price"])
    assert "margin_rate" not in item["family"]
    assert "sales_account" not in item
    assert "supplier_cost" not in response.text


def test_staff_list_products_with_costs(api_as, camera):
    response = api_as("purchasing").get("/catalog/products?on=2025-06-01&family=video_protection")
    assert response.status_code == 200
    [item] = response.json["items"]
    assert item["price"]["supplier_cost"] == "480.00"
    assert item["price"]["sale_price"] == "487.78"
    assert item["price"]["sale_price_is_explicit"] is False
    assert item["sales_account"] == "7062"


def test_a_product_without_a_price_on_the_date_is_listed_with_a_null_price(api_as, camera):
    response = api_as("member").get("/catalog/products?on=2026-01-01")
    assert response.json["items"][0]["price"] is None


def test_a_catalogue_page_read_again_follows_every_catalogue_write(api_as, session, camera):
    member = api_as("member")
    first = member.get("/catalog/products?on=2026-06-01")
    assert first.json["items"][0]["price"] is None
    assert member.get("/catalog/products?on=2026-06-01").data == first.data  # kept
    added = api_as("purchasing").post(
        "/catalog/products/VID-CAM-DOME/prices",
        json={"valid_from": "2026-01-01", "supplier_cost": "495.00", "deliberation": DELIBERATION},
    )
    assert added.status_code == 201
    assert (
        member.get("/catalog/products?on=2026-06-01").json["items"][0]["price"]["id"]
        == (added.json["id"])
    )
    camera.name = "Caméra dôme fixe 8 MP"  # through the unit of work
    session.commit()
    assert member.get("/catalog/products?on=2026-06-01").json["items"][0]["name"] == (
        "Caméra dôme fixe 8 MP"
    )
    session.execute(update(Product).values(active=False))  # a bulk statement
    session.commit()
    assert member.get("/catalog/products?on=2026-06-01").json["total"] == 0


def test_members_and_staff_never_share_a_kept_catalogue_page(api_as, camera):
    assert "supplier_cost" in api_as("purchasing").get("/catalog/products?on=2025-06-01").text
    assert "supplier_cost" not in api_as("member").get("/catalog/products?on=2025-06-01").text


@pytest.mark.parametrize(
    ("query", "location", "field"),
    [
        ("on=2025-13-01", "query", "on"),
        ("billing=weekly", "query", "billing"),
        ("colour=blue", "query", "colour"),
        ("per_page=0", "query", "per_page"),
        ("family=nowhere", "json", "family"),
    ],
)
def test_bad_product_queries_are_refused_naming_the_field(api_as, camera, query, location, field):
    response = api_as("member").get(f"/catalog/products?{query}")
    assert response.status_code == 422
    assert field in response.json["errors"][location]


def test_a_product_shows_all_its_versions(api_as, session, camera):
    purchasing = api_as("purchasing")
    purchasing.post(
        "/catalog/products/VID-CAM-DOME/prices",
        json={
            "valid_from": "2026-01-01",
            "supplier_cost": "495.00",
            "note": "Révision",
            "deliberation": DELIBERATION,
        },
    )
    # A draft for 2027, awaiting its vote: staff see it, members do not.
    purchasing.post(
        "/catalog/products/VID-CAM-DOME/prices",
        json={"valid_from": "2027-01-01", "supplier_cost": "510.00", "draft": True},
    )
    response = api_as("member").get("/catalog/products/VID-CAM-DOME?on=2026-02-01")
    assert response.status_code == 200
    body = response.json
    assert body["on"] == "2026-02-01"
    assert body["price"]["sale_price"] == "503.02"  # 495.00 x 1.0162
    assert [(v["valid_from"], v["valid_to"], v["sale_price"]) for v in body["price_versions"]] == [
        ("2025-01-01", "2025-12-31", "487.78"),
        ("2026-01-01", None, "503.02"),
    ]
    assert all(not STAFF_ONLY_PRICE_FIELDS & set(v) for v in body["price_versions"])
    assert body["price_versions"][1]["deliberation"] == DELIBERATION

    staff_view = api_as("auditor").get("/catalog/products/VID-CAM-DOME").json
    assert [(v["note"], v["status"]) for v in staff_view["price_versions"]] == [
        ("", "active"),
        ("Révision", "active"),
        ("", "draft"),
    ]
    assert {v["margin_deliberation"]["reference"] for v in staff_view["price_versions"]} == {
        "T-2024-50"
    }


def test_an_unknown_product_is_404(api_as):
    response = api_as("member").get("/catalog/products/NOPE")
    assert response.status_code == 404
    assert response.json["errors"]["json"] == {"sku": ["no product 'NOPE'"]}


# --- adding a price version -----------------------------------------------------------


def test_purchasing_staff_add_a_price_version(api_as, session, camera):
    response = api_as("purchasing").post(
        "/catalog/products/VID-CAM-DOME/prices",
        json={
            "valid_from": "2026-01-01",
            "supplier_cost": "495.00",
            "sale_price": "510.00",
            "deliberation": "2025-38 du 09/12/2025",
        },
    )
    assert response.status_code == 201
    assert response.json["sale_price"] == "510.00"
    assert (response.json["status"], response.json["deliberation"]) == ("active", DELIBERATION)
    assert response.json["sale_price_is_explicit"] is True
    assert response.json["margin_rate"] == "0.0162"
    # The rate's own act, the family's, beside the prices' act.
    assert response.json["margin_deliberation"] == {"reference": "T-2024-50", "date": "2024-12-10"}
    assert price_on(session, camera.id, date(2026, 1, 1)).sale_price == Decimal("510.00")


def test_an_overlapping_price_version_is_refused_with_409(api_as, session, camera):
    response = api_as("admin").post(
        "/catalog/products/VID-CAM-DOME/prices",
        json={"valid_from": "2025-12-01", "supplier_cost": "495.00", "deliberation": DELIBERATION},
    )
    assert response.status_code == 409
    assert list(response.json["errors"]["json"]) == ["valid_from"]
    assert len(camera.price_versions) == 1


NEW_PRICE = {"valid_from": "2026-01-01", "supplier_cost": "495.00", "deliberation": DELIBERATION}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"valid_from": "2026-01-01", "supplier_cost": "495.00"}, "deliberation"),
        (NEW_PRICE | {"deliberation": "2025-38"}, "deliberation"),
        (NEW_PRICE | {"deliberation": {"reference": "2025-38"}}, "deliberation"),
        (NEW_PRICE | {"deliberation": {"reference": "", "date": "2025-12-09"}}, "deliberation"),
        (NEW_PRICE | {"supplier_cost": 495.5}, "supplier_cost"),
        (NEW_PRICE | {"supplier_cost": "495.005"}, "supplier_cost"),
        ({"valid_from": "2026-01-01"}, "supplier_cost"),
        (NEW_PRICE | {"valid_to": "2025-12-31"}, "valid_to"),
        (NEW_PRICE | {"sale_price": "400.00"}, "sale_price"),
        (NEW_PRICE | {"setup_fee_cost": "1.00"}, "setup_fee_cost"),
    ],
)
def test_bad_prices_are_refused_naming_the_field(api_as, session, camera, body, field):
    response = api_as("purchasing").post("/catalog/products/VID-CAM-DOME/prices", json=body)
    assert response.status_code == 422
    assert list(response.json["errors"]["json"]) == [field]
    assert session.scalar(select(func.count()).select_from(PriceVersion)) == 1


@pytest.mark.parametrize("role", ["finance", "auditor", "member"])
def test_only_purchasing_and_admin_add_prices(api_as, camera, role):
    response = api_as(role).post(
        "/catalog/products/VID-CAM-DOME/prices",
        json={"valid_from": "2026-01-01", "supplier_cost": "495.00"},
    )
    assert response.status_code == 403
    assert len(camera.price_versions) == 1


# --- suppliers and accounts -----------------------------------------------------------


def test_staff_list_suppliers(api_as, camera):
    response = api_as("auditor").get("/catalog/suppliers")
    assert response.status_code == 200
    [supplier] = response.json
    assert supplier["code"] == "VIGIE"
    assert len(supplier["siret"]) == 14


def test_members_cannot_list_suppliers(api_as, camera):
    assert api_as("member").get("/catalog/suppliers").status_code == 403


def test_staff_read_the_chart_of_accounts(api_as, camera):
    response = api_as("finance").get("/catalog/accounts")
    assert response.status_code == 200
    assert response.json == [
        {"number": "6042", "label": "Compte 6042", "kind": "expense"},
        {"number": "7062", "label": "Compte 7062", "kind": "revenue"},
    ]


def test_members_cannot_read_the_chart_of_accounts(api_as):
    assert api_as("member").get("/catalog/accounts").status_code == 403
