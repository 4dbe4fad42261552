"""The framework markets an order is placed under: their dates and their yearly ceilings.

Every catalogue item is bought under a lot of a framework market (accord-cadre). Two rules
of public procurement follow, which the order's services apply:

- **Dates.** A line is placed only on a day its market is in force (the order date lies
  between the market's start and end dates, both included), and an order is approved only
  while the markets of its lines are still in force: the centre cannot commit to a
  supplier under a market that ended.
- **Yearly ceiling.** A lot may carry a ceiling (montant maximum) per *calendar year*,
  before VAT: the year is the calendar year of the approval, in Paris, as the syndicat's
  budget and the annual statement of its markets are kept by calendar year (not by years
  counted from the market's start date). When an order is approved, what each of its lots
  commits (:attr:`OrderLine.ceiling_amount` of its lines: what the holder is paid over
  twelve months) is recorded as a :class:`MarketLotCommitment` of that year; an approval
  that would take a lot past its ceiling is refused with the figures. Cancelling an
  approved order releases its commitments. A subscription's quantity raised later buys
  more units under the same rules (:func:`commit_added_quantity`): its lot must be in
  force, and the added units are committed to the ceiling of the year the centre agrees
  to them.

The approval locks the rows of its lots (``SELECT ... FOR UPDATE``, in id order, so two
approvals never wait on each other crosswise) before reading what they consumed: two
approvals at once under one lot are serialised on PostgreSQL, and the second sees the
first's commitment, so they cannot both pass a ceiling only one of them fits.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from purchasing.audit.services import record_change, snapshot
from purchasing.auth.roles import Actor
from purchasing.catalog import services as catalog_services
from purchasing.catalog.models import Market, MarketLot
from purchasing.catalog.orderable import LotTerm, OrderableProduct
from purchasing.catalog.services import EXPIRY_WARNING_DAYS
from purchasing.errors import Conflict, ValidationFailed
from purchasing.money import ZERO, round_rate
from purchasing.orders.models import (
    MarketLotCommitment,
    Order,
    OrderLine,
    Subscription,
    plain_quantity,
)

__all__ = [
    "CeilingExceeded",
    "ExpiringMarket",
    "LotConsumption",
    "commit_added_quantity",
    "commit_to_ceilings",
    "ensure_lot_in_force",
    "ensure_product_in_market",
    "expiring_markets",
    "lot_consumption",
    "release_commitments",
]


class CeilingExceeded(Conflict):
    """Approving the order (or raising a subscription's quantity) would take a market lot
    past its yearly ceiling."""

    def __init__(
        self,
        lot: MarketLot,
        *,
        year: int,
        ceiling: Decimal,
        consumed: Decimal,
        this_order: Decimal,
        what: str = "this order",
        field: str = "lines",
    ) -> None:
        left = max(ceiling - consumed, ZERO)
        super().__init__(
            f"{lot.reference}: {what} commits {this_order} excl. VAT, but only {left} "
            f"is left of its {year} ceiling of {ceiling} ({consumed} already committed by "
            "approved orders)",
            field=field,
        )
        self.lot_reference = lot.reference
        self.year = year
        self.ceiling = ceiling
        self.consumed = consumed
        self.this_order = this_order


@dataclass(frozen=True)
class LotConsumption:
    """What approved orders committed of a lot in a calendar year."""

    market: Market
    lot: MarketLot
    year: int
    consumed: Decimal
    orders: int

    @property
    def ceiling(self) -> Decimal | None:
        return self.lot.yearly_ceiling

    @property
    def remaining(self) -> Decimal | None:
        return None if self.ceiling is None else self.ceiling - self.consumed

    @property
    def consumed_share(self) -> Decimal | None:
        """Consumed over the ceiling (0.8500 for 85 %), to four decimals."""
        return None if self.ceiling is None else round_rate(self.consumed / self.ceiling)


def ensure_product_in_market(product: OrderableProduct, on: date, *, field: str) -> LotTerm:
    """The product's lot, if its market is in force on ``on``; else a refusal naming ``field``."""
    lot = product.lot
    if lot is None:
        raise ValidationFailed(
            f"{product.sku} is attached to no framework market lot: it cannot be ordered",
            field=field,
        )
    _ensure_in_term(lot, on, sku=product.sku, field=field)
    return lot


def ensure_lot_in_force(lot: MarketLot, on: date, *, sku: str, field: str) -> None:
    """Refuse, naming ``field``, an item ``sku`` bought under ``lot`` on a day its market
    is not in force."""
    _ensure_in_term(LotTerm.of(lot), on, sku=sku, field=field)


def _ensure_in_term(lot: LotTerm, on: date, *, sku: str, field: str) -> None:
    if not lot.covers(on):
        raise ValidationFailed(
            f"{sku} is bought under {lot.reference}, in force from "
            f"{lot.start_date.isoformat()} to {lot.end_date.isoformat()}, "
            f"not on {on.isoformat()}",
            field=field,
        )


def commit_added_quantity(
    session: Session,
    subscription: Subscription,
    *,
    added: Decimal,
    effective_from: date,
    on: date,
    actor: Actor | None,
) -> MarketLotCommitment:
    """Inside a subscription's quantity change: the lot of its order line must be in force
    on ``effective_from`` (the day the units are added) and on ``on`` (the day the centre
    agrees to them, as for an approval), and its yearly ceiling of ``on``'s year must take
    what ``added`` more units commit; that amount is then committed to the order's row of
    that year (created, or raised).

    Refuses with ``ValidationFailed`` (field ``effective_from``) outside the market's days
    or for a line placed before markets were recorded, and with ``CeilingExceeded`` (field
    ``quantity``) what the ceiling cannot take. A lower quantity gives nothing back: the
    units were agreed to, and what a ceiling records is what the centre committed.
    """
    line = subscription.order_line
    if line.market_lot_id is None:
        raise ValidationFailed(
            f"{line.sku} was placed before its market lot was recorded: its quantity cannot "
            "be raised; order the additional units",
            field="effective_from",
        )
    lot = _lock_lots(session, [line.market_lot_id])[line.market_lot_id]
    for day in dict.fromkeys((effective_from, on)):
        ensure_lot_in_force(lot, day, sku=line.sku, field="effective_from")
    amount = subscription.ceiling_amount_of(added)
    _ensure_within_ceiling(
        session,
        lot,
        on.year,
        amount,
        what=f"{plain_quantity(added)} more {line.sku}",
        field="quantity",
    )
    commitment = session.scalar(
        select(MarketLotCommitment).where(
            MarketLotCommitment.lot_id == lot.id,
            MarketLotCommitment.order_id == line.order_id,
            MarketLotCommitment.year == on.year,
        )
    )
    before = snapshot(commitment) if commitment is not None else None
    if commitment is None:
        commitment = MarketLotCommitment(
            lot_id=lot.id, order_id=line.order_id, year=on.year, amount=amount
        )
        session.add(commitment)
    else:
        commitment.amount += amount
    session.flush()
    record_change(
        session,
        actor=actor,
        action="market_lot.committed",
        entity="market_lot_commitment",
        entity_id=commitment.id,
        before=before,
        after=snapshot(commitment),
    )
    return commitment


def _ensure_within_ceiling(
    session: Session,
    lot: MarketLot,
    year: int,
    amount: Decimal,
    *,
    what: str = "this order",
    field: str = "lines",
) -> None:
    """``CeilingExceeded`` if the lot's ceiling of ``year`` cannot take ``amount`` more
    (``what`` and ``field`` word the refusal); a lot without a ceiling takes anything."""
    if lot.yearly_ceiling is None:
        return
    consumed = _consumed(session, lot.id, year)
    if consumed + amount > lot.yearly_ceiling:
        raise CeilingExceeded(
            lot,
            year=year,
            ceiling=lot.yearly_ceiling,
            consumed=consumed,
            this_order=amount,
            what=what,
            field=field,
        )


def commit_to_ceilings(
    session: Session, order: Order, *, on: date, actor: Actor | None
) -> list[MarketLotCommitment]:
    """Inside the approval's transaction: check the markets of the lines are in force on
    ``on`` and record what the order commits of each lot's ceiling for ``on``'s year.

    Refuses with ``ValidationFailed`` (field ``lines``) a line whose market is unknown or
    no longer in force, and with ``CeilingExceeded`` an order a lot's ceiling cannot take.
    """
    by_lot: dict[int, list[OrderLine]] = defaultdict(list)
    problems: list[str] = []
    for line in order.lines:
        if line.market_lot_id is None:
            problems.append(
                f"{line.sku} was placed before its market lot was recorded: remove the line "
                "and add it again"
            )
        else:
            by_lot[line.market_lot_id].append(line)
    lots = _lock_lots(session, sorted(by_lot))
    for lot_id, lines in by_lot.items():
        market = lots[lot_id].market
        if not market.covers(on):
            skus = ", ".join(line.sku for line in lines)
            problems.append(
                f"{skus}: {lots[lot_id].reference} is in force from "
                f"{market.start_date.isoformat()} to {market.end_date.isoformat()}, "
                f"not on {on.isoformat()}"
            )
    if problems:
        raise ValidationFailed("the order cannot be approved", errors={"lines": problems})

    commitments = []
    for lot_id in sorted(by_lot):
        lot = lots[lot_id]
        this_order = sum((line.ceiling_amount for line in by_lot[lot_id]), ZERO)
        _ensure_within_ceiling(session, lot, on.year, this_order)
        commitment = MarketLotCommitment(
            lot_id=lot_id, order_id=order.id, year=on.year, amount=this_order
        )
        session.add(commitment)
        commitments.append(commitment)
    session.flush()
    for commitment in commitments:
        record_change(
            session,
            actor=actor,
            action="market_lot.committed",
            entity="market_lot_commitment",
            entity_id=commitment.id,
            after=snapshot(commitment),
        )
    return commitments


def release_commitments(
    session: Session, order: Order, *, at: datetime, actor: Actor | None
) -> None:
    """Inside the cancellation's transaction: give back what the order committed."""
    commitments = session.scalars(
        select(MarketLotCommitment).where(
            MarketLotCommitment.order_id == order.id, MarketLotCommitment.released_at.is_(None)
        )
    )
    for commitment in commitments:
        before = snapshot(commitment)
        commitment.released_at = at
        record_change(
            session,
            actor=actor,
            action="market_lot.released",
            entity="market_lot_commitment",
            entity_id=commitment.id,
            before=before,
            after=snapshot(commitment),
        )


def lot_consumption(session: Session, *, year: int) -> list[LotConsumption]:
    """Every lot, by market and lot number, with what approved orders committed of it in
    ``year`` (0.00 when nothing)."""
    committed: dict[int, list[Decimal]] = defaultdict(list)
    rows = session.execute(
        select(MarketLotCommitment.lot_id, MarketLotCommitment.amount).where(
            MarketLotCommitment.year == year, MarketLotCommitment.released_at.is_(None)
        )
    ).tuples()
    for lot_id, amount in rows:
        committed[lot_id].append(amount)
    lots = session.scalars(
        select(MarketLot)
        .join(Market)
        .options(joinedload(MarketLot.market), joinedload(MarketLot.supplier))
        .order_by(Market.number, MarketLot.number)
    )
    return [
        LotConsumption(
            market=lot.market,
            lot=lot,
            year=year,
            consumed=sum(committed[lot.id], ZERO),
            orders=len(committed[lot.id]),
        )
        for lot in lots
    ]


@dataclass(frozen=True)
class ExpiringMarket:
    """A market about to end, with what approved orders committed of each of its lots."""

    market: Market
    #: Days from the day asked to the market's last day (0: it ends that day).
    days_left: int
    #: Its lots by number, each with its ceiling and consumption of the year asked.
    lots: list[LotConsumption]


def expiring_markets(
    session: Session, *, on: date, within_days: int = EXPIRY_WARNING_DAYS
) -> list[ExpiringMarket]:
    """The markets in force on ``on`` whose last day falls within ``within_days``, soonest
    first (:func:`~purchasing.catalog.services.markets_expiring`), each with its days left
    and, for each lot, its yearly ceiling and what approved orders committed of it in
    ``on``'s calendar year: what the purchasing staff weigh to renew a market in time."""
    markets = catalog_services.markets_expiring(session, on=on, within_days=within_days)
    lot_ids = [lot.id for market in markets for lot in market.lots]
    committed = _committed_by_lot(session, lot_ids, on.year)
    return [
        ExpiringMarket(
            market=market,
            days_left=(market.end_date - on).days,
            lots=[
                LotConsumption(
                    market=market,
                    lot=lot,
                    year=on.year,
                    consumed=sum(committed[lot.id], ZERO),
                    orders=len(committed[lot.id]),
                )
                for lot in sorted(market.lots, key=_lot_order)
            ],
        )
        for market in markets
    ]


def _lot_order(lot: MarketLot) -> tuple[int, str]:
    """Lots by number, "2" before "10", a named lot ("unique") after numbered ones."""
    return (int(lot.number), "") if lot.number.isdigit() else (1 << 31, lot.number)


def _committed_by_lot(session: Session, lot_ids: list[int], year: int) -> dict[int, list[Decimal]]:
    """The amounts approved orders not cancelled committed of each lot in ``year``."""
    committed: dict[int, list[Decimal]] = defaultdict(list)
    if not lot_ids:
        return committed
    rows = session.execute(
        select(MarketLotCommitment.lot_id, MarketLotCommitment.amount).where(
            MarketLotCommitment.lot_id.in_(lot_ids),
            MarketLotCommitment.year == year,
            MarketLotCommitment.released_at.is_(None),
        )
    ).tuples()
    for lot_id, amount in rows:
        committed[lot_id].append(amount)
    return committed


def _lock_lots(session: Session, lot_ids: list[int]) -> dict[int, MarketLot]:
    """The lots, locked in id order until the end of the transaction, read afresh."""
    if not lot_ids:
        return {}
    lots = session.scalars(
        select(MarketLot)
        .where(MarketLot.id.in_(lot_ids))
        .order_by(MarketLot.id)
        .with_for_update(of=MarketLot)
        .execution_options(populate_existing=True)
    ).all()
    return {lot.id: lot for lot in lots}


def _consumed(session: Session, lot_id: int, year: int) -> Decimal:
    """What the approved orders not cancelled committed of the lot in ``year``.

    Summed here, exactly, rather than by the database: SQLite sums numerics as floats.
    """
    amounts = session.scalars(
        select(MarketLotCommitment.amount).where(
            MarketLotCommitment.lot_id == lot_id,
            MarketLotCommitment.year == year,
            MarketLotCommitment.released_at.is_(None),
        )
    )
    return sum(amounts, ZERO)
