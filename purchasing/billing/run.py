"""The monthly billing run: one invoice per member (and engagement number) and period.

For the month billed, each member gets one invoice grouping what is due and not yet
invoiced: subscription periods (monthly services for each month up to the one billed,
yearly services for the calendar year, prorated by day for a partial period, one line per
stretch of constant quantity), set-up fees of commissioned items, and delivered one-off
items. Members whose orders carry different engagement numbers get one invoice per
engagement number, as Chorus Pro requires.

Each member is invoiced in its own transaction, its row locked. What is invoiced is
found from what is not yet invoiced, and a unique index allows one invoice line per
subscription, period and stretch, so running a period twice invoices nothing twice, a
run interrupted half-way is completed by running it again, and two runs of the same
period at once (PostgreSQL) invoice each member once between them.

Known limitation: a period once invoiced is never looked at again. A subscription
terminated, or whose quantity changed, with effect inside a period already invoiced (a
yearly item billed for the calendar year then terminated in June, a monthly one billed
for November then terminated on the 10th) is not regularised by the run: finance issues
the credit note (``services.create_credit_note``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from purchasing.auth.roles import Actor
from purchasing.billing import periods
from purchasing.billing.models import (
    SERIES,
    BillingRun,
    BillingRunStatus,
    DocumentKind,
    Invoice,
    InvoiceLine,
)
from purchasing.billing.periods import Period
from purchasing.billing.services import issue
from purchasing.billing.settings import BillingSettings
from purchasing.catalog.pricing import Billing, PurchaseMode
from purchasing.db import utcnow
from purchasing.errors import ValidationFailed
from purchasing.fields import today_in_paris
from purchasing.members.models import Member
from purchasing.money import line_amount
from purchasing.orders.models import Delivery, Order, OrderLine, Subscription
from purchasing.unit_of_work import transaction

#: Units printed for a subscription line, by billing period.
PERIOD_UNITS = {Billing.MONTHLY: "mois", Billing.YEARLY: "an"}


@dataclass(frozen=True)
class BillingRunResult:
    run: BillingRun
    #: Invoices issued by this call (a resumed run counts only what it added).
    issued: list[Invoice]
    members_seen: int


def billing_periods(subscription: Subscription, up_to: Period) -> Iterator[Period]:
    """The billing periods of ``subscription`` from its start to the month billed.

    Monthly: every month from the start month to ``up_to``. Yearly: every calendar year
    from the start year to ``up_to``'s year, billed in advance.
    """
    start = subscription.start_date
    last_day = up_to.end if subscription.end_date is None else min(up_to.end, subscription.end_date)
    if subscription.billing_period is Billing.YEARLY:
        for year in range(start.year, last_day.year + 1):
            yield periods.year(year)
        return
    year, month = start.year, start.month
    while (year, month) <= (last_day.year, last_day.month):
        yield periods.month(year, month)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def subscription_lines(
    subscription: Subscription, up_to: Period, already_billed: set[date]
) -> list[InvoiceLine]:
    """Invoice lines of the periods of ``subscription`` not billed yet."""
    line = subscription.order_line
    lines = []
    for period in billing_periods(subscription, up_to):
        if period.start in already_billed:
            continue
        served = periods.served(period, subscription.start_date, subscription.end_date)
        if served is None:
            continue
        for segment in subscription.quantity_segments(served.start, served.end):
            days = (segment.last - segment.first).days + 1
            partial = days != period.days
            lines.append(
                InvoiceLine(
                    designation=line.designation,
                    unit=PERIOD_UNITS[subscription.billing_period],
                    quantity=segment.quantity,
                    unit_price=subscription.unit_price,
                    vat_rate=subscription.vat_rate,
                    net_amount=line_amount(
                        subscription.unit_price,
                        segment.quantity,
                        days=days if partial else None,
                        period_days=period.days if partial else None,
                    ),
                    prorata_days=days if partial else None,
                    period_days=period.days if partial else None,
                    service_start=segment.first,
                    service_end=segment.last,
                    order_line_id=line.id,
                    subscription_id=subscription.id,
                    billed_period_start=period.start,
                    sales_account=line.sales_account,
                    family_code=line.family_code,
                )
            )
    return lines


def setup_fee_line(line: OrderLine) -> InvoiceLine:
    assert line.setup_fee_price is not None and line.setup_fee_due_on is not None
    return InvoiceLine(
        designation=f"Frais de mise en service : {line.designation}",
        unit="forfait",
        quantity=line.quantity,
        unit_price=line.setup_fee_price,
        vat_rate=line.vat_rate,
        net_amount=line_amount(line.setup_fee_price, line.quantity),
        service_start=line.setup_fee_due_on,
        service_end=line.setup_fee_due_on,
        order_line_id=line.id,
        is_setup_fee=True,
        sales_account=line.sales_account,
        family_code=line.family_code,
    )


def delivery_line(delivery: Delivery) -> InvoiceLine:
    line = delivery.order_line
    return InvoiceLine(
        designation=line.designation,
        unit=line.unit,
        quantity=delivery.quantity,
        unit_price=line.sale_price,
        vat_rate=line.vat_rate,
        net_amount=line_amount(line.sale_price, delivery.quantity),
        service_start=delivery.delivered_on,
        service_end=delivery.delivered_on,
        order_line_id=line.id,
        delivery_id=delivery.id,
        sales_account=line.sales_account,
        family_code=line.family_code,
    )


def pending_lines(
    session: Session, member_id: int, up_to: Period
) -> dict[str | None, list[InvoiceLine]]:
    """What ``member_id`` owes up to the end of ``up_to`` and was not invoiced yet,
    grouped by the engagement number of the orders it comes from."""
    groups: dict[str | None, list[InvoiceLine]] = defaultdict(list)
    subscriptions = session.scalars(
        select(Subscription)
        .where(Subscription.member_id == member_id, Subscription.start_date <= up_to.end)
        .options(
            selectinload(Subscription.quantities),
            selectinload(Subscription.order_line).selectinload(OrderLine.order),
        )
        .order_by(Subscription.id)
    )
    billed = _billed_periods(session, member_id)
    for subscription in subscriptions:
        engagement = subscription.order_line.order.engagement_number
        groups[engagement].extend(
            subscription_lines(subscription, up_to, billed.get(subscription.id, set()))
        )
    fee_lines = session.scalars(
        select(OrderLine)
        .join(Order)
        .where(
            Order.member_id == member_id,
            OrderLine.purchase_mode == PurchaseMode.WHOLESALER,
            OrderLine.setup_fee_due_on <= up_to.end,
            OrderLine.setup_fee_billed_on.is_(None),
        )
        .options(selectinload(OrderLine.order))
        .order_by(OrderLine.id)
    )
    for line in fee_lines:
        groups[line.order.engagement_number].append(setup_fee_line(line))
    deliveries = session.scalars(
        select(Delivery)
        .join(OrderLine)
        .join(Order)
        .where(
            Order.member_id == member_id,
            OrderLine.purchase_mode == PurchaseMode.WHOLESALER,
            Delivery.delivered_on <= up_to.end,
            Delivery.billed_on.is_(None),
        )
        .options(selectinload(Delivery.order_line).selectinload(OrderLine.order))
        .order_by(Delivery.id)
    )
    for delivery in deliveries:
        groups[delivery.order_line.order.engagement_number].append(delivery_line(delivery))
    return {engagement: lines for engagement, lines in groups.items() if lines}


def _billed_periods(session: Session, member_id: int) -> dict[int, set[date]]:
    rows = session.execute(
        select(InvoiceLine.subscription_id, InvoiceLine.billed_period_start)
        .join(Invoice, InvoiceLine.invoice_id == Invoice.id)
        .where(
            Invoice.member_id == member_id,
            Invoice.kind == DocumentKind.INVOICE,
            InvoiceLine.subscription_id.is_not(None),
        )
        .distinct()
    )
    billed: dict[int, set[date]] = defaultdict(set)
    for subscription_id, period_start in rows:
        billed[subscription_id].add(period_start)
    return billed


def invoice_member(
    session: Session,
    member_id: int,
    up_to: Period,
    *,
    settings: BillingSettings,
    issued_by: Actor | None,
    issue_date: date | None = None,
    run: BillingRun | None = None,
) -> list[Invoice]:
    """Issue the invoices of what ``member_id`` owes up to ``up_to``, in one transaction.

    The member's row is locked first, so two runs for the same member never build the
    same invoice twice; the unique index on invoice lines is the last guard.
    """
    issue_date = issue_date or today_in_paris()
    issued = []
    with transaction(session):
        session.get(Member, member_id, with_for_update=True)
        for engagement, lines in sorted(
            pending_lines(session, member_id, up_to).items(), key=lambda kv: kv[0] or ""
        ):
            invoice = Invoice(
                kind=DocumentKind.INVOICE,
                series=SERIES[DocumentKind.INVOICE],
                member_id=member_id,
                engagement_number=engagement,
                billing_run_id=run.id if run is not None else None,
                created_by_id=issued_by.id if issued_by is not None else None,
            )
            for position, line in enumerate(lines, start=1):
                line.position = position
                invoice.lines.append(line)
            session.add(invoice)
            session.flush()
            _mark_billed(session, invoice, issue_date)
            issue(session, invoice, settings=settings, issued_by=issued_by, issue_date=issue_date)
            issued.append(invoice)
    return issued


def _mark_billed(session: Session, invoice: Invoice, billed_on: date) -> None:
    for line in invoice.lines:
        if line.delivery_id is not None:
            session.get(Delivery, line.delivery_id).mark_billed(billed_on=billed_on)
        elif line.is_setup_fee:
            session.get(OrderLine, line.order_line_id).mark_setup_fee_billed(billed_on=billed_on)


def members_to_bill(session: Session, up_to: Period) -> list[int]:
    """Members that may owe something for ``up_to``: with a subscription, a set-up fee or a
    wholesaler delivery by then (each is checked for what is still to invoice)."""
    with_subscriptions = select(Subscription.member_id).where(Subscription.start_date <= up_to.end)
    with_fees = (
        select(Order.member_id)
        .join(OrderLine)
        .where(
            OrderLine.purchase_mode == PurchaseMode.WHOLESALER,
            OrderLine.setup_fee_due_on <= up_to.end,
            OrderLine.setup_fee_billed_on.is_(None),
        )
    )
    with_deliveries = (
        select(Order.member_id)
        .join(OrderLine)
        .join(Delivery)
        .where(
            OrderLine.purchase_mode == PurchaseMode.WHOLESALER,
            Delivery.delivered_on <= up_to.end,
            Delivery.billed_on.is_(None),
        )
    )
    query = with_subscriptions.union(with_fees, with_deliveries)
    return sorted(session.scalars(query))


def billed_month(period_text: str) -> Period:
    """The month a billing run is for: ``"2026-11"``; refused naming ``period`` otherwise."""
    try:
        return periods.parse_month(period_text)
    except periods.InvalidPeriod as exc:
        raise ValidationFailed(str(exc), field="period") from None


def run_billing(
    session: Session,
    period_text: str,
    *,
    settings: BillingSettings,
    started_by: Actor | None,
    issue_date: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BillingRunResult:
    """Invoice every member for the month ``period_text`` ("2026-11").

    Safe to run again: a completed period issues nothing more, an interrupted one is
    completed. ``progress(done, total)`` is called after each member.
    """
    up_to = billed_month(period_text)
    issue_date = issue_date or today_in_paris()
    run = _start_run(session, f"{up_to.start:%Y-%m}", started_by)
    member_ids = members_to_bill(session, up_to)
    issued: list[Invoice] = []
    for done, member_id in enumerate(member_ids, start=1):
        issued.extend(
            invoice_member(
                session,
                member_id,
                up_to,
                settings=settings,
                issued_by=started_by,
                issue_date=issue_date,
                run=run,
            )
        )
        if progress is not None:
            progress(done, len(member_ids))
    with transaction(session):
        session.refresh(run, with_for_update=True)
        run.members_total = len(member_ids)
        # Counted, not added up: another run of the period may have issued some meanwhile.
        run.invoices_issued = session.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.billing_run_id == run.id)
        )
        run.status = BillingRunStatus.COMPLETED
        run.finished_at = utcnow()
    return BillingRunResult(run=run, issued=issued, members_seen=len(member_ids))


def _start_run(session: Session, period: str, started_by: Actor | None) -> BillingRun:
    """The run of the period, created on its first start, one more attempt on each next."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    with transaction(session):
        # Two runs started at once both insert: the unique period keeps the first row.
        session.execute(
            insert(BillingRun)
            .values(
                period=period,
                status=BillingRunStatus.RUNNING,
                attempts=0,
                started_by_id=started_by.id if started_by is not None else None,
            )
            .on_conflict_do_nothing(index_elements=["period"])
        )
        run = session.scalars(
            select(BillingRun)
            .where(BillingRun.period == period)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        run.attempts += 1
        run.status = BillingRunStatus.RUNNING
    return run
