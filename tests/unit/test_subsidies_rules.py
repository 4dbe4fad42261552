"""The pure rules of a programme: aid per line (rate, fixed, caps, rounding), member
eligibility, and how much grant money may be passed on to partners on a day."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from purchasing.members.models import MemberKind
from purchasing.money import round_cents
from purchasing.subsidies.rules import (
    AidKind,
    AidRule,
    MemberEligibility,
    aid_rule_problems,
    line_aid,
    reversible_on,
)

D = Decimal


def rate(value: str, **caps: str) -> AidRule:
    return AidRule(kind=AidKind.RATE, rate=D(value), **{k: D(v) for k, v in caps.items()})


def fixed(value: str, **caps: str) -> AidRule:
    return AidRule(
        kind=AidKind.FIXED_PER_UNIT, amount_per_unit=D(value), **{k: D(v) for k, v in caps.items()}
    )


class TestLineAid:
    @pytest.mark.parametrize(
        ("aid_rate", "gross", "expected"),
        [
            ("0.5000", "120.00", "60.00"),
            # 10.01 x 0.5 = 5.005: half-up gives 5.01 (banker's rounding 5.00).
            ("0.5000", "10.01", "5.01"),
            # 0.03 x 0.5 = 0.015 -> 0.02
            ("0.5000", "0.03", "0.02"),
            # 3.58 x 0.3333 = 1.193214 -> 1.19
            ("0.3333", "3.58", "1.19"),
            # 189.68 x 0.125 = 23.71 exactly
            ("0.1250", "189.68", "23.71"),
            ("1", "42.42", "42.42"),
        ],
    )
    def test_a_rate_of_the_line_amount_is_rounded_half_up_once(self, aid_rate, gross, expected):
        assert line_aid(rate(aid_rate), quantity=D(1), gross_amount=D(gross)) == D(expected)

    def test_the_cap_per_unit_counts_every_unit_billed(self):
        rule = rate("0.5000", cap_per_unit="100.00")
        # 50 % of 3 x 305.60 is 458.40, above 3 x 100.00.
        assert line_aid(rule, quantity=D(3), gross_amount=D("916.80")) == D("300.00")
        # Under the cap, the rate applies.
        assert line_aid(rule, quantity=D(3), gross_amount=D("56.91")) == D("28.46")

    def test_a_cap_per_unit_on_a_fractional_quantity_is_rounded_half_up(self):
        rule = rate("0.9000", cap_per_unit="33.33")
        # 1.5 x 33.33 = 49.995 -> 50.00, below 90 % of 100.00
        assert line_aid(rule, quantity=D("1.5"), gross_amount=D("100.00")) == D("50.00")

    def test_the_cap_per_line_bounds_the_aid_of_the_line(self):
        rule = rate("0.5000", cap_per_unit="100.00", cap_per_line="150.00")
        assert line_aid(rule, quantity=D(4), gross_amount=D("800.00")) == D("150.00")

    def test_a_fixed_amount_per_unit_times_the_quantity(self):
        assert line_aid(fixed("10.00"), quantity=D("2.5"), gross_amount=D("80.00")) == D("25.00")
        # 0.333 x 3 = 0.999 -> 1.00
        assert line_aid(fixed("0.33"), quantity=D("3.03"), gross_amount=D("9.00")) == D("1.00")
        assert line_aid(
            fixed("10.00", cap_per_line="15.00"), quantity=D(2), gross_amount=D("80.00")
        ) == D("15.00")

    def test_the_aid_never_exceeds_the_line_amount(self):
        assert line_aid(fixed("10.00"), quantity=D(3), gross_amount=D("12.00")) == D("12.00")

    @pytest.mark.parametrize(("quantity", "gross"), [("0", "10.00"), ("1", "0.00"), ("-1", "-5")])
    def test_a_line_of_nothing_gets_nothing(self, quantity, gross):
        assert line_aid(rate("0.5000"), quantity=D(quantity), gross_amount=D(gross)) == D("0.00")

    @given(
        aid_rate=st.decimals(min_value=D("0.0001"), max_value=D(1), places=4),
        gross=st.decimals(min_value=D("0.01"), max_value=D("99999.99"), places=2),
        quantity=st.decimals(min_value=D("0.001"), max_value=D(1000), places=3),
        cap=st.one_of(st.none(), st.decimals(min_value=D("0.01"), max_value=D(500), places=2)),
    )
    def test_the_aid_is_in_cents_between_nothing_and_the_line_amount(
        self, aid_rate, gross, quantity, cap
    ):
        rule = AidRule(kind=AidKind.RATE, rate=aid_rate, cap_per_unit=cap)
        aid = line_aid(rule, quantity=quantity, gross_amount=gross)
        assert aid == round_cents(aid)
        assert D(0) <= aid <= gross
        assert aid <= round_cents(gross * aid_rate)


class TestAidRuleProblems:
    def test_a_rate_rule_needs_its_rate_and_nothing_of_a_fixed_rule(self):
        assert aid_rule_problems({"aid_kind": AidKind.RATE, "aid_per_unit": D(5)}) == {
            "aid_rate": ["required when the aid is a rate of the line amount"],
            "aid_per_unit": ["only for a fixed amount per unit; the aid is a rate"],
        }

    def test_a_fixed_rule_is_its_own_cap_per_unit(self):
        problems = aid_rule_problems(
            {"aid_kind": AidKind.FIXED_PER_UNIT, "aid_per_unit": D(5), "aid_cap_per_unit": D(4)}
        )
        assert list(problems) == ["aid_cap_per_unit"]

    def test_rates_and_amounts_must_be_positive(self):
        problems = aid_rule_problems(
            {"aid_kind": AidKind.RATE, "aid_rate": D("1.5"), "aid_cap_per_line": D(0)}
        )
        assert problems == {
            "aid_rate": ["more than 0 and at most 1"],
            "aid_cap_per_line": ["more than 0"],
        }

    def test_a_complete_rule_has_no_problem(self):
        assert aid_rule_problems({"aid_kind": "rate", "aid_rate": D("0.5")}) == {}


class TestMemberEligibility:
    rule = MemberEligibility(kinds=frozenset({"commune"}), max_population=3499)

    @pytest.mark.parametrize(
        ("kind", "population", "admitted"),
        [
            (MemberKind.COMMUNE, 611, True),
            (MemberKind.COMMUNE, 3499, True),  # fewer than 3 500 inhabitants
            (MemberKind.COMMUNE, 3500, False),
            (MemberKind.EPCI, 611, False),
            ("commune", 0, True),
        ],
    )
    def test_kind_and_population_threshold_inclusive(self, kind, population, admitted):
        assert self.rule.admits(kind=kind, population=population) is admitted

    def test_without_threshold_any_population(self):
        rule = MemberEligibility(kinds=frozenset({"commune", "epci"}))
        assert rule.admits(kind=MemberKind.EPCI, population=1_465_278)


class TestReversibleOn:
    receipts = [(date(2024, 3, 15), D("173104.18")), (date(2024, 11, 22), D("211336.22"))]

    def test_only_money_received_by_that_day_can_be_passed_on(self):
        assert reversible_on(date(2024, 3, 14), receipts=self.receipts, reversals=[]) == D(0)
        assert reversible_on(date(2024, 4, 1), receipts=self.receipts, reversals=[]) == D(
            "173104.18"
        )
        assert reversible_on(date(2024, 12, 10), receipts=self.receipts, reversals=[]) == D(
            "384440.40"
        )

    def test_earlier_reversals_are_counted(self):
        reversals = [(date(2024, 4, 15), D("103089.20"))]
        assert reversible_on(date(2024, 12, 10), receipts=self.receipts, reversals=reversals) == (
            D("281351.20")
        )

    def test_a_back_dated_reversal_must_leave_every_later_one_covered(self):
        # Received 100 in January and 100 in June; 150 passed on in July.
        receipts = [(date(2024, 1, 10), D(100)), (date(2024, 6, 10), D(100))]
        reversals = [(date(2024, 7, 1), D(150))]
        # In February 100 was received: but after July only 50 is left of the 200.
        assert reversible_on(date(2024, 2, 1), receipts=receipts, reversals=reversals) == D(50)

    def test_never_below_nothing(self):
        reversals = [(date(2024, 1, 1), D(10))]
        assert reversible_on(date(2024, 1, 1), receipts=[], reversals=reversals) == D(0)
