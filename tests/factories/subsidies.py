"""Subsidy programmes for tests, created through the real services, and what billing hands
to the aid interface (draft invoices, line requests)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from purchasing.billing.models import DocumentKind, Invoice
from purchasing.catalog.models import Product
from purchasing.members.models import Member, MemberKind
from purchasing.subsidies import services
from purchasing.subsidies.models import SubsidyProgramme
from purchasing.subsidies.rules import AidKind
from tests.factories.catalog import make_product

_seq = itertools.count(1)

#: The period of factory programmes: the year of the factory orders and invoices.
PERIOD_START = date(2026, 1, 1)
PERIOD_END = date(2026, 12, 31)
#: A day inside that period, to grant aid on.
AID_DATE = date(2026, 3, 2)
PARTNERS = (
    {"code": "CDG59", "name": "Centre de gestion du Nord", "share": Decimal("200.00")},
    {"code": "CDG62", "name": "Centre de gestion du Pas-de-Calais", "share": Decimal("200.00")},
)


def make_programme(
    session: Session,
    *,
    products: Sequence[Product] | None = None,
    envelope: Decimal | str = "600.00",
    partners: Sequence[Mapping[str, Any]] = PARTNERS,
    **overrides: Any,
) -> SubsidyProgramme:
    """A programme of 2026: 50 % of eligible lines, communes of at most 3 499 inhabitants.

    Its grant is the envelope (600.00 unless told) plus the partners' shares (two of
    200.00) unless ``grant_total`` is given; its product is a new eligible one unless
    ``products`` are given. Any other field of the programme is a keyword.
    """
    n = next(_seq)
    if products is None:
        products = [make_product(session, subsidy_eligible=True)]
    envelope = Decimal(envelope)
    data: dict[str, Any] = {
        "code": f"FEDER-TEST-{n}",
        "name": f"Programme test {n}",
        "funder": "Union européenne - FEDER",
        "period_start": PERIOD_START,
        "period_end": PERIOD_END,
        "envelope": envelope,
        "grant_total": envelope + sum((Decimal(p["share"]) for p in partners), Decimal(0)),
        "member_kinds": [MemberKind.COMMUNE],
        "max_population": 3499,
        "aid_kind": AidKind.RATE,
        "aid_rate": Decimal("0.5000"),
        "products": [product.sku for product in products],
        "partners": [dict(partner) for partner in partners],
    }
    data.update(overrides)
    data.setdefault("aid_label", f"{data['code']} Mairie connectée")
    return services.create_programme(session, data, actor=None)


def make_draft_invoice(
    session: Session, member: Member, *, corrects: Invoice | None = None
) -> Invoice:
    """A draft invoice of ``member`` (a credit note when it ``corrects`` an invoice), as
    billing has it when it asks for aid: the document exists, its lines are billing's."""
    invoice = Invoice(
        kind=DocumentKind.CREDIT_NOTE if corrects is not None else DocumentKind.INVOICE,
        series="AV" if corrects is not None else "FA",
        member_id=member.id,
        corrected_invoice_id=corrects.id if corrects is not None else None,
    )
    session.add(invoice)
    session.commit()
    return invoice


def aid_request(
    key: int,
    product: Product | None,
    gross_amount: Decimal | str,
    *,
    quantity: Decimal | str | int = 1,
    subsidy_eligible: bool = True,
) -> services.AidRequest:
    """One invoice line as billing describes it to :func:`services.allocate_aid`."""
    return services.AidRequest(
        key=key,
        product_id=product.id if product is not None else None,
        subsidy_eligible=subsidy_eligible,
        quantity=Decimal(str(quantity)),
        gross_amount=Decimal(gross_amount),
    )


__all__ = [
    "AID_DATE",
    "PARTNERS",
    "PERIOD_END",
    "PERIOD_START",
    "aid_request",
    "make_draft_invoice",
    "make_programme",
]
