"""Billing settings and invoices for tests, produced through the real services."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

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


def make_issued_invoice(
    session: Session,
    *,
    member: Member | None = None,
    price: str = "120.00",
    quantity: int = 2,
    issue_date: date = ISSUE_DATE,
) -> Invoice:
    """An issued invoice for a delivered one-off wholesaler item (quantity x price)."""
    member = member or make_member(session)
    product = make_product(session, billing=Billing.ONE_OFF, cost="100.00", price=price)
    make_order(session, member=member, lines=[(product, quantity)], status="delivered")
    (invoice,) = run.invoice_member(
        session,
        member.id,
        run.periods.month(issue_date.year, issue_date.month),
        settings=billing_settings(),
        issued_by=None,
        issue_date=issue_date,
    )
    return invoice


__all__ = ["ISSUE_DATE", "Decimal", "billing_settings", "make_issued_invoice"]
