"""The orders API: one happy path and one refusal per endpoint, roles and tenant isolation.

Access rules of every route (anonymous 401, roles outside the rule 403) are walked by
``test_access_rules.py``; here, the answers of the routes themselves.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from purchasing.catalog.pricing import Billing
from purchasing.fields import today_in_paris
from purchasing.orders.models import OrderStatus, PurchaseOrder
from tests.factories import invoice_in_full, make_member, make_order, make_product
from tests.factories.catalog import make_lot

S = OrderStatus


def field_errors(response) -> dict:
    return response.json["errors"]["json"]


@pytest.fixture
def member(session):
    return make_member(session, name="Commune d'Audresselles")


@pytest.fixture
def member_api(api_as, member):
    return api_as("member", member=member)


@pytest.fixture
def buyer_api(api_as):
    return api_as("purchasing")


@pytest.fixture
def mailbox(session):
    return make_product(session, sku="MC-MAIL", name="Messagerie", unit="boîte", cost="3.20")


@pytest.fixture
def camera(session):
    return make_product(session, sku="VID-CAM", billing=Billing.ONE_OFF, cost="480.00")


# --- Orders -----------------------------------------------------------------------------


class TestListOrders:
    def test_a_member_user_lists_its_own_orders_without_costs(
        self, session, member, member_api, mailbox
    ):
        mine = make_order(session, member=member, lines=[(mailbox, 3)])
        make_order(session, lines=[mailbox])
        response = member_api.get("/orders")
        assert response.status_code == 200
        assert response.json["total"] == 1
        [order] = response.json["items"]
        assert (order["id"], order["member_name"]) == (mine.id, "Commune d'Audresselles")
        [line] = order["lines"]
        assert (line["sale_price"], line["amount"], line["quantity"]) == ("3.37", "10.11", "3.000")
        assert "supplier_cost" not in line and "purchase_account" not in line
        assert order["totals"][0]["totals"]["total_incl_vat"] == "12.13"
        assert "purchase_orders" not in order

    def test_staff_filter_by_status_and_member(self, session, member, api_as, mailbox):
        make_order(session, member=member, lines=[mailbox])
        submitted = make_order(session, member=member, lines=[mailbox], status=S.SUBMITTED)
        response = api_as("auditor").get(f"/orders?status=submitted&member_id={member.id}")
        assert [o["id"] for o in response.json["items"]] == [submitted.id]
        assert response.json["items"][0]["lines"][0]["supplier_cost"] == "3.20"

    def test_a_bad_filter_names_the_field(self, api_as):
        response = api_as("finance").get("/orders?status=shipped&per_page=0")
        assert response.status_code == 422
        assert set(response.json["errors"]["query"]) == {"status", "per_page"}


class TestCreateOrder:
    def test_a_member_user_orders_for_its_member(self, member, member_api, mailbox):
        response = member_api.post(
            "/orders",
            json={"engagement_number": "EJ-1", "lines": [{"sku": "MC-MAIL", "quantity": "2"}]},
        )
        assert response.status_code == 201
        body = response.json
        assert (body["member_id"], body["status"], body["order_date"]) == (
            member.id,
            "draft",
            today_in_paris().isoformat(),
        )
        assert body["reference"].startswith(f"CMD-{today_in_paris().year}-")
        assert body["lines"][0]["amount"] == "6.74"

    def test_another_members_id_is_refused(self, session, member_api):
        other = make_member(session)
        response = member_api.post("/orders", json={"member_id": other.id})
        assert response.status_code == 422
        assert field_errors(response) == {"member_id": [f"no member with id {other.id}"]}

    def test_bad_lines_name_their_field(self, buyer_api, member, mailbox):
        response = buyer_api.post(
            "/orders", json={"member_id": member.id, "lines": [{"sku": "MC-MAIL", "quantity": 2.5}]}
        )
        assert response.status_code == 422
        assert "quantity" in field_errors(response)["lines"]["0"]
        unknown = buyer_api.post(
            "/orders", json={"member_id": member.id, "lines": [{"sku": "NOPE", "quantity": "1"}]}
        )
        assert unknown.status_code == 422
        assert field_errors(unknown) == {"lines[0].sku": ["no product 'NOPE'"]}

    @pytest.mark.parametrize("role", ["finance", "auditor"])
    def test_readers_do_not_order(self, api_as, member, role):
        assert api_as(role).post("/orders", json={"member_id": member.id}).status_code == 403


class TestOneOrder:
    def test_get_own_and_404_for_another_members(self, session, member, member_api, mailbox):
        mine = make_order(session, member=member, lines=[mailbox])
        theirs = make_order(session, lines=[mailbox])
        assert member_api.get(f"/orders/{mine.id}").json["reference"] == mine.reference
        hidden = member_api.get(f"/orders/{theirs.id}")
        assert hidden.status_code == 404
        assert hidden.json["message"] == f"no order with id {theirs.id}"

    def test_patch_a_draft_only(self, session, member, member_api, mailbox):
        draft = make_order(session, member=member, lines=[mailbox])
        response = member_api.patch(
            f"/orders/{draft.id}", json={"engagement_number": "EJ-7", "note": "Urgent"}
        )
        assert response.status_code == 200
        assert (response.json["engagement_number"], response.json["note"]) == ("EJ-7", "Urgent")
        submitted = make_order(session, member=member, lines=[mailbox], status=S.SUBMITTED)
        refused = member_api.patch(f"/orders/{submitted.id}", json={"note": "x"})
        assert refused.status_code == 409
        assert set(field_errors(refused)) == {"status"}
        assert (
            member_api.patch(f"/orders/{draft.id}", json={"status": "approved"}).status_code == 422
        )


class TestLines:
    def test_add_change_remove(self, session, member, member_api, mailbox, camera):
        order = make_order(session, member=member, lines=[mailbox])
        added = member_api.post(
            f"/orders/{order.id}/lines",
            json={"sku": "VID-CAM", "quantity": "1.5", "delivery_site": "École"},
        )
        assert added.status_code == 201
        assert (added.json["sale_price"], added.json["amount"], added.json["position"]) == (
            "505.82",
            "758.73",
            2,
        )
        line_id = added.json["id"]
        changed = member_api.patch(f"/orders/{order.id}/lines/{line_id}", json={"quantity": "2"})
        assert (changed.status_code, changed.json["amount"]) == (200, "1011.64")
        assert member_api.delete(f"/orders/{order.id}/lines/{line_id}").status_code == 204
        assert len(member_api.get(f"/orders/{order.id}").json["lines"]) == 1

    def test_refusals(self, session, member, member_api, mailbox):
        order = make_order(session, member=member, lines=[mailbox])
        line_id = order.lines[0].id
        assert (
            member_api.post(f"/orders/{order.id}/lines", json={"sku": "MC-MAIL"}).status_code == 422
        )
        bad = member_api.patch(f"/orders/{order.id}/lines/{line_id}", json={"quantity": "0"})
        assert (bad.status_code, list(field_errors(bad))) == (422, ["quantity"])
        assert member_api.delete(f"/orders/{order.id}/lines/999999").status_code == 404
        submitted = make_order(session, member=member, lines=[mailbox], status=S.SUBMITTED)
        assert (
            member_api.delete(f"/orders/{submitted.id}/lines/{submitted.lines[0].id}").status_code
            == 409
        )


class TestTransitions:
    def test_the_member_submits_the_centre_approves_and_sends(
        self, session, member, member_api, buyer_api, camera
    ):
        order = make_order(session, member=member, lines=[(camera, 2)])
        submitted = member_api.post(f"/orders/{order.id}/submit")
        assert (submitted.status_code, submitted.json["status"]) == (200, "submitted")
        approved = buyer_api.post(f"/orders/{order.id}/approve")
        assert approved.status_code == 200
        [po] = approved.json["purchase_orders"]
        assert (po["number"], po["status"]) == (f"BCF-{today_in_paris().year}-000001", "issued")
        sent = buyer_api.post(f"/orders/{order.id}/send")
        assert sent.json["status"] == "ordered"
        assert sent.json["purchase_orders"][0]["status"] == "sent"

    def test_refused_transitions_answer_409_naming_the_status(
        self, session, member, member_api, buyer_api, mailbox
    ):
        draft = make_order(session, member=member, lines=[mailbox])
        for action in ("approve", "send", "close"):
            response = buyer_api.post(f"/orders/{draft.id}/{action}")
            assert response.status_code == 409, action
            assert field_errors(response)["status"][0].startswith("order cannot go from 'draft'")
        assert buyer_api.post(f"/orders/{draft.id}/return", json={"reason": "x"}).status_code == 409

    def test_submitting_an_empty_order_names_the_lines(self, member_api):
        order_id = member_api.post("/orders", json={}).json["id"]
        response = member_api.post(f"/orders/{order_id}/submit")
        assert response.status_code == 422
        assert field_errors(response) == {"lines": ["an order needs at least one line"]}

    def test_a_suspended_member_cannot_submit(self, session, api_as, mailbox):
        member = make_member(session, adhesion_status="suspended")
        order = make_order(session, member=member, lines=[mailbox])
        response = api_as("member", member=member).post(f"/orders/{order.id}/submit")
        assert response.status_code == 422
        assert list(field_errors(response)) == ["member_id"]

    def test_return_for_changes(self, session, member, buyer_api, mailbox):
        order = make_order(session, member=member, lines=[mailbox], status=S.SUBMITTED)
        assert buyer_api.post(f"/orders/{order.id}/return", json={}).status_code == 422
        response = buyer_api.post(f"/orders/{order.id}/return", json={"reason": "Quel site ?"})
        assert (response.json["status"], response.json["return_reason"]) == ("draft", "Quel site ?")

    def test_a_member_never_approves(self, session, member, member_api, mailbox):
        order = make_order(session, member=member, lines=[mailbox], status=S.SUBMITTED)
        assert member_api.post(f"/orders/{order.id}/approve").status_code == 403

    def test_cancel(self, session, member, member_api, mailbox):
        submitted = make_order(session, member=member, lines=[mailbox], status=S.SUBMITTED)
        assert member_api.post(f"/orders/{submitted.id}/cancel", json={}).status_code == 422
        cancelled = member_api.post(f"/orders/{submitted.id}/cancel", json={"reason": "Doublon"})
        assert (cancelled.status_code, cancelled.json["cancellation_reason"]) == (200, "Doublon")
        approved = make_order(session, member=member, lines=[mailbox], status=S.APPROVED)
        refused = member_api.post(f"/orders/{approved.id}/cancel", json={"reason": "Doublon"})
        assert (refused.status_code, list(field_errors(refused))) == (409, ["status"])

    def test_deliver_commission_and_close(self, session, buyer_api, mailbox, camera):
        order = make_order(session, lines=[(camera, 2), mailbox], status=S.ORDERED)
        cams, mail = order.lines
        today = today_in_paris().isoformat()
        too_many = buyer_api.post(
            f"/orders/{order.id}/lines/{cams.id}/deliveries",
            json={"quantity": "3", "delivered_on": today},
        )
        assert (too_many.status_code, list(field_errors(too_many))) == (422, ["quantity"])
        delivered = buyer_api.post(
            f"/orders/{order.id}/lines/{cams.id}/deliveries",
            json={"quantity": "2", "delivered_on": today},
        )
        assert delivered.status_code == 201
        assert delivered.json["status"] == "partly_delivered"
        assert delivered.json["lines"][0]["deliveries"][0]["quantity"] == "2.000"
        commissioned = buyer_api.post(
            f"/orders/{order.id}/lines/{mail.id}/commissioning", json={"commissioned_on": today}
        )
        assert commissioned.status_code == 200
        assert commissioned.json["status"] == "delivered"
        assert commissioned.json["lines"][1]["subscription_id"] is not None
        assert buyer_api.post(f"/orders/{order.id}/close").json["status"] == "closed"

    def test_no_commissioning_before_the_order_is_sent(self, session, buyer_api, mailbox):
        order = make_order(session, lines=[mailbox], status=S.APPROVED)
        response = buyer_api.post(
            f"/orders/{order.id}/lines/{order.lines[0].id}/commissioning",
            json={"commissioned_on": "2026-02-01"},
        )
        assert response.status_code == 409


class TestQuote:
    def test_the_member_downloads_its_quote(self, session, member, member_api, mailbox):
        order = make_order(session, member=member, lines=[mailbox])
        response = member_api.get(f"/orders/{order.id}/quote.pdf")
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert response.data.startswith(b"%PDF")
        assert f'filename="devis-{order.reference}.pdf"' in response.headers["Content-Disposition"]

    def test_refusals(self, session, member, member_api, mailbox):
        approved = make_order(session, member=member, lines=[mailbox], status=S.APPROVED)
        assert member_api.get(f"/orders/{approved.id}/quote.pdf").status_code == 409
        theirs = make_order(session, lines=[mailbox])
        assert member_api.get(f"/orders/{theirs.id}/quote.pdf").status_code == 404


# --- Purchase orders and supplier invoices ----------------------------------------------


@pytest.fixture
def sent_po(session, camera):
    return make_order(session, lines=[(camera, 2)], status=S.ORDERED).purchase_orders[0]


def invoice_body(po, *, number="F-1", quantity="2", amount="960.00"):
    vat = (Decimal(amount) * Decimal("0.2")).quantize(Decimal("0.01"))
    return {
        "purchase_order_id": po.id,
        "invoice_number": number,
        "invoice_date": "2026-02-10",
        "lines": [
            {
                "purchase_order_line_id": po.lines[0].id,
                "quantity": quantity,
                "unit_cost": "480.00",
                "amount": amount,
                "vat_rate": "0.2000",
            }
        ],
        "total_excl_vat": amount,
        "total_vat": str(vat),
        "total_incl_vat": str(Decimal(amount) + vat),
    }


class TestPurchaseOrders:
    def test_staff_list_and_read_them(self, api_as, sent_po):
        api = api_as("finance")
        page = api.get("/purchase-orders?status=sent")
        assert [po["number"] for po in page.json["items"]] == [sent_po.number]
        one = api.get(f"/purchase-orders/{sent_po.id}")
        assert (one.json["total_cost"], one.json["lines"][0]["invoiced_quantity"]) == (
            "960.00",
            "0.000",
        )
        assert api.get("/purchase-orders/999999").status_code == 404

    def test_members_are_refused(self, member_api, sent_po):
        assert member_api.get("/purchase-orders").status_code == 403
        assert member_api.get(f"/purchase-orders/{sent_po.id}").status_code == 403


class TestSupplierInvoices:
    def test_record_a_matched_invoice(self, buyer_api, sent_po):
        response = buyer_api.post("/supplier-invoices", json=invoice_body(sent_po))
        assert response.status_code == 201
        assert (response.json["status"], response.json["total_incl_vat"]) == ("matched", "1152.00")
        assert buyer_api.get(f"/purchase-orders/{sent_po.id}").json["status"] == "invoiced"

    def test_refusals(self, buyer_api, sent_po):
        bad_totals = invoice_body(sent_po) | {"total_excl_vat": "900.00"}
        response = buyer_api.post("/supplier-invoices", json=bad_totals)
        assert response.status_code == 422
        assert set(field_errors(response)) == {"total_excl_vat", "total_incl_vat"}
        assert buyer_api.post("/supplier-invoices", json=invoice_body(sent_po)).status_code == 201
        duplicate = buyer_api.post(
            "/supplier-invoices", json=invoice_body(sent_po, quantity="1", amount="480.00")
        )
        assert (duplicate.status_code, list(field_errors(duplicate))) == (409, ["invoice_number"])
        missing = buyer_api.post("/supplier-invoices", json={"purchase_order_id": sent_po.id})
        assert missing.status_code == 422
        assert {"invoice_number", "invoice_date", "lines", "total_excl_vat"} <= set(
            field_errors(missing)
        )

    def test_list_get_accept_and_reject(self, session, api_as, buyer_api, sent_po):
        flagged = buyer_api.post(
            "/supplier-invoices", json=invoice_body(sent_po, quantity="3", amount="1440.00")
        ).json
        assert flagged["status"] == "mismatch"
        assert flagged["lines"][0]["mismatches"] == [
            "over-invoiced: 3 invoiced in all for 2 ordered"
        ]
        listed = api_as("auditor").get("/supplier-invoices?status=mismatch")
        assert [i["id"] for i in listed.json["items"]] == [flagged["id"]]
        assert (
            api_as("auditor").get(f"/supplier-invoices/{flagged['id']}").json["invoice_number"]
            == "F-1"
        )
        assert buyer_api.get("/supplier-invoices/999999").status_code == 404
        bad_filter = buyer_api.get("/supplier-invoices?status=paid&purchase_order_id=99999999999")
        assert bad_filter.status_code == 422
        assert set(bad_filter.json["errors"]["query"]) == {"status", "purchase_order_id"}

        assert (
            buyer_api.post(f"/supplier-invoices/{flagged['id']}/accept", json={}).status_code == 422
        )
        rejected = buyer_api.post(
            f"/supplier-invoices/{flagged['id']}/reject", json={"reason": "Quantité erronée"}
        )
        assert (rejected.status_code, rejected.json["status"]) == (200, "rejected")
        again = buyer_api.post(f"/supplier-invoices/{flagged['id']}/accept", json={"reason": "x"})
        assert again.status_code == 409

        matched = buyer_api.post(
            "/supplier-invoices",
            json=invoice_body(sent_po, number="F-0", quantity="1", amount="480.00"),
        ).json
        assert matched["status"] == "matched"
        refused = buyer_api.post(f"/supplier-invoices/{matched['id']}/reject", json={"reason": "x"})
        assert (refused.status_code, list(field_errors(refused))) == (409, ["status"])

        second = buyer_api.post(
            "/supplier-invoices", json=invoice_body(sent_po, number="F-2", amount="980.00")
        ).json
        accepted = buyer_api.post(
            f"/supplier-invoices/{second['id']}/accept", json={"reason": "Frais de port"}
        )
        assert (accepted.json["status"], accepted.json["decision_reason"]) == (
            "accepted",
            "Frais de port",
        )

    def test_finance_reads_but_does_not_record(self, api_as, sent_po):
        assert (
            api_as("finance").post("/supplier-invoices", json=invoice_body(sent_po)).status_code
            == 403
        )


# --- Subscriptions ----------------------------------------------------------------------


@pytest.fixture
def subscription(session, member, mailbox):
    order = make_order(
        session,
        member=member,
        lines=[(mailbox, 2)],
        status=S.DELIVERED,
        delivered_on=date(2026, 2, 1),
    )
    return order.lines[0].subscription


class TestSubscriptions:
    def test_a_member_sees_its_own_without_costs(self, session, member_api, subscription, mailbox):
        make_order(session, lines=[mailbox], status=S.DELIVERED)
        page = member_api.get("/subscriptions")
        assert [s["id"] for s in page.json["items"]] == [subscription.id]
        one = member_api.get(f"/subscriptions/{subscription.id}").json
        assert (one["sku"], one["unit_price"], one["billing_period"], one["start_date"]) == (
            "MC-MAIL",
            "3.37",
            "monthly",
            "2026-02-01",
        )
        assert one["quantities"] == [{"effective_from": "2026-02-01", "quantity": "2.000"}]
        assert "unit_cost" not in one

    def test_a_bad_filter_names_the_field(self, member_api):
        response = member_api.get("/subscriptions?active_on=soon")
        assert response.status_code == 422
        assert list(response.json["errors"]["query"]) == ["active_on"]

    def test_another_members_subscription_is_not_found(self, session, api_as, subscription):
        outsider = api_as("member", member=make_member(session))
        assert outsider.get(f"/subscriptions/{subscription.id}").status_code == 404
        assert outsider.get("/subscriptions").json["items"] == []

    def test_terminate(self, buyer_api, subscription):
        early = buyer_api.post(
            f"/subscriptions/{subscription.id}/terminate", json={"end_date": "2026-01-01"}
        )
        assert (early.status_code, list(field_errors(early))) == (422, ["end_date"])
        response = buyer_api.post(
            f"/subscriptions/{subscription.id}/terminate", json={"end_date": "2026-06-30"}
        )
        assert (response.status_code, response.json["end_date"]) == (200, "2026-06-30")
        again = buyer_api.post(
            f"/subscriptions/{subscription.id}/terminate", json={"end_date": "2026-07-31"}
        )
        assert again.status_code == 409

    def test_change_the_quantity(self, buyer_api, member_api, subscription):
        path = f"/subscriptions/{subscription.id}/quantity-changes"
        response = buyer_api.post(path, json={"quantity": "5", "effective_from": "2026-03-01"})
        assert response.status_code == 200
        assert response.json["quantities"][-1] == {
            "effective_from": "2026-03-01",
            "quantity": "5.000",
        }
        refused = buyer_api.post(path, json={"quantity": "5", "effective_from": "2020-01-01"})
        assert (refused.status_code, list(field_errors(refused))) == (422, ["effective_from"])
        assert (
            member_api.post(
                path, json={"quantity": "6", "effective_from": "2026-04-01"}
            ).status_code
            == 403
        )


def test_more_units_than_the_lot_ceiling_takes_are_refused_with_the_figures(
    session, member, buyer_api
):
    lot = make_lot(session, yearly_ceiling="100.00")
    item = make_product(session, sku="MC-BOX", lot=lot, cost="3.20")  # 2 x 3,20 x 12 = 76,80
    order = make_order(session, member=member, lines=[(item, 2)], status=S.DELIVERED)
    path = f"/subscriptions/{order.lines[0].subscription.id}/quantity-changes"

    refused = buyer_api.post(path, json={"quantity": "3", "effective_from": "2026-03-01"})

    assert refused.status_code == 409
    [message] = field_errors(refused)["quantity"]
    assert message.startswith(f"{lot.reference}: 1 more MC-BOX commits 38.40 excl. VAT")
    assert buyer_api.get(path.removesuffix("/quantity-changes")).json["quantities"] == [
        {"effective_from": "2026-02-01", "quantity": "2.000"}
    ]


def test_the_whole_path_through_the_api(session, member, member_api, buyer_api, camera):
    """A member orders, the centre approves, sends, delivers, books the invoice, closes."""
    order = member_api.post("/orders", json={"lines": [{"sku": "VID-CAM", "quantity": "2"}]}).json
    assert member_api.post(f"/orders/{order['id']}/submit").status_code == 200
    approved = buyer_api.post(f"/orders/{order['id']}/approve").json
    buyer_api.post(f"/orders/{order['id']}/send")
    today = today_in_paris().isoformat()
    line_id = approved["lines"][0]["id"]
    buyer_api.post(
        f"/orders/{order['id']}/lines/{line_id}/deliveries",
        json={"quantity": "2", "delivered_on": today},
    )
    purchase_order = session.get(PurchaseOrder, approved["purchase_orders"][0]["id"])
    invoice_in_full(session, purchase_order, invoice_date=today_in_paris())
    assert buyer_api.get(f"/purchase-orders/{purchase_order.id}").json["status"] == "invoiced"
    closed = buyer_api.post(f"/orders/{order['id']}/close")
    assert closed.json["status"] == "closed"
