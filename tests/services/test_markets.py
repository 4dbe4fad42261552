"""Framework markets: an order line is placed only while its market is in force, an order is
approved only while they still are, and a lot's yearly ceiling is never passed."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from purchasing.audit.models import AuditRecord
from purchasing.catalog.pricing import Billing
from purchasing.catalog.services import list_markets, markets_expiring
from purchasing.errors import ValidationFailed
from purchasing.fields import today_in_paris
from purchasing.orders import services
from purchasing.orders.markets import CeilingExceeded, expiring_markets, lot_consumption
from purchasing.orders.models import MarketLotCommitment, OrderStatus, PurchaseOrder
from purchasing.orders.services import LineInput
from tests.factories import catalog_family, make_member, make_order, make_product, make_user
from tests.factories.catalog import make_lot, make_market

D = Decimal
S = OrderStatus
TODAY = today_in_paris()
pytestmark = pytest.mark.usefixtures("fresh_today")


@pytest.fixture
def buyer(session):
    return make_user(session, role="purchasing")[0]


@pytest.fixture
def member(session):
    return make_member(session)


@pytest.fixture
def ceiling_lot(session):
    """A lot with a yearly ceiling of 1 000.00 excl. VAT, in a market in force for years."""
    return make_lot(session, yearly_ceiling="1000.00", number="2")


def camera(session, lot, cost="100.00", **kw):
    kw.setdefault("billing", Billing.ONE_OFF)
    return make_product(session, lot=lot, cost=cost, **kw)


def consumed(session, lot, year=None):
    year = TODAY.year if year is None else year
    [row] = [c for c in lot_consumption(session, year=year) if c.lot.id == lot.id]
    return row


# --- dates --------------------------------------------------------------------------------


class TestMarketDates:
    @pytest.fixture
    def lot(self, session):
        market = make_market(
            session, number="MAR-2025-09", start_date=date(2025, 9, 1), end_date=date(2026, 8, 31)
        )
        return make_lot(session, market=market, number="1")

    @pytest.mark.parametrize("order_date", [date(2025, 8, 31), date(2026, 9, 1)])
    def test_a_line_dated_outside_its_market_is_refused_on_the_product(
        self, session, member, lot, order_date
    ):
        camera(session, lot, sku="CAM-OUT")
        order = make_order(session, member=member, lines=[], order_date=order_date)

        with pytest.raises(ValidationFailed) as refused:
            services.add_order_line(session, order.id, sku="CAM-OUT", quantity=D(1), actor=None)

        assert refused.value.errors == {
            "sku": [
                f"CAM-OUT is bought under MAR-2025-09 lot 1, in force from 2025-09-01 to "
                f"2026-08-31, not on {order_date.isoformat()}"
            ]
        }
        assert order.lines == []

    @pytest.mark.parametrize("order_date", [date(2025, 9, 1), date(2026, 8, 31)])
    def test_the_first_and_last_days_of_the_market_are_in_force(
        self, session, member, lot, order_date
    ):
        item = camera(session, lot)
        order = make_order(session, member=member, lines=[item], order_date=order_date)
        assert order.lines[0].market_lot_id == lot.id
        assert order.lines[0].market_reference == "MAR-2025-09 lot 1"

    def test_a_new_order_names_the_line_of_the_refused_product(self, session, member, lot):
        item = camera(session, lot, sku="CAM-OUT")
        make_product(session, sku="IN")
        with pytest.raises(ValidationFailed) as refused:
            services.create_order(
                session,
                actor=None,
                member_id=member.id,
                order_date=date(2025, 1, 15),
                lines=[LineInput("IN", D(1)), LineInput(item.sku, D(1))],
            )
        # The first line was fine: only the refused one is named.
        assert list(refused.value.errors) == ["lines[1].sku"]

    def test_an_order_is_not_approved_once_its_market_ended(self, session, buyer, member):
        ended = make_market(
            session, number="MAR-2024-77", start_date=date(2024, 1, 1),
            end_date=TODAY - timedelta(days=1),
        )  # fmt: skip
        lot = make_lot(session, market=ended, number="3")
        order = make_order(
            session, member=member, lines=[camera(session, lot, sku="OLD")],
            order_date=date(2025, 6, 2), status=S.SUBMITTED,
        )  # fmt: skip

        with pytest.raises(ValidationFailed) as refused:
            services.approve_order(session, order.id, actor=buyer)

        assert refused.value.errors == {
            "lines": [
                f"OLD: MAR-2024-77 lot 3 is in force from 2024-01-01 to "
                f"{ended.end_date.isoformat()}, not on {TODAY.isoformat()}"
            ]
        }
        session.expire_all()
        assert order.status is S.SUBMITTED
        assert session.scalar(select(func.count()).select_from(PurchaseOrder)) == 0
        assert session.scalar(select(func.count()).select_from(MarketLotCommitment)) == 0

    def test_a_line_placed_before_markets_were_recorded_is_not_approved(
        self, session, buyer, member
    ):
        order = make_order(session, member=member, status=S.SUBMITTED)
        [line] = order.lines
        line.market_lot_id = None  # as migration 0008 leaves the lines placed before it
        session.commit()
        with pytest.raises(ValidationFailed) as refused:
            services.approve_order(session, order.id, actor=buyer)
        assert refused.value.errors == {
            "lines": [
                f"{line.sku} was placed before its market lot was recorded: remove the line "
                "and add it again"
            ]
        }

    def test_a_product_attached_to_no_lot_cannot_be_ordered(self, session, member):
        item = make_product(session, sku="LOOSE")
        item.lot = None
        session.commit()
        order = make_order(session, member=member, lines=[])
        with pytest.raises(ValidationFailed) as refused:
            services.add_order_line(session, order.id, sku="LOOSE", quantity=D(1), actor=None)
        assert refused.value.errors == {
            "sku": ["LOOSE is attached to no framework market lot: it cannot be ordered"]
        }


# --- yearly ceilings ------------------------------------------------------------------------


class TestCeilings:
    def test_what_an_order_commits_counts_twelve_months_of_the_holders_prices(
        self, session, member, ceiling_lot
    ):
        one_off = camera(session, ceiling_lot, cost="100.00", price="150.00")
        monthly = make_product(
            session, lot=ceiling_lot, billing=Billing.MONTHLY, cost="10.00", setup_fee_cost="30.00"
        )
        yearly = make_product(session, lot=ceiling_lot, billing=Billing.YEARLY, cost="50.00")
        order = make_order(session, member=member, lines=[(one_off, 2), (monthly, 3), yearly])

        amounts = [line.ceiling_amount for line in order.lines]

        # The holder's price (supplier cost), not the member's: 2 x 100; 3 x 10 x 12 + 3 x 30.
        assert amounts == [D("200.00"), D("450.00"), D("50.00")]

    def test_an_approval_records_what_it_commits_of_each_lot(
        self, session, buyer, member, ceiling_lot
    ):
        other_lot = make_lot(session, number="7")
        order = make_order(
            session, member=member, status=S.SUBMITTED,
            lines=[(camera(session, ceiling_lot), 3), (camera(session, other_lot), 1)],
        )  # fmt: skip

        services.approve_order(session, order.id, actor=buyer)

        commitments = session.scalars(
            select(MarketLotCommitment).where(MarketLotCommitment.order_id == order.id)
        ).all()
        assert {(c.lot_id, c.year, c.amount) for c in commitments} == {
            (ceiling_lot.id, TODAY.year, D("300.00")),
            (other_lot.id, TODAY.year, D("100.00")),
        }
        row = consumed(session, ceiling_lot)
        assert (row.ceiling, row.consumed, row.remaining, row.orders) == (
            D("1000.00"), D("300.00"), D("700.00"), 1,
        )  # fmt: skip
        assert row.consumed_share == D("0.3000")
        actions = session.scalars(
            select(AuditRecord.action).where(AuditRecord.entity == "market_lot_commitment")
        ).all()
        assert actions == ["market_lot.committed"] * 2

    def test_an_approval_past_the_ceiling_is_refused_with_the_figures(
        self, session, buyer, member, ceiling_lot
    ):
        item = camera(session, ceiling_lot, sku="CAM-C")
        make_order(session, member=member, lines=[(item, 6)], status=S.APPROVED)
        second = make_order(session, member=member, lines=[(item, 5)], status=S.SUBMITTED)

        with pytest.raises(CeilingExceeded) as refused:
            services.approve_order(session, second.id, actor=buyer)

        error = refused.value
        assert (error.ceiling, error.consumed, error.this_order, error.year) == (
            D("1000.00"), D("600.00"), D("500.00"), TODAY.year,
        )  # fmt: skip
        assert error.status_code == 409
        assert error.errors == {
            "lines": [
                f"{ceiling_lot.reference}: this order commits 500.00 excl. VAT, but only 400.00 "
                f"is left of its {TODAY.year} ceiling of 1000.00 (600.00 already committed by "
                "approved orders)"
            ]
        }
        session.expire_all()
        assert second.status is S.SUBMITTED
        assert second.purchase_orders == []
        assert consumed(session, ceiling_lot).consumed == D("600.00")

    def test_an_order_filling_the_ceiling_exactly_is_approved(
        self, session, buyer, member, ceiling_lot
    ):
        item = camera(session, ceiling_lot)
        make_order(session, member=member, lines=[(item, 6)], status=S.APPROVED)
        last = make_order(session, member=member, lines=[(item, 4)], status=S.SUBMITTED)
        services.approve_order(session, last.id, actor=buyer)
        assert consumed(session, ceiling_lot).remaining == D("0.00")

    def test_an_intermediary_order_consumes_the_ceiling_too(
        self, session, buyer, member, ceiling_lot
    ):
        # The member pays the holder directly, but under the centre's market.
        link = make_product(
            session, lot=ceiling_lot, family=catalog_family(session, "telecom"),
            billing=Billing.MONTHLY, cost="100.00",
        )  # fmt: skip
        order = make_order(session, member=member, lines=[link], status=S.SUBMITTED)
        with pytest.raises(CeilingExceeded) as refused:  # 12 months x 100.00
            services.approve_order(session, order.id, actor=buyer)
        assert refused.value.this_order == D("1200.00")

    def test_cancelling_an_approved_order_gives_its_commitment_back(
        self, session, buyer, member, ceiling_lot
    ):
        item = camera(session, ceiling_lot)
        first = make_order(session, member=member, lines=[(item, 6)], status=S.APPROVED)
        second = make_order(session, member=member, lines=[(item, 5)], status=S.SUBMITTED)

        services.cancel_order(session, first.id, reason="budget reporté", actor=buyer)
        services.approve_order(session, second.id, actor=buyer)

        [released] = session.scalars(
            select(MarketLotCommitment).where(MarketLotCommitment.order_id == first.id)
        ).all()
        assert released.released_at is not None  # kept for the record, no longer counted
        assert consumed(session, ceiling_lot).consumed == D("500.00")

    def test_a_previous_years_consumption_does_not_count(self, session, buyer, member, ceiling_lot):
        earlier = make_order(session, member=member, lines=[], status=S.DRAFT)
        session.add(
            MarketLotCommitment(
                lot_id=ceiling_lot.id, order_id=earlier.id, year=TODAY.year - 1,
                amount=D("950.00"),
            )
        )  # fmt: skip
        session.commit()
        order = make_order(
            session, member=member, lines=[(camera(session, ceiling_lot), 9)], status=S.SUBMITTED
        )
        services.approve_order(session, order.id, actor=buyer)
        assert consumed(session, ceiling_lot, TODAY.year - 1).consumed == D("950.00")
        assert consumed(session, ceiling_lot).consumed == D("900.00")

    def test_a_lot_without_ceiling_takes_any_order(self, session, buyer, member):
        open_lot = make_lot(session)
        order = make_order(
            session, member=member, lines=[(camera(session, open_lot), 10_000)],
            status=S.SUBMITTED,
        )  # fmt: skip
        services.approve_order(session, order.id, actor=buyer)
        row = consumed(session, open_lot)
        assert (row.ceiling, row.consumed, row.remaining) == (None, D("1000000.00"), None)


# --- following the markets ------------------------------------------------------------------


def test_markets_expiring_within_90_days_are_listed_soonest_first(session):
    soon = make_market(session, number="MAR-SOON", end_date=TODAY + timedelta(days=30))
    last_day = make_market(session, number="MAR-EDGE", end_date=TODAY + timedelta(days=90))
    make_market(session, number="MAR-LATER", end_date=TODAY + timedelta(days=91))
    make_market(session, number="MAR-ENDED", end_date=TODAY - timedelta(days=1))
    today = make_market(session, number="MAR-TODAY", end_date=TODAY)

    expiring = markets_expiring(session, on=TODAY)

    assert [m.number for m in expiring] == [today.number, soon.number, last_day.number]
    assert [m.number for m in markets_expiring(session, on=TODAY, within_days=30)] == [
        "MAR-TODAY",
        "MAR-SOON",
    ]


def test_expiring_markets_come_with_days_left_and_each_lots_consumption(session, buyer, member):
    market = make_market(session, number="MAR-SOON", end_date=TODAY + timedelta(days=45))
    capped = make_lot(session, market=market, number="10", yearly_ceiling="1000.00")
    uncapped = make_lot(session, market=market, number="2")
    make_lot(session, market=market, number="unique")
    order = make_order(
        session, member=member, lines=[(camera(session, capped), 3)], status=S.SUBMITTED
    )
    services.approve_order(session, order.id, actor=buyer)
    make_market(session, number="MAR-LATER", end_date=TODAY + timedelta(days=200))

    [expiring] = expiring_markets(session, on=TODAY)

    assert (expiring.market.number, expiring.days_left) == ("MAR-SOON", 45)
    assert [row.lot.number for row in expiring.lots] == ["2", "10", "unique"]
    by_lot = {row.lot.id: row for row in expiring.lots}
    assert (by_lot[capped.id].ceiling, by_lot[capped.id].consumed) == (D("1000.00"), D("300.00"))
    assert (by_lot[capped.id].remaining, by_lot[capped.id].consumed_share) == (
        D("700.00"),
        D("0.3000"),
    )
    assert (by_lot[uncapped.id].consumed, by_lot[uncapped.id].orders) == (D("0.00"), 0)
    assert [m.market.number for m in expiring_markets(session, on=TODAY, within_days=365)] == [
        "MAR-SOON",
        "MAR-LATER",
    ]


def test_markets_are_listed_with_their_lots_and_holders(session, ceiling_lot):
    [market] = [m for m in list_markets(session) if m.id == ceiling_lot.market_id]
    [lot] = market.lots
    assert (lot.number, lot.supplier.code, lot.yearly_ceiling) == (
        "2", ceiling_lot.supplier.code, D("1000.00"),
    )  # fmt: skip
