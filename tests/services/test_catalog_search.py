"""Browsing the catalogue: filters, pagination and the price in force on a date."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from purchasing.catalog.services import search_products
from purchasing.errors import ValidationFailed
from tests.factories import make_family, make_product


@pytest.fixture
def shelf(session):
    digital = make_family(session, code="digital")
    video = make_family(session, code="video", margin_rate=Decimal("0.0162"))
    make_product(session, sku="MC-DOMAINE", name="Nom de domaine", family=digital,
                 billing="yearly", subsidy_eligible=True)  # fmt: skip
    make_product(session, sku="MC-MAIL", name="Messagerie", family=digital, subsidy_eligible=True,
                 cost="3.20", valid_to=date(2025, 12, 31))  # fmt: skip
    make_product(session, sku="MC-VISIO", name="Visioconférence", family=digital,
                 description="Réunions à 100 % en ligne")  # fmt: skip
    make_product(session, sku="VID-CAM", name="Caméra dôme", family=video, billing="one_off")
    make_product(session, sku="VID-OLD", name="Caméra analogique", family=video, active=False)
    make_product(session, sku="VID-NEW", name="Caméra 2027", family=video, cost=None)


def _skus(page) -> list[str]:
    return [item.product.sku for item in page.items]


def test_active_products_are_listed_by_sku_with_their_price_on_the_date(session, shelf):
    page = search_products(session, on=date(2025, 6, 1))
    assert _skus(page) == ["MC-DOMAINE", "MC-MAIL", "MC-VISIO", "VID-CAM", "VID-NEW"]
    prices = {item.product.sku: item.price for item in page.items}
    assert prices["MC-MAIL"].supplier_cost == Decimal("3.20")
    assert prices["VID-NEW"] is None  # no version: listed, without a price


def test_a_product_without_a_price_on_the_date_is_listed_without_one(session, shelf):
    page = search_products(session, on=date(2026, 1, 1), q="Messagerie")
    assert [(item.product.sku, item.price) for item in page.items] == [("MC-MAIL", None)]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"family": "video"}, ["VID-CAM", "VID-NEW"]),
        ({"billing": "one_off"}, ["VID-CAM"]),
        ({"subsidy_eligible": True}, ["MC-DOMAINE", "MC-MAIL"]),
        ({"subsidy_eligible": False}, ["MC-VISIO", "VID-CAM", "VID-NEW"]),
        ({"q": "caméra"}, ["VID-CAM", "VID-NEW"]),
        ({"q": "mc-vis"}, ["MC-VISIO"]),
        ({"q": "100 %"}, ["MC-VISIO"]),  # % is a character, not a wildcard
        ({"q": "%"}, ["MC-VISIO"]),
        ({"family": "digital", "subsidy_eligible": True, "billing": "yearly"}, ["MC-DOMAINE"]),
    ],
)
def test_filters(session, shelf, filters, expected):
    assert _skus(search_products(session, on=date(2025, 6, 1), **filters)) == expected


def test_pagination(session, shelf):
    page = search_products(session, on=date(2025, 6, 1), page=2, per_page=2)
    assert _skus(page) == ["MC-VISIO", "VID-CAM"]
    assert (page.total, page.page, page.per_page) == (5, 2, 2)


def test_an_unknown_family_is_refused_rather_than_answered_empty(session, shelf):
    with pytest.raises(ValidationFailed) as caught:
        search_products(session, on=date(2025, 6, 1), family="videoo")
    assert list(caught.value.errors) == ["family"]
