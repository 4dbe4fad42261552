"""The quote (devis) of an order, as plain data, and its PDF.

:func:`build_quote` turns an order into frozen dataclasses; the PDF is rendered from
them alone (``invoices/templates/quote.html``), never from ORM objects. Amounts are the
order lines' frozen prices.

Totals follow :func:`purchasing.totals.document_totals`, and are given per billing
rhythm: adding a monthly price to a one-off price would mean nothing, so one-off amounts
(with the set-up fees of recurring items, charged once at commissioning) are totalled
apart from monthly and yearly ones. Intermediary lines are listed apart and left out of
the totals: the member contracts them directly with the market holder, who bills it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from purchasing.catalog.pricing import Billing
from purchasing.orders.models import Order, OrderLine, setup_fee_designation
from purchasing.pdf import render_pdf
from purchasing.totals import DocumentTotals, document_totals

#: How long the centre holds the prices of a quote, from the order date.
VALIDITY = timedelta(days=30)
PERIOD_LABELS = {Billing.ONE_OFF: None, Billing.MONTHLY: "par mois", Billing.YEARLY: "par an"}
TOTALS_LABELS = {
    Billing.ONE_OFF: "Montants ponctuels (dont frais de mise en service)",
    Billing.MONTHLY: "Abonnements : montant mensuel",
    Billing.YEARLY: "Abonnements : montant annuel",
}


@dataclass(frozen=True)
class Party:
    """A seller or a buyer as a document prints it."""

    name: str
    address_lines: tuple[str, ...]
    postal_code: str
    city: str
    siret: str
    vat_number: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class QuoteLine:
    designation: str
    sku: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    vat_rate: Decimal
    amount: Decimal
    #: "par mois" / "par an" for a recurring price; None for a one-off one.
    period: str | None
    delivery_site: str
    note: str
    is_setup_fee: bool = False


@dataclass(frozen=True)
class TotalsBlock:
    """The totals of the lines billed at one rhythm: one-off, monthly or yearly."""

    billing: str
    label: str
    totals: DocumentTotals


@dataclass(frozen=True)
class DirectLine:
    """An intermediary line: the member contracts it directly with the market holder."""

    designation: str
    sku: str
    quantity: Decimal
    unit: str
    #: The market price the member pays the supplier, before VAT.
    unit_price: Decimal
    period: str | None
    setup_fee_price: Decimal | None
    supplier: str
    delivery_site: str


@dataclass(frozen=True)
class Quote:
    reference: str
    quote_date: date
    valid_until: date
    status: str
    engagement_number: str | None
    note: str
    seller: Party
    buyer: Party
    lines: tuple[QuoteLine, ...]
    totals: tuple[TotalsBlock, ...]
    direct_lines: tuple[DirectLine, ...]

    def as_context(self) -> dict[str, Any]:
        """The template's context: plain dicts, lists and values only."""
        return {"quote": dataclasses.asdict(self)}


def seller_party(seller: Mapping[str, Any]) -> Party:
    """The centre as ``app.config["SELLER"]`` describes it."""
    return Party(
        name=seller["name"],
        address_lines=(seller["address"],),
        postal_code=seller["postal_code"],
        city=seller["city"],
        siret=seller["siret"],
        vat_number=seller.get("vat_number"),
        email=seller.get("email"),
    )


def _billed_lines(line: OrderLine) -> list[QuoteLine]:
    """A line the centre bills, and its set-up fee as a one-off line of its own."""
    lines = [
        QuoteLine(
            designation=line.designation,
            sku=line.sku,
            quantity=line.quantity,
            unit=line.unit,
            unit_price=line.sale_price,
            vat_rate=line.vat_rate,
            amount=line.amount,
            period=PERIOD_LABELS[line.billing],
            delivery_site=line.delivery_site,
            note=line.note,
        )
    ]
    if line.setup_fee_price is not None:
        lines.append(
            QuoteLine(
                designation=setup_fee_designation(line.designation),
                sku=line.sku,
                quantity=line.quantity,
                unit=line.unit,
                unit_price=line.setup_fee_price,
                vat_rate=line.vat_rate,
                amount=line.setup_fee_amount,
                period=None,
                delivery_site=line.delivery_site,
                note="",
                is_setup_fee=True,
            )
        )
    return lines


def totals_by_billing(lines: Iterable[OrderLine]) -> tuple[TotalsBlock, ...]:
    """The totals of the lines the centre bills, one block per billing rhythm.

    Set-up fees are one-off amounts; intermediary lines are left out. Rhythms without
    any line give no block.
    """
    amounts: dict[Billing, list[tuple[Decimal, Decimal]]] = {billing: [] for billing in Billing}
    for line in lines:
        if line.contracted_directly_by_member:
            continue
        amounts[line.billing].append((line.amount, line.vat_rate))
        if line.setup_fee_amount is not None:
            amounts[Billing.ONE_OFF].append((line.setup_fee_amount, line.vat_rate))
    return tuple(
        TotalsBlock(
            billing=billing.value, label=TOTALS_LABELS[billing], totals=document_totals(pairs)
        )
        for billing, pairs in amounts.items()
        if pairs
    )


def build_quote(
    order: Order, *, seller: Mapping[str, Any], supplier_names: Mapping[int, str]
) -> Quote:
    """The quote of ``order``; ``supplier_names`` names the holders of intermediary lines."""
    member = order.member
    billed = [line for line in order.lines if not line.contracted_directly_by_member]
    direct = [line for line in order.lines if line.contracted_directly_by_member]
    return Quote(
        reference=order.reference,
        quote_date=order.order_date,
        valid_until=order.order_date + VALIDITY,
        status=order.status.value,
        engagement_number=order.engagement_number,
        note=order.note,
        seller=seller_party(seller),
        buyer=Party(
            name=member.name,
            address_lines=tuple(
                line for line in (member.address_line1, member.address_line2) if line
            ),
            postal_code=member.postal_code,
            city=member.city,
            siret=member.siret,
            vat_number=member.vat_number,
            email=member.billing_email,
        ),
        lines=tuple(quote_line for line in billed for quote_line in _billed_lines(line)),
        totals=totals_by_billing(billed),
        direct_lines=tuple(
            DirectLine(
                designation=line.designation,
                sku=line.sku,
                quantity=line.quantity,
                unit=line.unit,
                unit_price=line.sale_price,
                period=PERIOD_LABELS[line.billing],
                setup_fee_price=line.setup_fee_price,
                supplier=supplier_names.get(line.supplier_id, ""),
                delivery_site=line.delivery_site,
            )
            for line in direct
        ),
    )


def render_quote_pdf(quote: Quote) -> bytes:
    """The quote as a PDF (A4, in French)."""
    return render_pdf("quote.html", quote.as_context())
