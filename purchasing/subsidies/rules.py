"""The rules of a subsidy programme as pure functions: who is eligible, how much aid a line
gets, how much grant money may be passed on to partners.

Nothing here reads the database; the services feed these functions with the programme's
settings and the figures they locked. Amounts are rounded through :mod:`purchasing.money`
only, half-up to the cent.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from purchasing.money import ZERO, round_cents, to_decimal

__all__ = [
    "AidKind",
    "AidRule",
    "MemberEligibility",
    "aid_rule_problems",
    "line_aid",
    "reversible_on",
]


class AidKind(enum.StrEnum):
    #: A share of the line's amount excluding VAT: ``rate`` 0.5000 is half of it.
    RATE = "rate"
    #: A fixed amount per unit billed: ``amount_per_unit`` x quantity.
    FIXED_PER_UNIT = "fixed_per_unit"


@dataclass(frozen=True, slots=True, kw_only=True)
class AidRule:
    """How much aid one eligible invoice line gets, before the envelope is looked at.

    ``cap_per_unit`` (x quantity) and ``cap_per_line`` bound a rate rule; a fixed amount
    per unit is its own per-unit cap, so only ``cap_per_line`` applies to it. The aid is
    never more than the line's amount: the member never gets paid for buying.
    """

    kind: AidKind
    rate: Decimal | None = None
    amount_per_unit: Decimal | None = None
    cap_per_unit: Decimal | None = None
    cap_per_line: Decimal | None = None


def aid_rule_problems(values: Mapping[str, Any]) -> dict[str, list[str]]:
    """What is inconsistent in a rule given as the programme's columns, by field.

    ``values`` holds ``aid_kind``, ``aid_rate``, ``aid_per_unit``, ``aid_cap_per_unit``
    and ``aid_cap_per_line`` (missing ones count as None).
    """
    problems: dict[str, list[str]] = {}
    kind = values.get("aid_kind")
    rate, per_unit = values.get("aid_rate"), values.get("aid_per_unit")
    if kind == AidKind.RATE:
        if rate is None:
            problems["aid_rate"] = ["required when the aid is a rate of the line amount"]
        if per_unit is not None:
            problems["aid_per_unit"] = ["only for a fixed amount per unit; the aid is a rate"]
    elif kind == AidKind.FIXED_PER_UNIT:
        if per_unit is None:
            problems["aid_per_unit"] = ["required when the aid is a fixed amount per unit"]
        if rate is not None:
            problems["aid_rate"] = ["only for a rate; the aid is a fixed amount per unit"]
        if values.get("aid_cap_per_unit") is not None:
            problems["aid_cap_per_unit"] = [
                "a fixed amount per unit is its own cap per unit; use aid_per_unit"
            ]
    if rate is not None and not ZERO < rate <= 1:
        problems.setdefault("aid_rate", []).append("more than 0 and at most 1")
    for field in ("aid_per_unit", "aid_cap_per_unit", "aid_cap_per_line"):
        value = values.get(field)
        if value is not None and value <= 0:
            problems.setdefault(field, []).append("more than 0")
    return problems


def line_aid(rule: AidRule, *, quantity: Decimal, gross_amount: Decimal) -> Decimal:
    """The aid ``rule`` gives a line of ``quantity`` units and ``gross_amount`` excl. VAT.

    Each product is rounded once, half-up to the cent: the rate x the line amount, the
    fixed amount x the quantity, the cap per unit x the quantity. The smallest of the
    amount and its caps wins, and never more than the line amount itself. A line of no
    quantity or no amount gets nothing.
    """
    quantity, gross_amount = to_decimal(quantity), to_decimal(gross_amount)
    if quantity <= 0 or gross_amount <= 0:
        return ZERO
    if rule.kind is AidKind.RATE:
        aid = round_cents(gross_amount * rule.rate)
    else:
        aid = round_cents(rule.amount_per_unit * quantity)
    if rule.cap_per_unit is not None:
        aid = min(aid, round_cents(rule.cap_per_unit * quantity))
    if rule.cap_per_line is not None:
        aid = min(aid, rule.cap_per_line)
    return min(aid, gross_amount)


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberEligibility:
    """Which members a programme helps: some kinds, up to a population (inclusive).

    "Communes of fewer than 3 500 inhabitants" is ``kinds={"commune"}``,
    ``max_population=3499``. The member's kind and population are read when the aid is
    granted (the population is the one on record then).
    """

    kinds: frozenset[str]
    #: None: any population.
    max_population: int | None = None

    def admits(self, *, kind: str, population: int) -> bool:
        if kind not in self.kinds:
            return False
        return self.max_population is None or population <= self.max_population


def reversible_on(
    day: date,
    *,
    receipts: Iterable[tuple[date, Decimal]],
    reversals: Iterable[tuple[date, Decimal]],
) -> Decimal:
    """How much grant money may still be passed on to partners on ``day``.

    A reversal passes on money the funder has paid: on every day from ``day`` on, what
    was reversed up to that day must not exceed what was received up to that day. So a
    reversal dated before a tranche arrived cannot spend that tranche, and a reversal
    back-dated among later ones must leave each later one covered. Receipts and
    reversals are (date, amount) pairs; the answer is never below 0.
    """
    receipts, reversals = list(receipts), list(reversals)
    checkpoints = sorted({day} | {d for d, _ in receipts + reversals if d >= day})
    headroom = min(
        sum((amount for d, amount in receipts if d <= checkpoint), ZERO)
        - sum((amount for d, amount in reversals if d <= checkpoint), ZERO)
        for checkpoint in checkpoints
    )
    return max(headroom, ZERO)
