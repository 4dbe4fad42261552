"""Pricing rules of the catalogue, as pure functions: no database, no Flask.

A product's price lives in *price versions*. Each version applies over a period of days,
:class:`Validity`, from ``valid_from`` to ``valid_to`` **inclusive**, as a printed price list
reads ("tarif du 01/01/2025 au 31/12/2025"); ``valid_to`` None means open-ended. Versions of
one product never overlap, so on any day at most one is in force.

The sale price of a version is either set explicitly or derived from the supplier cost and
the resale margin rate, rounded half-up to the cent by :func:`purchasing.money.apply_margin`.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from purchasing.money import apply_margin

#: VAT rates in force in metropolitan France (CGI art. 278 ff.); 0 for exempt items.
FRENCH_VAT_RATES = frozenset(
    {Decimal("0.2000"), Decimal("0.1000"), Decimal("0.0550"), Decimal("0.0210"), Decimal("0")}
)


class PurchaseMode(enum.StrEnum):
    """How the centre buys a family's items (Code de la commande publique, L2113-2 ff.)."""

    #: The centre buys from the supplier and resells to the member: both sides in its books.
    WHOLESALER = "wholesaler"
    #: The member contracts and pays the supplier directly under the centre's framework
    #: market; the centre records the order but never invoices it.
    INTERMEDIARY = "intermediary"


class Billing(enum.StrEnum):
    """How often an item is billed."""

    ONE_OFF = "one_off"
    MONTHLY = "monthly"
    YEARLY = "yearly"

    @property
    def is_recurring(self) -> bool:
        return self is not Billing.ONE_OFF


@dataclass(frozen=True)
class Validity:
    """The days a price version applies: ``valid_from`` to ``valid_to``, both included."""

    valid_from: date
    valid_to: date | None = None

    def __post_init__(self) -> None:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def overlaps(self, other: Validity) -> bool:
        return (self.valid_to is None or other.valid_from <= self.valid_to) and (
            other.valid_to is None or self.valid_from <= other.valid_to
        )

    def __str__(self) -> str:
        if self.valid_to is None:
            return f"from {self.valid_from.isoformat()}, open-ended"
        return f"from {self.valid_from.isoformat()} to {self.valid_to.isoformat()}"


def overlapping_pairs(periods: Sequence[Validity]) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)`` of ``periods`` that overlap, ``periods[i]`` starting first.

    Sorted by start, any overlap shows between neighbours (if an earlier period reaches a
    later one, it reaches the one in between), so checking neighbours finds every faulty
    set of versions and names one culprit pair per clash.
    """
    order = sorted(range(len(periods)), key=lambda i: periods[i].valid_from)
    return [
        (first, second)
        for first, second in itertools.pairwise(order)
        if periods[first].overlaps(periods[second])
    ]


@dataclass(frozen=True)
class PriceTerms:
    """The amounts of one price version; ``None`` prices are derived from the cost."""

    supplier_cost: Decimal
    sale_price: Decimal | None = None
    setup_fee_cost: Decimal | None = None
    setup_fee_price: Decimal | None = None


def effective_sale_price(terms: PriceTerms, margin_rate: Decimal) -> Decimal:
    """The explicit sale price, or the supplier cost plus the margin, half-up to the cent."""
    if terms.sale_price is not None:
        return terms.sale_price
    return apply_margin(terms.supplier_cost, margin_rate)


def effective_setup_fee_price(terms: PriceTerms, margin_rate: Decimal) -> Decimal | None:
    """The set-up fee the member pays, derived like the sale price; None without a fee."""
    if terms.setup_fee_price is not None:
        return terms.setup_fee_price
    if terms.setup_fee_cost is None:
        return None
    return apply_margin(terms.setup_fee_cost, margin_rate)


def price_problems(
    terms: PriceTerms, *, purchase_mode: PurchaseMode, billing: Billing
) -> dict[str, str]:
    """What is wrong with ``terms`` for an item of this family mode and billing, by field.

    - a set-up fee belongs to recurring items only (a one-off item's price includes it);
    - a set-up fee price without its cost cannot be checked against it;
    - a wholesaler resells: never below its cost, the centre's budget would bear the loss;
    - an intermediary family's member pays the supplier the market price itself, so an
      explicit sale price other than the cost would misstate what the member pays.
    """
    problems: dict[str, str] = {}
    has_setup_fee = terms.setup_fee_cost is not None or terms.setup_fee_price is not None
    if has_setup_fee and not billing.is_recurring:
        field = "setup_fee_cost" if terms.setup_fee_cost is not None else "setup_fee_price"
        problems[field] = (
            "a set-up fee applies to recurring items only; a one-off price includes it"
        )
    if terms.setup_fee_price is not None and terms.setup_fee_cost is None:
        problems["setup_fee_price"] = "a set-up fee price needs its supplier cost (setup_fee_cost)"

    pairs = [("sale_price", terms.sale_price, "supplier_cost", terms.supplier_cost)]
    if terms.setup_fee_cost is not None:
        pairs.append(
            ("setup_fee_price", terms.setup_fee_price, "setup_fee_cost", terms.setup_fee_cost)
        )
    for price_field, price, cost_field, cost in pairs:
        if price is None or price_field in problems:
            continue
        if purchase_mode is PurchaseMode.WHOLESALER and price < cost:
            problems[price_field] = (
                f"{price} is below the {cost_field} {cost}: "
                "a wholesaler family never resells at a loss"
            )
        elif purchase_mode is PurchaseMode.INTERMEDIARY and price != cost:
            problems[price_field] = (
                f"{price} differs from the {cost_field} {cost}: the member of an intermediary "
                "family pays the supplier the market price; leave it out"
            )
    return problems
