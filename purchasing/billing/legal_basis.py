"""What an invoice line's tariff and purchase rest on: a deliberation and a market lot.

The order line an invoice line bills keeps, frozen on its order date, the deliberation that
set its prices and the framework market lot it is bought under (:class:`OrderLine`). An
invoice line reaches it through ``order_line_id`` (a delivery, a set-up fee, a credited
line), or through its subscription: nothing is copied onto the invoice line, so nothing
in the invoice tables had to change. The document of an invoice takes these values at
issue (:func:`legal_bases`), and its stored PDF keeps them for ever; the API reads them
for a line (:func:`legal_basis`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from purchasing.billing.models import InvoiceLine
from purchasing.catalog.models import Market, MarketLot, lot_reference
from purchasing.db import any_of
from purchasing.orders.models import OrderLine, Subscription


@dataclass(frozen=True, slots=True)
class LegalBasis:
    deliberation_reference: str | None = None
    deliberation_date: date | None = None
    #: "MAR-2023-01 lot 2".
    market_reference: str | None = None


#: A line that bills no order line (none does today) cites nothing.
NONE = LegalBasis()


def legal_bases(session: Session, lines: Iterable[InvoiceLine]) -> dict[int, LegalBasis]:
    """The legal basis of each of ``lines`` (flushed: they have ids), by invoice line id,
    read in two queries whatever the number of lines."""
    lines = list(lines)
    via_subscription = {
        line.subscription_id
        for line in lines
        if line.order_line_id is None and line.subscription_id is not None
    }
    order_line_of_subscription = (
        dict(
            session.execute(
                select(Subscription.id, Subscription.order_line_id).where(
                    any_of(session, Subscription.id, via_subscription)
                )
            ).all()
        )
        if via_subscription
        else {}
    )

    def order_line_id(line: InvoiceLine) -> int | None:
        if line.order_line_id is not None:
            return line.order_line_id
        return order_line_of_subscription.get(line.subscription_id)

    wanted = {order_line_id(line) for line in lines} - {None}
    # One basis per order line, shared by its lines (a month, a set-up fee, a delivery),
    # read as plain values: a run's group bills a thousand order lines.
    bases = {
        row.id: LegalBasis(
            deliberation_reference=row.deliberation_reference,
            deliberation_date=row.deliberation_date,
            market_reference=(
                lot_reference(row.market_number, row.lot_number)
                if row.lot_number is not None
                else None
            ),
        )
        for row in session.execute(
            select(
                OrderLine.id,
                OrderLine.deliberation_reference,
                OrderLine.deliberation_date,
                Market.number.label("market_number"),
                MarketLot.number.label("lot_number"),
            )
            .outerjoin(MarketLot, MarketLot.id == OrderLine.market_lot_id)
            .outerjoin(Market, Market.id == MarketLot.market_id)
            .where(any_of(session, OrderLine.id, wanted))
        )
    }
    return {line.id: bases.get(order_line_id(line), NONE) for line in lines}


def legal_basis(line: InvoiceLine) -> LegalBasis:
    """The legal basis of one line, read through the session it belongs to."""
    session = object_session(line)
    if session is None:
        return NONE
    order_line_id = line.order_line_id
    if order_line_id is None and line.subscription_id is not None:
        subscription = session.get(Subscription, line.subscription_id)
        order_line_id = subscription.order_line_id if subscription is not None else None
    if order_line_id is None:
        return NONE
    return _basis_of(session.get(OrderLine, order_line_id))


def _basis_of(order_line: OrderLine | None) -> LegalBasis:
    if order_line is None:
        return NONE
    return LegalBasis(
        deliberation_reference=order_line.deliberation_reference,
        deliberation_date=order_line.deliberation_date,
        market_reference=order_line.market_reference,
    )
