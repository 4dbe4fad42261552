"""An order's life through the services, on a real database: drafts, prices kept,
transitions and their refusals, deliveries, roles and tenant isolation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from purchasing.audit.models import AuditRecord
from purchasing.audit.services import snapshot
from purchasing.catalog.pricing import Billing
from purchasing.catalog.services import add_price_version
from purchasing.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from purchasing.events import DomainEvent
from purchasing.members import services as member_services
from purchasing.members.models import AdhesionStatus
from purchasing.members.services import AdhesionNotActive
from purchasing.orders import services
from purchasing.orders.models import (
    ORDER_TRANSITIONS,
    Order,
    OrderNotEditable,
    OrderStatus,
    PurchaseOrder,
    PurchaseOrderStatus,
)
from purchasing.orders.services import LineInput
from tests.factories import make_member, make_order, make_product, make_user
from tests.factories.catalog import TARIFF_DELIBERATION

D = Decimal
S = OrderStatus
ORDER_DATE = date(2026, 1, 15)


@pytest.fixture
def buyer(session):
    return make_user(session, role="purchasing", email="achats@centrale.example")[0]


@pytest.fixture
def member(session):
    return make_member(session, name="Commune d'Audresselles")


@pytest.fixture
def agent(session, member):
    """A user of ``member``."""
    return make_user(session, role="member", member=member, email="mairie@audresselles.fr")[0]


@pytest.fixture
def camera(session):
    """A one-off wholesaler item: cost 480.00, margin 5.38 % -> 505.82."""
    return make_product(
        session,
        sku="VID-CAM",
        name="Caméra dôme",
        unit="caméra",
        billing=Billing.ONE_OFF,
        cost="480.00",
    )


@pytest.fixture
def mailbox(session):
    """A monthly wholesaler item: cost 3.20 -> 3.37 with 5.38 % margin."""
    return make_product(session, sku="MC-MAIL", name="Messagerie", unit="boîte", cost="3.20")


def audit_count(session, entity: str = "order") -> int:
    return session.scalar(
        select(func.count()).select_from(AuditRecord).where(AuditRecord.entity == entity)
    )


def audit_actions(session, entity: str, entity_id: int) -> list[str]:
    query = (
        select(AuditRecord.action)
        .where(AuditRecord.entity == entity, AuditRecord.entity_id == str(entity_id))
        .order_by(AuditRecord.id)
    )
    return list(session.scalars(query))


class TestDrafts:
    def test_a_draft_is_numbered_in_the_cmd_series_and_audited(self, session, agent, member):
        first = services.create_order(session, actor=agent, note="  Pour la mairie  ")
        second = services.create_order(session, actor=agent)
        today = first.order_date
        assert first.reference == f"CMD-{today.year}-000001"
        assert second.reference == f"CMD-{today.year}-000002"
        assert (first.member_id, first.status, first.note) == (member.id, S.DRAFT, "Pour la mairie")
        assert first.created_by_id == agent.id
        assert audit_actions(session, "order", first.id) == ["order.created"]

    def test_an_order_placed_with_its_lines_audits_each_as_written(
        self, session, agent, member, mailbox, camera
    ):
        order = services.create_order(
            session,
            actor=agent,
            lines=[
                LineInput(sku="MC-MAIL", quantity=D(2)),
                LineInput(sku="VID-CAM", quantity=D(1)),
            ],
        )
        session.expire_all()
        records = session.scalars(
            select(AuditRecord)
            .where(AuditRecord.action.in_(["order.created", "order_line.added"]))
            .order_by(AuditRecord.id)
        ).all()
        lines = session.get(Order, order.id).lines
        assert [(r.action, r.entity_id) for r in records] == [
            ("order_line.added", str(lines[0].id)),
            ("order_line.added", str(lines[1].id)),
            ("order.created", str(order.id)),
        ]
        assert {(r.actor_id, r.actor_label, r.before) for r in records} == {
            (agent.id, "mairie@audresselles.fr", None)
        }
        # What each row holds once read back, three-decimal quantities and the CMD number
        # included.
        assert [r.after for r in records] == [
            snapshot(lines[0]),
            snapshot(lines[1]),
            snapshot(session.get(Order, order.id)),
        ]
        assert records[2].after["reference"] == order.reference
        assert records[0].at <= records[2].at

    def test_a_member_user_orders_for_its_own_member_only(self, session, agent):
        other = make_member(session)
        with pytest.raises(ValidationFailed) as refused:
            services.create_order(session, actor=agent, member_id=other.id)
        assert refused.value.errors == {"member_id": [f"no member with id {other.id}"]}
        assert session.scalar(select(func.count()).select_from(Order)) == 0

    def test_a_member_user_orders_at_todays_prices(self, session, agent):
        with pytest.raises(ValidationFailed) as refused:
            services.create_order(session, actor=agent, order_date=date(2025, 1, 2))
        assert list(refused.value.errors) == ["order_date"]

    def test_staff_name_the_member_and_may_date_an_order_in_the_past(self, session, buyer, member):
        with pytest.raises(ValidationFailed) as refused:
            services.create_order(session, actor=buyer)
        assert list(refused.value.errors) == ["member_id"]
        with pytest.raises(ValidationFailed) as refused:
            services.create_order(
                session, actor=buyer, member_id=member.id, order_date=date(2999, 1, 1)
            )
        assert refused.value.errors == {"order_date": ["may not be in the future"]}
        order = services.create_order(
            session, actor=buyer, member_id=member.id, order_date=date(2025, 12, 1)
        )
        assert order.reference == "CMD-2025-000001"

    def test_finance_and_auditors_do_not_order(self, session, member):
        for role in ("finance", "auditor"):
            user = make_user(session, role=role)[0]
            with pytest.raises(PermissionDenied):
                services.create_order(session, actor=user, member_id=member.id)

    def test_a_line_keeps_the_prices_of_the_order_date(self, session, buyer, member, mailbox):
        order = services.create_order(
            session, actor=buyer, member_id=member.id, order_date=ORDER_DATE
        )
        line = services.add_order_line(
            session, order.id, sku="MC-MAIL", quantity=D("3"), delivery_site=" Mairie ", actor=buyer
        )
        version = mailbox.price_versions[0]
        assert (line.position, line.product_id, line.price_version_id) == (
            1,
            mailbox.id,
            version.id,
        )
        assert (line.sku, line.designation, line.unit) == ("MC-MAIL", "Messagerie", "boîte")
        assert (line.supplier_id, line.family_code) == (mailbox.supplier_id, mailbox.family.code)
        assert (line.supplier_cost, line.sale_price, line.vat_rate) == (
            D("3.20"),
            D("3.37"),
            D("0.2000"),
        )
        assert (line.sales_account, line.purchase_account) == ("7062", "6042")
        assert (line.billing, line.subsidy_eligible) == (Billing.MONTHLY, False)
        assert (line.quantity, line.amount, line.delivery_site) == (D("3"), D("10.11"), "Mairie")
        assert audit_actions(session, "order_line", line.id) == ["order_line.added"]

    def test_a_catalogue_price_change_never_reprices_an_order(
        self, session, buyer, member, mailbox
    ):
        order = make_order(session, member=member, lines=[(mailbox, 10)], order_date=ORDER_DATE)
        # New prices from before the order date (the price in force on that day changes),
        # then a later price list.
        for valid_from, cost in ((date(2026, 1, 1), D("5.00")), (date(2026, 6, 1), D("9.00"))):
            add_price_version(
                session,
                "MC-MAIL",
                valid_from=valid_from,
                supplier_cost=cost,
                deliberation=TARIFF_DELIBERATION,
                added_by=None,
            )
        services.submit_order(session, order.id, actor=None)
        services.approve_order(session, order.id, actor=buyer)

        session.expire_all()
        [line] = session.get(Order, order.id).lines
        assert (line.supplier_cost, line.sale_price, line.amount) == (
            D("3.20"),
            D("3.37"),
            D("33.70"),
        )
        [po_line] = session.scalars(select(PurchaseOrder)).one().lines
        assert (po_line.unit_cost, po_line.amount) == (D("3.20"), D("32.00"))
        # A line added now to a new draft of that date takes the new prices.
        newer = make_order(session, member=member, lines=[(mailbox, 10)], order_date=ORDER_DATE)
        assert newer.lines[0].supplier_cost == D("5.00")

    def test_what_cannot_be_ordered_is_refused_naming_the_field(self, session, buyer, member):
        order = services.create_order(
            session, actor=buyer, member_id=member.id, order_date=ORDER_DATE
        )
        make_product(session, sku="OLD", active=False)
        make_product(session, sku="LATER", valid_from=date(2026, 3, 1))
        cases = {
            "NOPE": "no product 'NOPE'",
            "OLD": "OLD is no longer offered",
            "LATER": "product LATER has no price in force on 2026-01-15",
        }
        for sku, message in cases.items():
            with pytest.raises(ValidationFailed) as refused:
                services.add_order_line(session, order.id, sku=sku, quantity=D(1), actor=buyer)
            assert refused.value.errors == {"sku": [message]}
        with pytest.raises(ValidationFailed) as refused:
            services.add_order_line(session, order.id, sku="OLD", quantity=D(0), actor=buyer)
        assert order.lines == []

    def test_a_quantity_no_amount_column_could_hold_is_refused(self, session, member):
        make_product(session, sku="AUDIT", billing=Billing.ONE_OFF, cost="4800.00")
        order = make_order(session, member=member, lines=[])
        with pytest.raises(ValidationFailed) as refused:
            services.add_order_line(
                session, order.id, sku="AUDIT", quantity=D("999999999"), actor=None
            )
        assert refused.value.errors == {
            "quantity": ["too large: an amount of the line would pass 999999999999.99"]
        }

    def test_lines_given_at_creation_are_refused_with_their_index(
        self, session, buyer, member, mailbox
    ):
        with pytest.raises(ValidationFailed) as refused:
            services.create_order(
                session,
                actor=buyer,
                member_id=member.id,
                lines=[LineInput("MC-MAIL", D(1)), LineInput("NOPE", D(1))],
            )
        assert refused.value.errors == {"lines[1].sku": ["no product 'NOPE'"]}
        assert session.scalar(select(func.count()).select_from(Order)) == 0

    def test_a_draft_line_changes_and_goes(self, session, agent, member, mailbox, camera):
        order = make_order(session, member=member, lines=[(mailbox, 1), (camera, 2)])
        first, second = order.lines
        services.update_order_line(
            session, order.id, first.id, {"quantity": D("4"), "note": "x"}, actor=agent
        )
        services.remove_order_line(session, order.id, second.id, actor=agent)
        session.expire_all()
        [line] = session.get(Order, order.id).lines
        assert (line.quantity, line.note, line.sale_price) == (D("4"), "x", D("3.37"))
        assert audit_actions(session, "order_line", second.id) == [
            "order_line.added",
            "order_line.removed",
        ]

    def test_lines_and_terms_change_only_in_a_draft(self, session, agent, member, mailbox):
        order = make_order(session, member=member, lines=[mailbox], status=S.SUBMITTED)
        [line] = order.lines
        before = (snapshot(order), snapshot(line), audit_count(session, "order_line"))
        attempts = [
            lambda: services.add_order_line(
                session, order.id, sku="MC-MAIL", quantity=D(1), actor=agent
            ),
            lambda: services.update_order_line(
                session, order.id, line.id, {"quantity": D(9)}, actor=agent
            ),
            lambda: services.remove_order_line(session, order.id, line.id, actor=agent),
            lambda: services.update_order(session, order.id, {"note": "x"}, actor=agent),
        ]
        for attempt in attempts:
            with pytest.raises(OrderNotEditable) as refused:
                attempt()
            assert refused.value.status_code == 409
            assert list(refused.value.errors) == ["status"]
        session.expire_all()
        assert before == (
            snapshot(order),
            snapshot(order.lines[0]),
            audit_count(session, "order_line"),
        )

    def test_a_line_of_another_order_is_not_found(self, session, member, mailbox):
        one = make_order(session, member=member, lines=[mailbox])
        other = make_order(session, member=member, lines=[mailbox])
        with pytest.raises(NotFound) as refused:
            services.remove_order_line(session, one.id, other.lines[0].id, actor=None)
        assert list(refused.value.errors) == ["line_id"]


class TestSubmission:
    def test_a_member_user_submits_its_order(self, session, agent, member, mailbox):
        order = make_order(session, member=member, lines=[mailbox])
        services.submit_order(session, order.id, actor=agent)
        assert (order.status, order.submitted_by_id) == (S.SUBMITTED, agent.id)
        assert order.submitted_at is not None

    def test_an_order_needs_a_line(self, session, agent):
        order = services.create_order(session, actor=agent)
        with pytest.raises(ValidationFailed) as refused:
            services.submit_order(session, order.id, actor=agent)
        assert refused.value.errors == {"lines": ["an order needs at least one line"]}
        assert order.status is S.DRAFT

    def test_the_engagement_number_is_required_when_chorus_needs_it(self, session, mailbox):
        member = make_member(session, name="Ville d'Arras", chorus_engagement_required=True)
        order = make_order(session, member=member, lines=[mailbox])
        with pytest.raises(ValidationFailed) as refused:
            services.submit_order(session, order.id, actor=None)
        assert refused.value.errors == {
            "engagement_number": [
                "required: Ville d'Arras needs its engagement number on Chorus Pro invoices"
            ]
        }
        services.update_order(session, order.id, {"engagement_number": " EJ-2026-153 "}, actor=None)
        services.submit_order(session, order.id, actor=None)
        assert (order.status, order.engagement_number) == (S.SUBMITTED, "EJ-2026-153")

    @pytest.mark.parametrize(
        "adhesion", [AdhesionStatus.SUSPENDED, AdhesionStatus.WITHDRAWN, AdhesionStatus.REQUESTED]
    )
    def test_a_member_whose_adhesion_is_not_active_cannot_submit(self, session, mailbox, adhesion):
        member = make_member(session, adhesion_status=adhesion)
        order = make_order(session, member=member, lines=[mailbox])
        with pytest.raises(AdhesionNotActive) as refused:
            services.submit_order(session, order.id, actor=None)
        assert list(refused.value.errors) == ["member_id"]
        session.expire_all()
        assert session.get(Order, order.id).status is S.DRAFT

    def test_approval_checks_the_adhesion_again(self, session, buyer, member, mailbox):
        order = make_order(session, member=member, lines=[mailbox], status=S.SUBMITTED)
        member_services.suspend_adhesion(session, member.id, reason="titres impayés", actor=buyer)
        with pytest.raises(AdhesionNotActive):
            services.approve_order(session, order.id, actor=buyer)
        session.expire_all()
        assert session.get(Order, order.id).status is S.SUBMITTED
        assert session.scalar(select(func.count()).select_from(PurchaseOrder)) == 0

    def test_a_product_withdrawn_since_it_was_added_stops_the_submission(self, session, mailbox):
        order = make_order(session, lines=[mailbox])
        mailbox.active = False
        session.commit()
        with pytest.raises(ValidationFailed) as refused:
            services.submit_order(session, order.id, actor=None)
        assert refused.value.errors == {"lines": ["no longer offered: MC-MAIL; remove them"]}

    def test_the_centre_returns_an_order_for_changes(self, session, buyer, agent, member, mailbox):
        order = make_order(session, member=member, lines=[mailbox], status=S.SUBMITTED)
        with pytest.raises(ValidationFailed):
            services.return_order(session, order.id, reason=" ", actor=buyer)
        services.return_order(session, order.id, reason="Précisez le site", actor=buyer)
        assert (order.status, order.return_reason, order.returned_by_id) == (
            S.DRAFT,
            "Précisez le site",
            buyer.id,
        )
        services.update_order_line(
            session, order.id, order.lines[0].id, {"delivery_site": "École"}, actor=agent
        )
        services.submit_order(session, order.id, actor=agent)
        assert order.status is S.SUBMITTED


class TestRoles:
    def test_a_member_user_never_approves_sends_delivers_or_closes(
        self, session, agent, member, mailbox
    ):
        order = make_order(session, member=member, lines=[mailbox], status=S.SUBMITTED)
        for action in (services.approve_order, services.send_order, services.close_order):
            with pytest.raises(PermissionDenied):
                action(session, order.id, actor=agent)
        with pytest.raises(PermissionDenied):
            services.return_order(session, order.id, reason="x", actor=agent)
        with pytest.raises(PermissionDenied):
            services.record_delivery(
                session,
                order.id,
                order.lines[0].id,
                quantity=D(1),
                delivered_on=ORDER_DATE,
                actor=agent,
            )
        assert order.status is S.SUBMITTED

    def test_a_member_cancels_its_order_until_the_centre_approves_it(
        self, session, agent, member, mailbox
    ):
        submitted = make_order(session, member=member, lines=[mailbox], status=S.SUBMITTED)
        services.cancel_order(session, submitted.id, reason="Doublon", actor=agent)
        assert (submitted.status, submitted.cancellation_reason) == (S.CANCELLED, "Doublon")

        approved = make_order(session, member=member, lines=[mailbox], status=S.APPROVED)
        with pytest.raises(Conflict) as refused:
            services.cancel_order(session, approved.id, reason="Doublon", actor=agent)
        assert list(refused.value.errors) == ["status"]
        assert approved.status is S.APPROVED

    def test_a_cancellation_needs_a_reason(self, session, agent, member, mailbox):
        order = make_order(session, member=member, lines=[mailbox])
        with pytest.raises(ValidationFailed) as refused:
            services.cancel_order(session, order.id, reason="  ", actor=agent)
        assert list(refused.value.errors) == ["reason"]


class TestTenantIsolation:
    def test_another_members_order_is_unknown_to_a_member_user(self, session, agent, mailbox):
        theirs = make_order(session, lines=[mailbox])
        line_id = theirs.lines[0].id
        attempts = [
            lambda: services.get_order(session, theirs.id, actor=agent),
            lambda: services.update_order(session, theirs.id, {"note": "x"}, actor=agent),
            lambda: services.add_order_line(
                session, theirs.id, sku="MC-MAIL", quantity=D(1), actor=agent
            ),
            lambda: services.update_order_line(
                session, theirs.id, line_id, {"quantity": D(2)}, actor=agent
            ),
            lambda: services.remove_order_line(session, theirs.id, line_id, actor=agent),
            lambda: services.submit_order(session, theirs.id, actor=agent),
            lambda: services.cancel_order(session, theirs.id, reason="x", actor=agent),
            lambda: services.quote_of_order(session, theirs.id, seller={}, actor=agent),
        ]
        for attempt in attempts:
            with pytest.raises(NotFound) as refused:
                attempt()
            assert refused.value.errors == {"order_id": [f"no order with id {theirs.id}"]}
        session.expire_all()
        assert session.get(Order, theirs.id).status is S.DRAFT
        assert len(session.get(Order, theirs.id).lines) == 1

    def test_a_member_user_lists_only_its_own_orders(self, session, agent, member, mailbox):
        mine = make_order(session, member=member, lines=[mailbox])
        make_order(session, lines=[mailbox])
        page = services.list_orders(session, actor=agent)
        assert [order.id for order in page.items] == [mine.id]
        assert page.total == 1
        # Asking for another member's orders gives nothing, not theirs.
        other = services.list_orders(
            session, actor=agent, filters=services.OrderFilters(member_id=mine.member_id + 1)
        )
        assert other.items == []

    def test_staff_list_every_order_filtered(self, session, buyer, member, mailbox):
        make_order(session, member=member, lines=[mailbox])
        submitted = make_order(session, member=member, lines=[mailbox], status=S.SUBMITTED)
        make_order(session, lines=[mailbox], status=S.SUBMITTED)
        assert services.list_orders(session, actor=buyer).total == 3
        page = services.list_orders(
            session,
            actor=buyer,
            filters=services.OrderFilters(status=S.SUBMITTED, member_id=member.id),
        )
        assert [order.id for order in page.items] == [submitted.id]


# --- Refused transitions: every illegal move, table-driven -------------------------------


ACTIONS = {
    "submit": (S.SUBMITTED, lambda s, o, a: services.submit_order(s, o.id, actor=a)),
    "return": (S.DRAFT, lambda s, o, a: services.return_order(s, o.id, reason="x", actor=a)),
    "approve": (S.APPROVED, lambda s, o, a: services.approve_order(s, o.id, actor=a)),
    "send": (S.ORDERED, lambda s, o, a: services.send_order(s, o.id, actor=a)),
    "cancel": (S.CANCELLED, lambda s, o, a: services.cancel_order(s, o.id, reason="x", actor=a)),
    "close": (S.CLOSED, lambda s, o, a: services.close_order(s, o.id, actor=a)),
    "deliver": (
        S.DELIVERED,
        lambda s, o, a: services.record_delivery(
            s, o.id, o.lines[0].id, quantity=D("0.5"), delivered_on=date(2026, 2, 1), actor=a
        ),
    ),
}
DELIVERABLE = {S.ORDERED, S.PARTLY_DELIVERED}
REFUSED = [
    (status, action)
    for status in OrderStatus
    for action, (target, _call) in ACTIONS.items()
    if (
        target not in ORDER_TRANSITIONS[status]
        if action != "deliver"
        else status not in DELIVERABLE
    )
]


def _state(session, order_id: int) -> tuple:
    session.expire_all()
    order = session.get(Order, order_id)
    return (
        snapshot(order),
        [snapshot(line) for line in order.lines],
        [snapshot(po) for po in order.purchase_orders],
        session.scalar(select(func.count()).select_from(AuditRecord)),
        session.scalar(select(func.count()).select_from(DomainEvent)),
    )


@pytest.mark.parametrize(("status", "action"), REFUSED, ids=[f"{s.value}-{a}" for s, a in REFUSED])
def test_an_illegal_transition_is_refused_and_changes_nothing(session, buyer, status, action):
    one_off = make_product(session, billing=Billing.ONE_OFF)
    monthly = make_product(session, billing=Billing.MONTHLY)
    order = make_order(session, lines=[(one_off, 2), (monthly, 1)], status=status)
    assert order.status is status
    before = _state(session, order.id)

    _target, call = ACTIONS[action]
    with pytest.raises(InvalidTransition) as refused:
        call(session, session.get(Order, order.id), buyer)

    assert refused.value.status_code == 409
    assert list(refused.value.errors) == ["status"]
    assert _state(session, order.id) == before


# --- Cancelling an approved order, deliveries --------------------------------------------


def test_cancelling_an_approved_order_cancels_its_purchase_orders(session, buyer, camera, mailbox):
    order = make_order(session, lines=[camera, mailbox], status=S.APPROVED)
    assert len(order.purchase_orders) == 2
    services.cancel_order(session, order.id, reason="Budget non voté", actor=buyer)
    session.expire_all()
    pos = session.scalars(select(PurchaseOrder).order_by(PurchaseOrder.id)).all()
    assert [po.status for po in pos] == [PurchaseOrderStatus.CANCELLED] * 2
    assert all(po.cancelled_by_id == buyer.id for po in pos)


class TestDeliveries:
    def test_partial_deliveries_lead_to_delivered(self, session, buyer, camera, mailbox):
        order = make_order(session, lines=[(camera, 3), mailbox], status=S.ORDERED)
        cams, mail = order.lines
        services.record_delivery(
            session, order.id, cams.id, quantity=D(2), delivered_on=date(2026, 2, 3), actor=buyer
        )
        assert (order.status, cams.delivered_quantity) == (S.PARTLY_DELIVERED, D(2))
        services.record_delivery(
            session, order.id, cams.id, quantity=D(1), delivered_on=date(2026, 2, 10), actor=buyer
        )
        assert order.status is S.PARTLY_DELIVERED  # the mailbox is not in service yet
        services.record_commissioning(
            session, order.id, mail.id, commissioned_on=date(2026, 2, 12), actor=buyer
        )
        assert order.status is S.DELIVERED
        assert order.delivered_at is not None
        assert [(d.quantity, d.delivered_on) for d in cams.deliveries] == [
            (D(2), date(2026, 2, 3)),
            (D(1), date(2026, 2, 10)),
        ]
        assert audit_actions(session, "order", order.id)[-2:] == [
            "order.partly_delivered",
            "order.delivered",
        ]
        services.close_order(session, order.id, actor=buyer)
        assert (order.status, order.closed_by_id) == (S.CLOSED, buyer.id)

    def test_never_more_than_ordered_nor_on_an_impossible_date(self, session, buyer, camera):
        order = make_order(session, lines=[(camera, 3)], status=S.ORDERED)
        [line] = order.lines
        cases = [
            (
                {"quantity": D(4), "delivered_on": date(2026, 2, 3)},
                "quantity",
                "only 3 left to deliver of 3 ordered",
            ),
            (
                {"quantity": D(1), "delivered_on": date(2026, 1, 14)},
                "delivered_on",
                "before the order date (2026-01-15)",
            ),
            (
                {"quantity": D(1), "delivered_on": date(2999, 1, 1)},
                "delivered_on",
                "may not be in the future",
            ),
        ]
        for kwargs, field, message in cases:
            with pytest.raises(ValidationFailed) as refused:
                services.record_delivery(session, order.id, line.id, actor=buyer, **kwargs)
            assert refused.value.errors == {field: [message]}
        assert (line.delivered_quantity, order.status) == (D(0), S.ORDERED)

    def test_one_off_items_are_delivered_recurring_ones_commissioned(
        self, session, buyer, camera, mailbox
    ):
        order = make_order(session, lines=[camera, mailbox], status=S.ORDERED)
        cams, mail = order.lines
        with pytest.raises(ValidationFailed, match="record its commissioning"):
            services.record_delivery(
                session,
                order.id,
                mail.id,
                quantity=D(1),
                delivered_on=date(2026, 2, 3),
                actor=buyer,
            )
        with pytest.raises(ValidationFailed, match="record its delivery"):
            services.record_commissioning(
                session, order.id, cams.id, commissioned_on=date(2026, 2, 3), actor=buyer
            )
        services.record_commissioning(
            session, order.id, mail.id, commissioned_on=date(2026, 2, 3), actor=buyer
        )
        with pytest.raises(Conflict) as refused:
            services.record_commissioning(
                session, order.id, mail.id, commissioned_on=date(2026, 2, 4), actor=buyer
            )
        assert refused.value.errors == {"commissioned_on": ["already commissioned on 2026-02-03"]}

    def test_a_wholesaler_delivery_is_published_for_billing(self, session, buyer, camera):
        order = make_order(session, lines=[(camera, 3)], status=S.ORDERED, engagement_number="EJ-9")
        delivery = services.record_delivery(
            session,
            order.id,
            order.lines[0].id,
            quantity=D(2),
            delivered_on=date(2026, 2, 3),
            actor=buyer,
        )
        event = session.scalars(
            select(DomainEvent).where(DomainEvent.kind == "order.line_delivered")
        ).one()
        assert (event.entity, event.entity_id) == ("delivery", str(delivery.id))
        assert event.payload == {
            "order_id": order.id,
            "order_reference": order.reference,
            "member_id": order.member_id,
            "engagement_number": "EJ-9",
            "order_line_id": order.lines[0].id,
            "delivery_id": delivery.id,
            "product_id": camera.id,
            "sku": "VID-CAM",
            "designation": "Caméra dôme",
            "delivered_on": "2026-02-03",
            "quantity": "2.000",
            "unit_price": "505.82",
            "amount_excl_vat": "1011.64",
            "vat_rate": "0.2000",
            "sales_account": "7062",
            "subsidy_eligible": False,
            "deliberation_reference": "T-2024-50",
            "deliberation_date": "2024-12-10",
            "market_reference": camera.lot.reference,
        }


def test_every_step_is_in_the_audit_trail(session, buyer, agent, member, camera):
    order = services.create_order(session, actor=agent, lines=[LineInput("VID-CAM", D(1))])
    services.submit_order(session, order.id, actor=agent)
    services.approve_order(session, order.id, actor=buyer)
    services.send_order(session, order.id, actor=buyer)
    services.record_delivery(
        session,
        order.id,
        order.lines[0].id,
        quantity=D(1),
        delivered_on=order.order_date,
        actor=buyer,
    )
    services.close_order(session, order.id, actor=buyer)
    records = session.scalars(
        select(AuditRecord)
        .where(AuditRecord.entity == "order", AuditRecord.entity_id == str(order.id))
        .order_by(AuditRecord.id)
    ).all()
    assert [(r.action, r.actor_id) for r in records] == [
        ("order.created", agent.id),
        ("order.submitted", agent.id),
        ("order.approved", buyer.id),
        ("order.sent", buyer.id),
        ("order.delivered", buyer.id),
        ("order.closed", buyer.id),
    ]
    assert records[2].before == {"status": "submitted", "approved_at": None, "approved_by_id": None}
    assert records[2].after["status"] == "approved"
