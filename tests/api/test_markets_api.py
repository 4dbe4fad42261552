"""The markets API: markets and their lots, those about to expire, what approved orders
consumed of each lot's ceiling, and the approval refused past a ceiling."""

from __future__ import annotations

from datetime import timedelta

import pytest

from purchasing.catalog.pricing import Billing
from purchasing.fields import today_in_paris
from purchasing.orders.models import OrderStatus
from tests.factories import make_member, make_order, make_product
from tests.factories.catalog import make_lot, make_market

TODAY = today_in_paris()
pytestmark = pytest.mark.usefixtures("fresh_today")


@pytest.fixture
def lot(session):
    market = make_market(
        session, number="MAR-2023-01", title="Télécommunications",
        start_date=TODAY - timedelta(days=900), end_date=TODAY + timedelta(days=45),
    )  # fmt: skip
    return make_lot(session, market=market, number="3", title="Wi-Fi", yearly_ceiling="1000.00")


@pytest.fixture
def item(session, lot):
    return make_product(session, sku="WIFI", lot=lot, billing=Billing.ONE_OFF, cost="100.00")


def test_staff_list_the_markets_with_their_lots(api_as, lot):
    response = api_as("auditor").get("/catalog/markets")
    assert response.status_code == 200
    [market] = [m for m in response.json if m["number"] == "MAR-2023-01"]
    assert market["end_date"] == (TODAY + timedelta(days=45)).isoformat()
    assert market["lots"] == [
        {
            "number": "3",
            "title": "Wi-Fi",
            "reference": "MAR-2023-01 lot 3",
            "supplier": {"code": lot.supplier.code, "name": lot.supplier.name},
            "yearly_ceiling": "1000.00",
        }
    ]


def test_member_users_do_not_list_the_markets(api_as, lot):
    assert api_as("member").get("/catalog/markets").status_code == 403


def test_the_markets_to_renew_are_those_ending_within_the_days_asked(api_as, session, lot):
    make_market(session, number="MAR-LATER", end_date=TODAY + timedelta(days=200))
    purchasing = api_as("purchasing")

    default = purchasing.get("/catalog/markets/expiring")
    assert [m["number"] for m in default.json] == ["MAR-2023-01"]
    assert purchasing.get("/catalog/markets/expiring?within=30").json == []
    wider = purchasing.get("/catalog/markets/expiring?within=365").json
    assert [m["number"] for m in wider] == ["MAR-2023-01", "MAR-LATER"]


@pytest.mark.parametrize("query", ["within=-1", "within=ninety", "on=2026-02-30", "soon=1"])
def test_a_bad_expiry_query_is_refused_naming_the_field(api_as, lot, query):
    response = api_as("purchasing").get(f"/catalog/markets/expiring?{query}")
    assert response.status_code == 422
    assert query.split("=")[0] in response.json["errors"]["query"]


def test_staff_read_what_approved_orders_consumed_of_each_lot(api_as, session, lot, item):
    make_order(session, lines=[(item, 4)], status=OrderStatus.APPROVED)
    make_order(session, lines=[(item, 9)], status=OrderStatus.DRAFT)  # commits nothing

    response = api_as("finance").get(f"/markets/consumption?year={TODAY.year}")

    assert response.status_code == 200
    [row] = [r for r in response.json if r["lot_reference"] == "MAR-2023-01 lot 3"]
    assert row == {
        "market_number": "MAR-2023-01",
        "market_title": "Télécommunications",
        "market_end_date": (TODAY + timedelta(days=45)).isoformat(),
        "lot_number": "3",
        "lot_reference": "MAR-2023-01 lot 3",
        "supplier_code": lot.supplier.code,
        "year": TODAY.year,
        "yearly_ceiling": "1000.00",
        "consumed": "400.00",
        "remaining": "600.00",
        "consumed_share": "0.4000",
        "orders": 1,
    }
    last_year = api_as("finance").get(f"/markets/consumption?year={TODAY.year - 1}").json
    assert [r["consumed"] for r in last_year if r["lot_number"] == "3"] == ["0.00"]


def test_the_consumption_is_refused_to_members_and_bad_years(api_as, lot):
    assert api_as("member").get("/markets/consumption").status_code == 403
    response = api_as("finance").get("/markets/consumption?year=1999")
    assert response.status_code == 422
    assert "year" in response.json["errors"]["query"]


def test_an_approval_past_a_ceiling_answers_409_with_the_figures(api_as, session, lot, item):
    make_order(session, lines=[(item, 7)], status=OrderStatus.APPROVED)
    order = make_order(
        session, member=make_member(session), lines=[(item, 4)], status=OrderStatus.SUBMITTED
    )

    response = api_as("purchasing").post(f"/orders/{order.id}/approve")

    assert response.status_code == 409
    assert response.json["errors"]["json"] == {
        "lines": [
            "MAR-2023-01 lot 3: this order commits 400.00 excl. VAT, but only 300.00 is left of "
            f"its {TODAY.year} ceiling of 1000.00 (700.00 already committed by approved orders)"
        ]
    }
    session.expire_all()
    assert order.status is OrderStatus.SUBMITTED
