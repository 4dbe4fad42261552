"""The billing API: one happy path and one refusal per endpoint, roles and tenant isolation.

Access rules of every route (anonymous 401, roles outside the rule 403) are walked by
``test_access_rules.py``; here, the answers of the routes themselves.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import object_session

from purchasing.billing.models import BillingRun
from purchasing.catalog.pricing import Billing
from purchasing.fields import today_in_paris
from purchasing.orders.models import OrderLine
from tests.factories import make_member, make_order, make_product
from tests.factories.billing import make_issued_invoice


def session_order_line(invoice) -> OrderLine:
    """The order line the invoice's one line bills."""
    [line] = invoice.lines
    return object_session(invoice).get(OrderLine, line.order_line_id)


def field_errors(response, location="json") -> dict:
    return response.json["errors"][location]


@pytest.fixture
def member(session):
    return make_member(session, name="Commune de Godewaersvelde")


@pytest.fixture
def member_api(api_as, member):
    return api_as("member", member=member)


@pytest.fixture
def finance_api(api_as):
    return api_as("finance")


@pytest.fixture
def invoice(session, member):
    """The member's FA-2026-000001 of 2026-03-02: 2 x 120.00 + 20 % = 288.00."""
    return make_issued_invoice(session, member=member)


@pytest.fixture
def others_invoice(session, invoice):
    return make_issued_invoice(session)


class TestListInvoices:
    def test_a_member_user_lists_its_own_invoices(self, member_api, invoice, others_invoice):
        response = member_api.get("/invoices")
        assert response.status_code == 200
        assert response.json["total"] == 1
        [item] = response.json["items"]
        assert (item["number"], item["total_gross"], item["outstanding"]) == (
            "FA-2026-000001",
            "288.00",
            "288.00",
        )
        assert (item["payment_status"], item["pdf_sha256"]) == ("open", invoice.document.pdf_sha256)
        assert "lines" not in item
        # Asking for another member's invoices gives nothing, not theirs.
        asked = member_api.get(f"/invoices?member_id={others_invoice.member_id}")
        assert asked.json["total"] == 0

    def test_staff_filter_by_member_kind_and_status(
        self, session, finance_api, member, invoice, others_invoice
    ):
        response = finance_api.get(f"/invoices?member_id={member.id}&kind=invoice")
        assert [item["id"] for item in response.json["items"]] == [invoice.id]
        everyone = finance_api.get("/invoices?payment_status=open")
        assert {item["id"] for item in everyone.json["items"]} == {invoice.id, others_invoice.id}

    def test_a_bad_filter_names_the_field(self, finance_api):
        response = finance_api.get("/invoices?kind=quote&payment_status=late")
        assert response.status_code == 422
        assert set(field_errors(response, "query")) == {"kind", "payment_status"}


class TestOneInvoice:
    def test_a_member_user_reads_its_invoice_with_lines_and_vat(self, member_api, invoice):
        response = member_api.get(f"/invoices/{invoice.id}")
        assert response.status_code == 200
        body = response.json
        assert body["number"] == "FA-2026-000001"
        assert (body["issue_date"], body["due_date"]) == ("2026-03-02", "2026-04-01")
        [line] = body["lines"]
        assert (line["quantity"], line["unit_price"], line["net_amount"]) == (
            "2.000",
            "120.00",
            "240.00",
        )
        assert body["vat"] == [{"rate": "0.2000", "base": "240.00", "amount": "48.00"}]
        assert body["payments"] == []

    def test_each_line_shows_its_deliberation_and_market(self, member_api, invoice):
        """As the annex of the PDF cites them, from the order line the invoice line bills."""
        [line] = member_api.get(f"/invoices/{invoice.id}").json["lines"]
        order_line = session_order_line(invoice)
        assert (line["deliberation_reference"], line["deliberation_date"]) == (
            "T-2024-50",
            "2024-12-10",
        )
        assert line["market_reference"] == order_line.market_reference
        assert line["market_reference"].startswith("MAR-TEST lot ")

    def test_the_line_legal_basis_is_read_only_in_the_openapi_document(self, client):
        schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
        properties = schemas["InvoiceLine"]["properties"]
        for name in ("deliberation_reference", "deliberation_date", "market_reference"):
            assert properties[name]["readOnly"] is True, name

    def test_another_members_invoice_is_not_found(self, member_api, others_invoice):
        response = member_api.get(f"/invoices/{others_invoice.id}")
        assert response.status_code == 404
        assert response.json["message"] == f"no invoice with id {others_invoice.id}"


class TestDocuments:
    def test_finance_downloads_the_pdf_and_xml_as_stored(self, finance_api, invoice):
        stored = invoice.document
        first = finance_api.get(f"/invoices/{invoice.id}/pdf")
        assert first.status_code == 200
        assert first.mimetype == "application/pdf"
        assert first.data == stored.pdf
        assert first.headers["X-Content-SHA256"] == stored.pdf_sha256
        assert hashlib.sha256(first.data).hexdigest() == stored.pdf_sha256
        assert 'filename="FA-2026-000001.pdf"' in first.headers["Content-Disposition"]
        # Served as stored, never re-rendered: the same bytes every time.
        assert finance_api.get(f"/invoices/{invoice.id}/pdf").data == first.data
        xml = finance_api.get(f"/invoices/{invoice.id}/xml")
        assert (xml.status_code, xml.mimetype, xml.data) == (200, "application/xml", stored.xml)

    def test_a_member_user_downloads_its_own_documents_only(
        self, member_api, invoice, others_invoice
    ):
        assert member_api.get(f"/invoices/{invoice.id}/pdf").data == invoice.document.pdf
        assert member_api.get(f"/invoices/{invoice.id}/xml").data == invoice.document.xml
        for document in ("pdf", "xml"):
            response = member_api.get(f"/invoices/{others_invoice.id}/{document}")
            assert response.status_code == 404, document


class TestCreditNotes:
    def test_finance_credits_part_of_a_line(self, finance_api, invoice):
        response = finance_api.post(
            f"/invoices/{invoice.id}/credit-notes",
            json={
                "reason": "Une licence non livrée",
                "lines": [{"invoice_line_id": invoice.lines[0].id, "amount": "120.00"}],
            },
        )
        assert response.status_code == 201
        note = response.json
        assert (note["kind"], note["number"], note["corrected_invoice_id"]) == (
            "credit_note",
            "AV-2026-000001",
            invoice.id,
        )
        assert (note["amount_due"], note["reason"]) == ("144.00", "Une licence non livrée")
        corrected = finance_api.get(f"/invoices/{invoice.id}").json
        assert (corrected["amount_credited"], corrected["outstanding"]) == ("144.00", "144.00")

    def test_a_member_user_may_not_credit(self, member_api, invoice):
        response = member_api.post(f"/invoices/{invoice.id}/credit-notes", json={"reason": "x"})
        assert response.status_code == 403

    @pytest.mark.parametrize(
        ("amount", "errors"),
        [
            ("12.345", {"lines": {"0": {"amount": ["at most 2 decimal places"]}}}),
            ("240.01", {"lines[0].amount": ["at most 240.00 can still be credited on line 1"]}),
        ],
        ids=["three-decimals", "beyond-the-line"],
    )
    def test_a_bad_amount_names_the_field(self, finance_api, invoice, amount, errors):
        response = finance_api.post(
            f"/invoices/{invoice.id}/credit-notes",
            json={
                "reason": "Erreur",
                "lines": [{"invoice_line_id": invoice.lines[0].id, "amount": amount}],
            },
        )
        assert response.status_code == 422
        assert field_errors(response) == errors
        assert finance_api.get("/invoices?kind=credit_note").json["total"] == 0

    def test_a_credit_note_is_not_credited(self, finance_api, invoice):
        note = finance_api.post(f"/invoices/{invoice.id}/credit-notes", json={"reason": "Annulée"})
        response = finance_api.post(
            f"/invoices/{note.json['id']}/credit-notes", json={"reason": "Encore"}
        )
        assert response.status_code == 409
        assert list(field_errors(response)) == ["invoice_id"]


class TestPayments:
    def test_finance_records_a_partial_payment(self, finance_api, invoice):
        response = finance_api.post(
            f"/invoices/{invoice.id}/payments",
            json={"amount": "100.00", "paid_on": "2026-03-20", "reference": "Mandat 412"},
        )
        assert response.status_code == 201
        body = response.json
        assert (body["payment_status"], body["amount_paid"], body["outstanding"]) == (
            "partly_paid",
            "100.00",
            "188.00",
        )
        assert body["payments"] == [
            {
                "id": body["payments"][0]["id"],
                "amount": "100.00",
                "paid_on": "2026-03-20",
                "reference": "Mandat 412",
            }
        ]

    def test_an_overpayment_names_the_amount(self, finance_api, invoice):
        response = finance_api.post(
            f"/invoices/{invoice.id}/payments", json={"amount": "288.01", "paid_on": "2026-03-20"}
        )
        assert response.status_code == 422
        assert field_errors(response) == {
            "amount": ["288.01 is more than the 288.00 still due on FA-2026-000001"]
        }
        assert finance_api.get(f"/invoices/{invoice.id}").json["payments"] == []


class TestReceivables:
    def test_an_auditor_reads_the_receivables_on_a_day(self, api_as, invoice, others_invoice):
        response = api_as("auditor").get("/receivables?as_of=2026-05-01")
        assert response.status_code == 200
        body = response.json
        assert body["as_of"] == "2026-05-01"
        assert [(i["invoice"]["id"], i["days_overdue"], i["bucket"]) for i in body["items"]] == [
            (invoice.id, 30, "1_30"),
            (others_invoice.id, 30, "1_30"),
        ]
        assert body["totals"] == {
            "not_due": "0.00",
            "1_30": "576.00",
            "31_60": "0.00",
            "61_90": "0.00",
            "over_90": "0.00",
        }
        assert body["total"] == "576.00"

    def test_a_member_user_may_not_read_them(self, member_api, invoice):
        assert member_api.get("/receivables").status_code == 403


class TestBillingRuns:
    @pytest.fixture
    def delivered(self, session, member):
        product = make_product(session, billing=Billing.ONE_OFF, cost="40.00", price="42.50")
        return make_order(session, member=member, lines=[(product, 4)], status="delivered")

    def test_finance_runs_a_month_and_running_it_again_issues_nothing(
        self, finance_api, member, delivered
    ):
        first = finance_api.post("/billing-runs", json={"period": "2026-02"})
        assert first.status_code == 200
        [issued] = first.json["issued"]
        year = today_in_paris().year
        assert (issued["number"], issued["member_id"], issued["total_gross"]) == (
            f"FA-{year}-000001",
            member.id,
            "204.00",  # 4 x 42.50 + 20 %
        )
        assert first.json["members_seen"] == 1
        assert (first.json["run"]["period"], first.json["run"]["status"]) == (
            "2026-02",
            "completed",
        )

        again = finance_api.post("/billing-runs", json={"period": "2026-02"})
        assert again.status_code == 200
        assert again.json["issued"] == []
        assert (again.json["run"]["attempts"], again.json["run"]["invoices_issued"]) == (2, 1)

    def test_a_bad_period_names_the_field_and_runs_nothing(self, session, finance_api, delivered):
        response = finance_api.post("/billing-runs", json={"period": "2026-13"})
        assert response.status_code == 422
        assert field_errors(response) == {"period": ["a month written YYYY-MM"]}
        assert session.scalar(select(func.count()).select_from(BillingRun)) == 0
        assert finance_api.get("/invoices").json["total"] == 0

    def test_a_month_after_next_is_refused(self, session, finance_api, delivered):
        later = today_in_paris().replace(day=1) + timedelta(days=62)  # the month after next
        response = finance_api.post("/billing-runs", json={"period": f"{later:%Y-%m}"})
        assert response.status_code == 422
        [message] = field_errors(response)["period"]
        assert "too far ahead" in message
        assert session.scalar(select(func.count()).select_from(BillingRun)) == 0


def test_the_billing_api_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in (
        "/api/v1/invoices",
        "/api/v1/invoices/{invoice_id}",
        "/api/v1/invoices/{invoice_id}/credit-notes",
        "/api/v1/invoices/{invoice_id}/payments",
        "/api/v1/receivables",
        "/api/v1/billing-runs",
    ):
        assert path in paths, path
    pdf = paths["/api/v1/invoices/{invoice_id}/pdf"]["get"]["responses"]["200"]
    assert pdf["content"]["application/pdf"]["schema"] == {"type": "string", "format": "binary"}
    assert "X-Content-SHA256" in pdf["headers"]
