"""Billing settings and invoices for tests, produced through the real services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from purchasing.billing import run
from purchasing.billing.models import Invoice
from purchasing.billing.settings import BillingSettings, settings_from_config
from purchasing.catalog.pricing import Billing
from purchasing.config import load_config
from purchasing.members.models import Member
from tests.factories.catalog import make_product
from tests.factories.members import make_member
from tests.factories.orders import make_order

#: The issue date of factory invoices.
ISSUE_DATE = date(2026, 3, 2)


def billing_settings() -> BillingSettings:
    return settings_from_config(load_config())


LineSpec = tuple[str, int | str] | tuple[str, int | str, str]


def make_issued_invoice(
    session: Session,
    *,
    member: Member | None = None,
    lines: Sequence[LineSpec] | None = None,
    price: str = "120.00",
    quantity: int = 2,
    issue_date: date = ISSUE_DATE,
    **order_kw: Any,
) -> Invoice:
    """An issued invoice for delivered one-off wholesaler items, delivered on 2026-02-01.

    ``lines`` are ``(price, quantity)`` or ``(price, quantity, vat_rate)``; by default one
    line of ``quantity`` x ``price`` at 20 %. Other keywords go to the order
    (``engagement_number``).
    """
    member = member or make_member(session)
    order_lines = []
    for price_of_line, quantity_of_line, *rate in lines or [(price, quantity)]:
        product = make_product(
            session,
            billing=Billing.ONE_OFF,
            cost="100.00",
            price=price_of_line,
            vat_rate=Decimal(rate[0] if rate else "0.2000"),
        )
        order_lines.append((product, quantity_of_line))
    make_order(session, member=member, lines=order_lines, status="delivered", **order_kw)
    (invoice,) = run.invoice_member(
        session,
        member.id,
        run.periods.month(issue_date.year, issue_date.month),
        settings=billing_settings(),
        issued_by=None,
        issue_date=issue_date,
    )
    return invoice


__all__ = ["ISSUE_DATE", "billing_settings", "make_issued_invoice"]
