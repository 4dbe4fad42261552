"""Pure rules of the orders domain: document totals, matching, quantity history, quotes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from purchasing.catalog.pricing import Billing, PurchaseMode
from purchasing.orders.models import OrderLine, QuantitySegment, quantity_segments
from purchasing.orders.purchase_orders import line_mismatches
from purchasing.orders.quote import totals_by_billing
from purchasing.totals import DocumentTotals, VatBreakdown, document_totals

D = Decimal


class TestDocumentTotals:
    def test_vat_is_computed_per_rate_on_the_sum_of_the_line_amounts(self):
        # Per line, 0.03 x 20 % would be 0.01 three times; on the sum, 0.09 x 20 % = 0.02.
        totals = document_totals(
            [(D("0.03"), D("0.2")), (D("0.03"), D("0.2")), (D("0.03"), D("0.2"))]
        )
        assert totals == DocumentTotals(
            total_excl_vat=D("0.09"),
            vat=(VatBreakdown(rate=D("0.2000"), base=D("0.09"), vat=D("0.02")),),
            total_vat=D("0.02"),
            total_incl_vat=D("0.11"),
        )

    def test_one_breakdown_per_rate_highest_first_and_parts_add_up(self):
        totals = document_totals(
            [
                (D("100.00"), D("0.0550")),
                (D("1234.56"), D("0.2000")),
                (D("10.05"), D("0.1000")),
                (D("0.10"), D("0.2000")),
            ]
        )
        assert [(p.rate, p.base, p.vat) for p in totals.vat] == [
            (D("0.2000"), D("1234.66"), D("246.93")),  # 246.932 -> 246.93
            (D("0.1000"), D("10.05"), D("1.01")),  # 1.005 half-up -> 1.01
            (D("0.0550"), D("100.00"), D("5.50")),
        ]
        assert totals.total_excl_vat == D("1344.71")
        assert totals.total_vat == D("253.44")
        assert totals.total_incl_vat == totals.total_excl_vat + totals.total_vat

    def test_no_lines_total_zero(self):
        assert document_totals([]) == DocumentTotals(D("0.00"), (), D("0.00"), D("0.00"))

    def test_a_line_amount_not_to_the_cent_is_refused(self):
        with pytest.raises(ValueError, match="not rounded to the cent"):
            document_totals([(D("1.005"), D("0.2"))])


def _line(
    billing: Billing,
    price: str,
    quantity: str,
    *,
    setup_fee: str | None = None,
    mode=PurchaseMode.WHOLESALER,
):
    return OrderLine(
        billing=billing,
        purchase_mode=mode,
        sale_price=D(price),
        quantity=D(quantity),
        vat_rate=D("0.2000"),
        setup_fee_price=D(setup_fee) if setup_fee else None,
    )


def test_quote_totals_keep_rhythms_apart_and_leave_intermediary_lines_out():
    lines = [
        _line(Billing.ONE_OFF, "1000.00", "1"),
        _line(Billing.MONTHLY, "3.37", "3", setup_fee="100.00"),
        _line(Billing.YEARLY, "18.97", "1"),
        _line(Billing.MONTHLY, "49.00", "2", mode=PurchaseMode.INTERMEDIARY),
    ]
    blocks = {block.billing: block.totals for block in totals_by_billing(lines)}
    assert set(blocks) == {"one_off", "monthly", "yearly"}
    assert blocks["one_off"].total_excl_vat == D("1300.00")  # with the set-up fee, 3 x 100
    assert blocks["monthly"].total_excl_vat == D("10.11")  # 3 x 3.37; not the telecom link
    assert blocks["yearly"].total_incl_vat == D("22.76")  # 18.97 + 3.79


class TestLineMismatches:
    ORDERED = {
        "ordered_quantity": D("10"),
        "ordered_unit_cost": D("12.50"),
        "ordered_vat_rate": D("0.2000"),
    }

    def test_an_invoice_line_as_ordered_matches(self):
        assert (
            line_mismatches(
                **self.ORDERED,
                quantity=D("4"),
                unit_cost=D("12.50"),
                amount=D("50.00"),
                vat_rate=D("0.2000"),
                invoiced_before=D("6"),
            )
            == []
        )

    def test_over_invoicing_is_counted_over_earlier_invoices(self):
        reasons = line_mismatches(
            **self.ORDERED,
            quantity=D("5"),
            unit_cost=D("12.50"),
            amount=D("62.50"),
            vat_rate=D("0.2000"),
            invoiced_before=D("6"),
        )
        assert reasons == [
            "over-invoiced: 11 invoiced in all (6 on earlier invoices) for 10 ordered"
        ]

    def test_each_disagreement_is_listed(self):
        reasons = line_mismatches(
            **self.ORDERED,
            quantity=D("2"),
            unit_cost=D("13.00"),
            amount=D("26.00"),
            vat_rate=D("0.1000"),
        )
        assert reasons == [
            "unit cost 13.00 differs from the ordered 12.50",
            "amount 26.00 differs from the expected 25.00 (2 x 12.50)",
            "VAT rate 0.1000 differs from the ordered 0.2000",
        ]

    def test_a_recurring_item_is_compared_period_by_period(self):
        terms = {**self.ORDERED, "unit_cost": D("12.50"), "vat_rate": D("0.2000")}
        # Invoicing the quantity in service month after month is no over-invoicing.
        assert line_mismatches(**terms, quantity=D("10"), amount=D("125.00"), recurring=True) == []
        assert line_mismatches(**terms, quantity=D("11"), amount=D("137.50"), recurring=True) == [
            "quantity 11 is more than the 10 in service"
        ]


class TestQuantitySegments:
    HISTORY = [(date(2026, 3, 1), D("2")), (date(2026, 3, 16), D("5"))]

    def test_a_month_with_a_change_splits_into_segments(self):
        segments = quantity_segments(
            self.HISTORY,
            start=date(2026, 3, 1),
            end=None,
            first=date(2026, 3, 1),
            last=date(2026, 3, 31),
        )
        assert segments == [
            QuantitySegment(date(2026, 3, 1), date(2026, 3, 15), D("2")),
            QuantitySegment(date(2026, 3, 16), date(2026, 3, 31), D("5")),
        ]

    def test_days_outside_the_subscription_are_left_out(self):
        segments = quantity_segments(
            self.HISTORY,
            start=date(2026, 3, 1),
            end=date(2026, 4, 10),
            first=date(2026, 2, 1),
            last=date(2026, 4, 30),
        )
        assert segments[0].first == date(2026, 3, 1)
        assert segments[-1] == QuantitySegment(date(2026, 3, 16), date(2026, 4, 10), D("5"))
        assert (
            quantity_segments(
                self.HISTORY,
                start=date(2026, 3, 1),
                end=None,
                first=date(2026, 1, 1),
                last=date(2026, 2, 28),
            )
            == []
        )
