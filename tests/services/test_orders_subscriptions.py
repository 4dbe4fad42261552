"""Subscriptions: started by commissioning, quantity history, termination, isolation."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from purchasing import fields
from purchasing.audit.models import AuditRecord
from purchasing.catalog.models import ServiceDomain
from purchasing.catalog.pricing import Billing
from purchasing.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from purchasing.events import DomainEvent
from purchasing.members import services as member_services
from purchasing.members.services import AdhesionNotActive, ServiceDomainNotJoined
from purchasing.orders import services, subscriptions
from purchasing.orders.markets import CeilingExceeded
from purchasing.orders.models import (
    MarketLotCommitment,
    OrderStatus,
    QuantitySegment,
    Subscription,
)
from tests.factories import make_member, make_order, make_product, make_user
from tests.factories.catalog import make_lot, make_market

D = Decimal
START = date(2026, 2, 1)
TODAY = fields.today_in_paris()
pytestmark = pytest.mark.usefixtures("fresh_today")


@pytest.fixture
def buyer(session):
    return make_user(session, role="purchasing")[0]


@pytest.fixture
def member(session):
    return make_member(session)


@pytest.fixture
def sites(session):
    """A monthly website at 19.00 (sold 20.02) with a 290.00 set-up fee (sold 305.60)."""
    return make_product(
        session,
        sku="MC-SITE",
        billing=Billing.MONTHLY,
        cost="19.00",
        setup_fee_cost="290.00",
        subsidy_eligible=True,
    )


@pytest.fixture
def subscription(session, member, sites) -> Subscription:
    order = make_order(
        session, member=member, lines=[(sites, 2)], status=OrderStatus.DELIVERED, delivered_on=START
    )
    return order.lines[0].subscription


def test_commissioning_starts_a_subscription_at_the_frozen_prices(session, member, subscription):
    line = subscription.order_line
    assert (subscription.member_id, subscription.product_id, subscription.order_line_id) == (
        member.id,
        line.product_id,
        line.id,
    )
    assert (subscription.billing_period, subscription.start_date, subscription.end_date) == (
        Billing.MONTHLY,
        START,
        None,
    )
    assert (subscription.unit_price, subscription.unit_cost, subscription.vat_rate) == (
        D("20.02"),
        D("19.00"),
        D("0.2000"),
    )
    assert subscription.subsidy_eligible is True
    assert subscription.history == [(START, D(2))]
    assert line.subscription_id == subscription.id
    # The set-up fee is a one-off charge, due at commissioning, billed once.
    assert (line.setup_fee_due_on, line.setup_fee_billed_on) == (START, None)
    line.check_setup_fee_billable()
    line.setup_fee_billed_on = date(2026, 2, 28)
    with pytest.raises(Conflict):
        line.check_setup_fee_billable()


def test_the_start_is_published_with_the_set_up_fee_due(session, subscription):
    event = session.scalars(
        select(DomainEvent).where(DomainEvent.kind == "subscription.started")
    ).one()
    line = subscription.order_line
    assert event.payload == {
        "subscription_id": subscription.id,
        "member_id": subscription.member_id,
        "order_id": line.order_id,
        "order_reference": line.order.reference,
        "engagement_number": None,
        "order_line_id": line.id,
        "product_id": line.product_id,
        "sku": "MC-SITE",
        "designation": line.designation,
        "start_date": "2026-02-01",
        "billing_period": "monthly",
        "quantity": "2.000",
        "unit_price": "20.02",
        "vat_rate": "0.2000",
        "sales_account": "7062",
        "subsidy_eligible": True,
        "setup_fee_price": "305.60",
        "setup_fee_amount": "611.20",
        "deliberation_reference": "T-2024-50",
        "deliberation_date": "2024-12-10",
        "market_reference": line.market_reference,
    }


class TestQuantityChanges:
    def test_changes_take_effect_from_their_date(self, session, buyer, subscription):
        subscriptions.change_subscription_quantity(
            session, subscription.id, quantity=D(5), effective_from=date(2026, 3, 16), actor=buyer
        )
        assert subscription.quantity_on(date(2026, 3, 15)) == D(2)
        assert subscription.quantity_on(date(2026, 3, 16)) == D(5)
        assert subscription.quantity_on(date(2026, 1, 31)) == D(0)
        assert subscription.quantity_segments(date(2026, 3, 1), date(2026, 3, 31)) == [
            QuantitySegment(date(2026, 3, 1), date(2026, 3, 15), D(2)),
            QuantitySegment(date(2026, 3, 16), date(2026, 3, 31), D(5)),
        ]
        [record] = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "subscription.quantity_changed")
        ).all()
        assert record.actor_id == buyer.id
        assert record.after["quantities"][-1] == {
            "effective_from": "2026-03-16",
            "quantity": "5.000",
        }
        event = session.scalars(
            select(DomainEvent).where(DomainEvent.kind == "subscription.quantity_changed")
        ).one()
        assert event.payload == {
            "subscription_id": subscription.id,
            "member_id": subscription.member_id,
            "effective_from": "2026-03-16",
            "quantity": "5.000",
        }

    def test_a_second_change_on_the_same_day_replaces_the_first(self, session, subscription):
        for quantity in (D(5), D(4)):
            subscriptions.change_subscription_quantity(
                session,
                subscription.id,
                quantity=quantity,
                effective_from=date(2026, 4, 1),
                actor=None,
            )
        session.expire_all()
        assert session.get(Subscription, subscription.id).history == [
            (START, D(2)),
            (date(2026, 4, 1), D(4)),
        ]

    def test_refusals_name_the_field_and_change_nothing(self, session, subscription):
        cases = [
            (
                {"quantity": D(3), "effective_from": date(2026, 1, 31)},
                "effective_from",
                "outside the subscription (2026-02-01)",
            ),
            (
                {"quantity": D(2), "effective_from": date(2026, 3, 1)},
                "quantity",
                "already 2 on 2026-03-01",
            ),
            (
                {"quantity": D(0), "effective_from": date(2026, 3, 1)},
                "quantity",
                "must be more than 0",
            ),
        ]
        for kwargs, field, message in cases:
            with pytest.raises(ValidationFailed) as refused:
                subscriptions.change_subscription_quantity(
                    session, subscription.id, actor=None, **kwargs
                )
            assert refused.value.errors == {field: [message]}
        session.expire_all()
        assert session.get(Subscription, subscription.id).history == [(START, D(2))]


class TestTermination:
    def test_a_subscription_ends_on_its_last_day_billed(self, session, buyer, subscription):
        subscriptions.terminate_subscription(
            session, subscription.id, end_date=date(2026, 6, 30), actor=buyer
        )
        assert (subscription.end_date, subscription.terminated_by_id) == (
            date(2026, 6, 30),
            buyer.id,
        )
        assert subscription.quantity_on(date(2026, 6, 30)) == D(2)
        assert subscription.quantity_on(date(2026, 7, 1)) == D(0)
        event = session.scalars(
            select(DomainEvent).where(DomainEvent.kind == "subscription.terminated")
        ).one()
        assert event.payload == {
            "subscription_id": subscription.id,
            "member_id": subscription.member_id,
            "end_date": "2026-06-30",
        }
        with pytest.raises(ValidationFailed) as refused:
            subscriptions.change_subscription_quantity(
                session,
                subscription.id,
                quantity=D(3),
                effective_from=date(2026, 7, 1),
                actor=buyer,
            )
        assert refused.value.errors == {
            "effective_from": ["outside the subscription (2026-02-01 to 2026-06-30)"]
        }

    def test_not_before_the_start_not_twice(self, session, buyer, subscription):
        with pytest.raises(ValidationFailed) as refused:
            subscriptions.terminate_subscription(
                session, subscription.id, end_date=date(2026, 1, 31), actor=buyer
            )
        assert refused.value.errors == {
            "end_date": ["before the start of the subscription (2026-02-01)"]
        }
        subscriptions.terminate_subscription(
            session, subscription.id, end_date=date(2026, 2, 1), actor=buyer
        )
        with pytest.raises(Conflict) as refused:
            subscriptions.terminate_subscription(
                session, subscription.id, end_date=date(2026, 5, 31), actor=buyer
            )
        assert refused.value.errors == {"end_date": ["already terminated: it ends on 2026-02-01"]}
        session.expire_all()
        assert session.get(Subscription, subscription.id).end_date == date(2026, 2, 1)

    def test_not_before_a_quantity_change_already_planned(self, session, subscription):
        subscriptions.change_subscription_quantity(
            session, subscription.id, quantity=D(3), effective_from=date(2026, 9, 1), actor=None
        )
        with pytest.raises(ValidationFailed) as refused:
            subscriptions.terminate_subscription(
                session, subscription.id, end_date=date(2026, 8, 31), actor=None
            )
        assert refused.value.errors == {
            "end_date": ["a quantity change takes effect on 2026-09-01, after this end"]
        }


class TestAccess:
    def test_a_member_user_sees_only_its_own_subscriptions(
        self, session, member, sites, subscription
    ):
        agent = make_user(session, role="member", member=member)[0]
        theirs = (
            make_order(session, lines=[sites], status=OrderStatus.DELIVERED).lines[0].subscription
        )
        page = subscriptions.list_subscriptions(session, actor=agent)
        assert [s.id for s in page.items] == [subscription.id]
        with pytest.raises(NotFound) as refused:
            subscriptions.get_subscription(session, theirs.id, actor=agent)
        assert refused.value.errors == {"subscription_id": [f"no subscription with id {theirs.id}"]}
        with pytest.raises(PermissionDenied):
            subscriptions.terminate_subscription(
                session, subscription.id, end_date=date(2026, 6, 30), actor=agent
            )

    def test_staff_list_what_is_in_force(self, session, subscription, sites):
        ended = (
            make_order(session, lines=[sites], status=OrderStatus.DELIVERED).lines[0].subscription
        )
        subscriptions.terminate_subscription(
            session, ended.id, end_date=date(2026, 2, 28), actor=None
        )
        auditor = make_user(session, role="auditor")[0]
        in_march = subscriptions.list_subscriptions(
            session,
            actor=auditor,
            filters=subscriptions.SubscriptionFilters(active_on=date(2026, 3, 1)),
        )
        assert [s.id for s in in_march.items] == [subscription.id]
        billed = subscriptions.subscriptions_in_force(
            session, first=date(2026, 2, 1), last=date(2026, 2, 28)
        )
        assert {s.id for s in billed} == {subscription.id, ended.id}


def test_recurring_intermediary_lines_have_no_subscription(session):
    from tests.factories import catalog_family

    link = make_product(
        session, family=catalog_family(session, "telecom"), billing=Billing.MONTHLY, cost="49.00"
    )
    order = make_order(session, lines=[link], status=OrderStatus.DELIVERED)
    assert (order.lines[0].commissioned_on, order.lines[0].subscription) == (date(2026, 2, 1), None)
    assert session.scalars(select(Subscription)).all() == []
    assert services.get_order(session, order.id, actor=None).status is OrderStatus.DELIVERED


class TestMoreUnitsFollowTheOrderRules:
    """Raising a quantity buys more units: adhesion, service domain, market dates and the
    lot's yearly ceiling are checked, as when an order is approved; lowering it is free."""

    @pytest.fixture
    def lot(self, session):
        """A lot of a market ending in 60 days, 3 000,00 € a year at most."""
        return make_lot(
            session,
            market=make_market(session, number="MAR-2026-09", end_date=TODAY + timedelta(60)),
            yearly_ceiling="3000.00",
        )

    @pytest.fixture
    def links(self, session, member, lot):
        """Two units of a monthly item at 100,00 € under ``lot``: 2 400,00 € committed."""
        item = make_product(session, sku="MC-LIEN", lot=lot, cost="100.00")
        order = make_order(session, member=member, lines=[(item, 2)], status="delivered")
        return order.lines[0].subscription

    def change(self, session, subscription, quantity, effective_from=None):
        return subscriptions.change_subscription_quantity(
            session,
            subscription.id,
            quantity=D(quantity),
            effective_from=effective_from or TODAY,
            actor=None,
        )

    def assert_unchanged(self, session, subscription, committed="2400.00"):
        session.expire_all()
        assert session.get(Subscription, subscription.id).history == [(START, D(2))]
        assert [c.amount for c in commitments(session, subscription)] == [D(committed)]

    def test_the_added_units_are_committed_to_the_ceiling_of_the_year(self, session, lot, links):
        self.change(session, links, "2.5")  # half a unit more: 50,00 € x 12
        [commitment] = commitments(session, links)
        assert (commitment.year, commitment.amount) == (TODAY.year, D("3000.00"))
        records = session.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "market_lot.committed",
                AuditRecord.entity_id == str(commitment.id),
            )
        ).all()
        [record] = [record for record in records if record.before]  # the raise, not the approval
        assert (record.before["amount"], record.after["amount"]) == ("2400.00", "3000.00")

    def test_more_than_the_ceiling_takes_is_refused_with_the_figures(self, session, links):
        with pytest.raises(CeilingExceeded) as refused:
            self.change(session, links, 3)
        assert refused.value.errors == {
            "quantity": [
                "MAR-2026-09 lot "
                f"{links.order_line.market_lot.number}: 1 more MC-LIEN commits 1200.00 excl. "
                f"VAT, but only 600.00 is left of its {TODAY.year} ceiling of 3000.00 "
                "(2400.00 already committed by approved orders)"
            ]
        }
        self.assert_unchanged(session, links)

    def test_a_day_after_the_market_ends_is_refused(self, session, lot, links):
        after_the_end = lot.market.end_date + timedelta(days=1)
        with pytest.raises(ValidationFailed) as refused:
            self.change(session, links, "2.1", effective_from=after_the_end)
        assert refused.value.errors == {
            "effective_from": [
                f"MC-LIEN is bought under {lot.reference}, in force from 2020-01-01 to "
                f"{lot.market.end_date.isoformat()}, not on {after_the_end.isoformat()}"
            ]
        }
        self.assert_unchanged(session, links)

    def test_once_the_market_has_ended_no_unit_is_added_even_backdated(
        self, session, monkeypatch, lot, links
    ):
        move_today_to(monkeypatch, lot.market.end_date + timedelta(days=5))
        with pytest.raises(ValidationFailed) as refused:
            self.change(session, links, "2.1", effective_from=lot.market.end_date)
        [message] = refused.value.errors["effective_from"]
        assert message.endswith(f"not on {fields.today_in_paris().isoformat()}")
        self.assert_unchanged(session, links)

    def test_a_member_that_left_the_domain_is_refused(self, session, member, links):
        member_services.leave_service_domain(
            session, member.id, ServiceDomain.MAIRIE_CONNECTEE, end_date=TODAY, actor=None
        )
        later = TODAY + timedelta(days=1)
        with pytest.raises(ServiceDomainNotJoined) as refused:
            self.change(session, links, "2.1", effective_from=later)
        [message] = refused.value.errors["effective_from"]
        assert message.endswith(f"on {later.isoformat()}: it left it on {TODAY.isoformat()}")
        self.assert_unchanged(session, links)

    def test_a_suspended_member_is_refused(self, session, member, links):
        member_services.suspend_adhesion(session, member.id, reason="impayés", actor=None)
        with pytest.raises(AdhesionNotActive) as refused:
            self.change(session, links, "2.1")
        assert refused.value.errors == {
            "member_id": [
                f"only an active member can order: {member.name}: its adhesion is suspended"
            ]
        }
        self.assert_unchanged(session, links)

    def test_fewer_units_are_always_possible(self, session, member, lot, links):
        member_services.suspend_adhesion(session, member.id, reason="impayés", actor=None)
        self.change(session, links, 1, effective_from=lot.market.end_date + timedelta(days=1))
        assert [c.amount for c in commitments(session, links)] == [D("2400.00")]

    def test_a_later_year_gets_its_own_commitment(self, session, monkeypatch, links):
        open_lot = make_lot(session, yearly_ceiling="2000.00")
        item = make_product(session, lot=open_lot, cost="50.00")
        order = make_order(session, lines=[(item, 2)], status="delivered")  # 1 200,00 €
        subscription = order.lines[0].subscription
        next_year = date(TODAY.year + 1, 1, 15)
        move_today_to(monkeypatch, next_year)

        self.change(session, subscription, 4)  # 2 more at 50,00 € x 12

        assert [(c.year, c.amount) for c in commitments(session, subscription)] == [
            (TODAY.year, D("1200.00")),
            (next_year.year, D("1200.00")),
        ]


def commitments(session, subscription):
    return session.scalars(
        select(MarketLotCommitment)
        .where(MarketLotCommitment.order_id == subscription.order_line.order_id)
        .order_by(MarketLotCommitment.year)
    ).all()


def move_today_to(monkeypatch, day: date) -> None:
    """Every "today in Paris" of the services becomes ``day`` (noon in Paris)."""

    class MovedClock(datetime):
        @classmethod
        def now(cls, tz=None):
            moment = datetime(day.year, day.month, day.day, 12, tzinfo=fields.PARIS)
            return moment if tz is None else moment.astimezone(tz)

    monkeypatch.setattr(fields, "datetime", MovedClock)
