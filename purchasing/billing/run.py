"""The monthly billing run: one invoice per member (and engagement number) and period.

For the month billed, each member gets one invoice grouping what is due and not yet
invoiced: subscription periods (monthly services for each month up to the one billed,
yearly services for the calendar year, prorated by day for a partial period, one line per
stretch of constant quantity), set-up fees of commissioned items, and delivered one-off
items. Members whose orders carry different engagement numbers get one invoice per
engagement number, as Chorus Pro requires.

Members are invoiced a group at a time (``BILLING_RUN_CHUNK``, 50 by default), each
group in one transaction: their rows locked, what they owe found in a few queries, their
invoices numbered, figured and posted to the outbox together, their PDFs rendered
together (:mod:`.dispatch` spreads them over processes or Celery workers) and stored with
their SHA-256, then committed with the run's progress. Numbers are taken inside that
transaction, so the series stays without gaps: a group that fails gives its numbers back
and nothing of it remains. What is invoiced is found from what is not yet invoiced, and a
unique index allows one invoice line per subscription, period and stretch, so running a
period twice invoices nothing twice, a run interrupted half-way is completed by running
it again, and two runs of the same period at once (PostgreSQL) invoice each member once
between them (a group's members are locked in id order, so they never deadlock).

The run's row (:class:`~.models.BillingRun`) says how it goes while it goes: members to
look at, members done (committed with each group), and ``failed`` with the error if an
exception stopped it.

Known limitation: a period once invoiced is never looked at again. A subscription
terminated, or whose quantity changed, with effect inside a period already invoiced (a
yearly item billed for the calendar year then terminated in June, a monthly one billed
for November then terminated on the 10th) is not regularised by the run: finance issues
the credit note (``services.create_credit_note``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, configure_mappers, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from purchasing.auth.roles import Actor
from purchasing.batch import fewer_collections
from purchasing.billing import periods
from purchasing.billing.document import InvoiceDocument
from purchasing.billing.legal_basis import legal_bases
from purchasing.billing.models import (
    SERIES,
    BillingRun,
    BillingRunStatus,
    DocumentKind,
    Invoice,
    InvoiceLine,
)
from purchasing.billing.periods import Period
from purchasing.billing.rendering import RenderedInvoice
from purchasing.billing.services import PreparedIssue, Renderer, issue_invoices, prepare_issue
from purchasing.billing.settings import BillingSettings
from purchasing.catalog.pricing import Billing, PurchaseMode
from purchasing.db import any_of, copy_rows, reserve_ids, utcnow
from purchasing.errors import NotFound, ValidationFailed
from purchasing.fields import today_in_paris
from purchasing.members.models import Member
from purchasing.money import line_amount
from purchasing.orders.models import (
    Delivery,
    Order,
    OrderLine,
    QuantitySegment,
    Subscription,
    SubscriptionQuantity,
    quantity_segments,
)
from purchasing.unit_of_work import adopt_inserted, transaction, update_together

logger = logging.getLogger(__name__)

#: Members invoiced per transaction by default (``BILLING_RUN_CHUNK``): large enough for
#: few round trips and PDFs rendered in parallel, small enough that a concurrent issuer
#: waits a second or two for the number counter, and progress moves often.
DEFAULT_CHUNK_MEMBERS = 50

#: Units printed for a subscription line, by billing period.
PERIOD_UNITS = {Billing.MONTHLY: "mois", Billing.YEARLY: "an"}


@dataclass(frozen=True)
class BillingRunResult:
    run: BillingRun
    #: Invoices issued by this call (a resumed run counts only what it added).
    issued: list[Invoice]
    members_seen: int


@dataclass(frozen=True, slots=True)
class BilledSubscription:
    """What the run reads of a subscription and its order line to bill it: plain values
    read in two queries for a whole group, rather than four ORM objects a subscription
    (a fifth of the drafting time for the twenty subscriptions of each member)."""

    id: int
    member_id: int
    billing_period: Billing
    start_date: date
    end_date: date | None
    unit_price: Decimal
    vat_rate: Decimal
    #: ``(effective_from, quantity)`` pairs of the quantity history
    history: tuple[tuple[date, Decimal], ...]
    order_line_id: int
    designation: str
    sales_account: str | None
    family_code: str | None
    engagement_number: str | None

    def quantity_segments(self, first: date, last: date) -> list[QuantitySegment]:
        return quantity_segments(
            self.history, start=self.start_date, end=self.end_date, first=first, last=last
        )


def billing_periods(subscription: BilledSubscription, up_to: Period) -> Iterator[Period]:
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
    subscription: BilledSubscription, up_to: Period, already_billed: set[date]
) -> list[InvoiceLine]:
    """Invoice lines of the periods of ``subscription`` not billed yet."""
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
                _new_line(
                    designation=subscription.designation,
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
                    order_line_id=subscription.order_line_id,
                    subscription_id=subscription.id,
                    billed_period_start=period.start,
                    sales_account=subscription.sales_account,
                    family_code=subscription.family_code,
                )
            )
    return lines


#: The invoice line columns that some lines leave to their default. Every new line names
#: them all: :func:`_insert_lines` writes each column as the line holds it, where the
#: ORM's defaults are not applied.
_OPTIONAL_LINE_COLUMNS: dict[str, object] = {
    "prorata_days": None,
    "period_days": None,
    "delivery_id": None,
    "subscription_id": None,
    "billed_period_start": None,
    "is_setup_fee": False,
    "aid_amount": None,
    "aid_label": None,
    "credited_line_id": None,
}


#: Builds a bare instance with its ORM state, without the declarative constructor.
_bare_line = InvoiceLine._sa_class_manager.new_instance
_LINE_MAPPER = InvoiceLine.__mapper__
_LINE_ATTRIBUTES = frozenset(column.key for column in InvoiceLine.__table__.columns)
#: What every new line names itself: all but what :func:`_insert_lines` gives it (its row
#: and its place) and the optional columns.
_REQUIRED_LINE_ATTRIBUTES = (
    _LINE_ATTRIBUTES - {"id", "invoice_id", "position"} - _OPTIONAL_LINE_COLUMNS.keys()
)


def _new_line(**values: object) -> InvoiceLine:
    """A new line holding ``values``, the optional columns' defaults otherwise: a value
    for every column but its id, invoice and position.

    A run builds some thirty lines an invoice on its critical path, and the declarative
    constructor's instrumented assignments cost seven times filling the instance's
    dictionary. Nothing is lost: a new object has no history to keep, and both the ORM's
    insert and :func:`_insert_lines` write a new row from what the instance holds.
    """
    unknown = values.keys() - _LINE_ATTRIBUTES
    if unknown:
        raise TypeError(f"not invoice line columns: {', '.join(sorted(unknown))}")
    missing = _REQUIRED_LINE_ATTRIBUTES - values.keys()
    if missing:
        raise TypeError(f"invoice line columns missing: {', '.join(sorted(missing))}")
    if not _LINE_MAPPER.configured:  # as the constructor would (configure_mappers is not free)
        configure_mappers()
    line = _bare_line()
    line.__dict__.update(_OPTIONAL_LINE_COLUMNS)
    line.__dict__.update(values)
    return line


def setup_fee_line(line: OrderLine) -> InvoiceLine:
    assert line.setup_fee_price is not None and line.setup_fee_due_on is not None
    return _new_line(
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
    return _new_line(
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
    return pending_lines_of(session, [member_id], up_to).get(member_id, {})


def pending_lines_of(
    session: Session, member_ids: Sequence[int], up_to: Period
) -> dict[int, dict[str | None, list[InvoiceLine]]]:
    """:func:`pending_lines` of several members at once, in five queries whatever their
    number: by member, then engagement number."""
    owed: dict[int, dict[str | None, list[InvoiceLine]]] = defaultdict(lambda: defaultdict(list))
    billed = _billed_periods(session, member_ids)
    for subscription in billed_subscriptions(session, member_ids, up_to):
        owed[subscription.member_id][subscription.engagement_number].extend(
            subscription_lines(subscription, up_to, billed.get(subscription.id, set()))
        )
    fee_lines = session.scalars(
        select(OrderLine)
        .join(Order)
        .where(
            Order.member_id.in_(member_ids),
            OrderLine.purchase_mode == PurchaseMode.WHOLESALER,
            OrderLine.setup_fee_due_on <= up_to.end,
            OrderLine.setup_fee_billed_on.is_(None),
        )
        .options(selectinload(OrderLine.order))
        .order_by(OrderLine.id)
    )
    for line in fee_lines:
        owed[line.order.member_id][line.order.engagement_number].append(setup_fee_line(line))
    deliveries = session.scalars(
        select(Delivery)
        .join(OrderLine)
        .join(Order)
        .where(
            Order.member_id.in_(member_ids),
            OrderLine.purchase_mode == PurchaseMode.WHOLESALER,
            Delivery.delivered_on <= up_to.end,
            Delivery.billed_on.is_(None),
        )
        .options(selectinload(Delivery.order_line).selectinload(OrderLine.order))
        .order_by(Delivery.id)
    )
    for delivery in deliveries:
        order = delivery.order_line.order
        owed[order.member_id][order.engagement_number].append(delivery_line(delivery))
    return {
        member_id: {engagement: lines for engagement, lines in groups.items() if lines}
        for member_id, groups in owed.items()
    }


def billed_subscriptions(
    session: Session, member_ids: Sequence[int], up_to: Period
) -> list[BilledSubscription]:
    """The subscriptions of ``member_ids`` started by the end of ``up_to``, in id order."""
    started = (Subscription.member_id.in_(member_ids), Subscription.start_date <= up_to.end)
    history: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for subscription_id, effective_from, quantity in session.execute(
        select(
            SubscriptionQuantity.subscription_id,
            SubscriptionQuantity.effective_from,
            SubscriptionQuantity.quantity,
        )
        .join(Subscription, Subscription.id == SubscriptionQuantity.subscription_id)
        .where(*started)
    ):
        history[subscription_id].append((effective_from, quantity))
    rows = session.execute(
        select(
            Subscription.id,
            Subscription.member_id,
            Subscription.billing_period,
            Subscription.start_date,
            Subscription.end_date,
            Subscription.unit_price,
            Subscription.vat_rate,
            Subscription.order_line_id,
            OrderLine.designation,
            OrderLine.sales_account,
            OrderLine.family_code,
            Order.engagement_number,
        )
        .join(OrderLine, OrderLine.id == Subscription.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(*started)
        .order_by(Subscription.id)
    )
    # Unpacked, not read by name: a row's attributes cost a microsecond each, for the
    # thousand subscriptions of a group.
    return [
        BilledSubscription(
            id=subscription_id,
            member_id=member_id,
            billing_period=billing_period,
            start_date=start_date,
            end_date=end_date,
            unit_price=unit_price,
            vat_rate=vat_rate,
            history=tuple(history[subscription_id]),
            order_line_id=order_line_id,
            designation=designation,
            sales_account=sales_account,
            family_code=family_code,
            engagement_number=engagement_number,
        )
        for (
            subscription_id,
            member_id,
            billing_period,
            start_date,
            end_date,
            unit_price,
            vat_rate,
            order_line_id,
            designation,
            sales_account,
            family_code,
            engagement_number,
        ) in rows
    ]


def _billed_periods(session: Session, member_ids: Sequence[int]) -> dict[int, set[date]]:
    rows = session.execute(
        select(InvoiceLine.subscription_id, InvoiceLine.billed_period_start)
        .join(Invoice, InvoiceLine.invoice_id == Invoice.id)
        .where(
            Invoice.member_id.in_(member_ids),
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
    """Issue the invoices of what ``member_id`` owes up to ``up_to``, in one transaction."""
    return invoice_members(
        session,
        [member_id],
        up_to,
        settings=settings,
        issued_by=issued_by,
        issue_date=issue_date,
        run=run,
    )


def invoice_members(
    session: Session,
    member_ids: Sequence[int],
    up_to: Period,
    *,
    settings: BillingSettings,
    issued_by: Actor | None,
    issue_date: date | None = None,
    run: BillingRun | None = None,
    render: Renderer | None = None,
) -> list[Invoice]:
    """Issue the invoices of what ``member_ids`` owe up to ``up_to``, in one transaction.

    The members' rows are locked first, in id order, so two runs for the same members
    never build the same invoice twice and never wait on each other in a circle; the
    unique index on invoice lines is the last guard. The PDFs are rendered by ``render``
    (see :func:`~.services.issue_invoices`). With ``run``, its ``members_done`` moves on
    by the members of the group, in the same transaction.
    """
    issue_date = issue_date or today_in_paris()
    with transaction(session):
        issued = _draft_invoices(session, member_ids, up_to, run, issued_by, issue_date)
        if issued:
            issue_invoices(
                session,
                issued,
                settings=settings,
                issued_by=issued_by,
                issue_date=issue_date,
                render=render,
            )
        if run is not None:
            _count_done(session, run, len(member_ids))
    return issued


def _draft_invoices(
    session: Session,
    member_ids: Sequence[int],
    up_to: Period,
    run: BillingRun | None,
    issued_by: Actor | None,
    issue_date: date,
) -> list[Invoice]:
    """Lock the members, and write the drafts of what they owe with what they bill
    marked billed, in the caller's transaction (nothing numbered yet)."""
    drafts: list[tuple[Invoice, list[InvoiceLine]]] = []
    locked = session.scalars(
        select(Member).where(Member.id.in_(member_ids)).order_by(Member.id).with_for_update()
    ).all()
    owed = pending_lines_of(session, [member.id for member in locked], up_to)
    for member in locked:
        groups = owed.get(member.id, {})
        for engagement, lines in sorted(groups.items(), key=lambda kv: kv[0] or ""):
            invoice = Invoice(
                kind=DocumentKind.INVOICE,
                series=SERIES[DocumentKind.INVOICE],
                # The member object itself: issuing reads it, and the session keeps it
                # only as long as something refers to it.
                member=member,
                # Known empty: figuring the invoice then fills it without reading it.
                vat_lines=[],
                engagement_number=engagement,
                billing_run_id=run.id if run is not None else None,
                created_by_id=issued_by.id if issued_by is not None else None,
            )
            session.add(invoice)
            drafts.append((invoice, lines))
    if not drafts:
        return []
    session.flush()  # the invoices, for their ids
    _insert_lines(session, drafts)
    invoices = [invoice for invoice, _lines in drafts]
    _mark_billed(session, invoices, issue_date)
    return invoices


#: Every column of an invoice line: a line written by :func:`_insert_lines` holds them
#: all, so that none is left for the ORM to read back.
_LINE_COLUMNS = tuple(column.key for column in InvoiceLine.__table__.columns)


def _insert_lines(session: Session, drafts: Sequence[tuple[Invoice, list[InvoiceLine]]]) -> None:
    """Write the lines of the flushed ``drafts`` (new lines of :func:`_new_line`) by one
    ``COPY`` (PostgreSQL) or multi-row INSERT, and hand them to the session as written:
    a group's thousand lines cost the unit of work a third of the issuing time when it
    inserted them itself.

    Each line then is an ordinary persistent object of the session, and its invoice's
    ``lines`` holds it: issuing changes the aided ones, and the unit of work writes
    those changes as usual.
    """
    lines: list[InvoiceLine] = []
    for invoice, owed in drafts:
        for position, line in enumerate(owed, start=1):
            # A new line's state is its dictionary (see _new_line): no history to keep.
            line.__dict__.update(invoice_id=invoice.id, position=position)
            lines.append(line)
    table = InvoiceLine.__table__
    ids = reserve_ids(session, table, len(lines))
    if ids is not None:
        for line, line_id in zip(lines, ids, strict=True):
            line.__dict__["id"] = line_id
        copy_rows(session, table, [line.__dict__ for line in lines], columns=_LINE_COLUMNS)
    else:
        columns = [key for key in _LINE_COLUMNS if key != "id"]
        rows = [{key: line.__dict__[key] for key in columns} for line in lines]
        returned = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        for line, line_id in zip(lines, session.scalars(returned, rows).all(), strict=True):
            line.__dict__["id"] = line_id
    adopt_inserted(session, lines)
    for invoice, owed in drafts:
        set_committed_value(invoice, "lines", owed)
        for line in owed:
            set_committed_value(line, "invoice", invoice)


def _count_done(session: Session, run: BillingRun, members: int) -> None:
    session.execute(
        update(BillingRun)
        .where(BillingRun.id == run.id)
        .values(members_done=BillingRun.members_done + members)
    )


def _mark_billed(session: Session, invoices: Sequence[Invoice], billed_on: date) -> None:
    """Record on the deliveries and set-up fees the invoices bill that they are billed:
    each loaded once, in one query per kind, told by its own rule, and written by one
    ``UPDATE`` per kind (a group's hundreds of set-up fees, each written by an ``UPDATE``
    of its own, were a tenth of the run's critical path)."""
    lines = [line for invoice in invoices for line in invoice.lines]
    delivery_ids = [line.delivery_id for line in lines if line.delivery_id is not None]
    fee_line_ids = [line.order_line_id for line in lines if line.is_setup_fee]
    if delivery_ids:
        deliveries = session.scalars(
            select(Delivery)
            .where(any_of(session, Delivery.id, delivery_ids))
            .options(selectinload(Delivery.order_line))
        ).all()
        for delivery in deliveries:
            delivery.check_billable()
        update_together(session, deliveries, "billed_on", billed_on)
    if fee_line_ids:
        fee_lines = session.scalars(
            select(OrderLine).where(any_of(session, OrderLine.id, fee_line_ids))
        ).all()
        for line in fee_lines:
            line.check_setup_fee_billable()
        update_together(session, fee_lines, "setup_fee_billed_on", billed_on)


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
    """The month a billing run is for: ``"2026-11"``; refused naming ``period`` otherwise.

    A run bills at most the next month (billing in advance at a month's end): a later one
    would bill years of subscriptions that have not been served.
    """
    try:
        billed = periods.parse_month(period_text)
    except periods.InvalidPeriod as exc:
        raise ValidationFailed(str(exc), field="period") from None
    this_month = today_in_paris().replace(day=1)
    next_month = periods.month(this_month.year, this_month.month).end + timedelta(days=1)
    if billed.start > next_month:
        raise ValidationFailed(
            f"{billed.start:%Y-%m} is too far ahead: a run bills at most {next_month:%Y-%m}",
            field="period",
        )
    return billed


def run_billing(
    session: Session,
    period_text: str,
    *,
    settings: BillingSettings,
    started_by: Actor | None,
    issue_date: date | None = None,
    progress: Callable[[int, int], None] | None = None,
    render: Renderer | None = None,
    chunk_members: int = DEFAULT_CHUNK_MEMBERS,
) -> BillingRunResult:
    """Invoice every member for the month ``period_text`` ("2026-11"), here and now.

    Safe to run again: a completed period issues nothing more, an interrupted one is
    completed. ``progress(done, total)`` is called after each group of members. See
    :mod:`.dispatch` to run it in the background or on Celery workers.
    """
    run = start_billing_run(session, period_text, started_by=started_by)
    return carry_out_billing_run(
        session,
        run.id,
        settings=settings,
        started_by=started_by,
        issue_date=issue_date,
        progress=progress,
        render=render,
        chunk_members=chunk_members,
    )


def start_billing_run(
    session: Session, period_text: str, *, started_by: Actor | None
) -> BillingRun:
    """The run of the month ``period_text``, marked running: created on its first start,
    one more attempt on each next, with the number of members it will look at.

    Refuses a malformed period (``ValidationFailed`` naming ``period``) before anything.
    """
    up_to = billed_month(period_text)
    period = f"{up_to.start:%Y-%m}"
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
        run.error = None
        run.finished_at = None
        run.members_done = 0
        run.members_total = len(members_to_bill(session, up_to))
    return run


def carry_out_billing_run(
    session: Session,
    run_id: int,
    *,
    settings: BillingSettings,
    started_by: Actor | None,
    issue_date: date | None = None,
    progress: Callable[[int, int], None] | None = None,
    render: Renderer | None = None,
    chunk_members: int = DEFAULT_CHUNK_MEMBERS,
) -> BillingRunResult:
    """Invoice the members of a started run (:func:`start_billing_run`), a group of
    ``chunk_members`` per transaction, then mark it completed.

    On any exception the run is marked ``failed`` with the error, and the exception goes
    on: what was committed stays, and running the period again completes it.
    """
    run = session.get(BillingRun, run_id)
    if run is None:
        raise NotFound(f"no billing run with id {run_id}", field="run_id")
    up_to = billed_month(run.period)
    issue_date = issue_date or today_in_paris()
    issued: list[Invoice] = []
    try:
        member_ids = members_to_bill(session, up_to)
        total = len(member_ids)
        if total != run.members_total:
            with transaction(session):
                run.members_total = total
        size = max(1, chunk_members)
        groups = [member_ids[start : start + size] for start in range(0, total, size)]
        if render is not None and _can_overlap(session):
            steps = _overlapped(
                session, groups, up_to, settings, started_by, issue_date, run, render
            )
        else:
            steps = _one_after_another(
                session, groups, up_to, settings, started_by, issue_date, run, render
            )
        done = 0
        # Closed whatever happens: a group drafted in the other transaction is rolled back.
        with closing(steps), fewer_collections():
            for invoices, members in steps:
                issued.extend(invoices)
                done += members
                if progress is not None:
                    progress(done, total)
        with transaction(session):
            session.refresh(run, with_for_update=True)
            # Counted, not added up: another run of the period may have issued some meanwhile.
            run.invoices_issued = session.scalar(
                select(func.count()).select_from(Invoice).where(Invoice.billing_run_id == run.id)
            )
            run.status = BillingRunStatus.COMPLETED
            run.finished_at = utcnow()
    except BaseException as exc:
        _record_failure(session, run_id, exc)
        raise
    return BillingRunResult(run=run, issued=issued, members_seen=total)


def _one_after_another(
    session: Session,
    groups: list[list[int]],
    up_to: Period,
    settings: BillingSettings,
    started_by: Actor | None,
    issue_date: date,
    run: BillingRun,
    render: Renderer | None,
) -> Iterator[tuple[list[Invoice], int]]:
    """Each group issued and committed in turn; yields its invoices once committed."""
    for group in groups:
        invoices = invoice_members(
            session,
            group,
            up_to,
            settings=settings,
            issued_by=started_by,
            issue_date=issue_date,
            run=run,
            render=render,
        )
        _release_documents(session, invoices)
        yield invoices, len(group)


def _can_overlap(session: Session) -> bool:
    """Two transactions of one run at once need a database that runs them side by side
    (PostgreSQL; SQLite has one writer) and an engine to open the second (a session
    bound to a test's connection has none)."""
    bind = session.get_bind()
    return isinstance(bind, Engine) and bind.dialect.name == "postgresql"


def _overlapped(
    session: Session,
    groups: list[list[int]],
    up_to: Period,
    settings: BillingSettings,
    started_by: Actor | None,
    issue_date: date,
    run: BillingRun,
    render: Renderer,
) -> Iterator[tuple[list[Invoice], int]]:
    """The groups issued with their PDFs rendered while the next group is drafted.

    Two transactions take turns: while the PDFs of group *n* are rendered (by a pool of
    processes or Celery workers), the other transaction locks the members of group *n+1*
    and writes their drafts; then group *n* is stored and committed, and only then is
    group *n+1* aided and numbered, so numbers are still taken in the transaction that
    issues them, one group after the other, and the series stays without gaps. The
    drafting transaction takes no lock the issuing one needs (other members' rows, new
    rows), so they never wait on each other. Yields each group's invoices once committed.
    """
    sessions = [session, Session(bind=session.get_bind(), expire_on_commit=False)]
    waiting: tuple[Session, list[Invoice], int, PreparedIssue | None, Callable] | None = None
    try:
        for index, group in enumerate(groups):
            current = sessions[index % 2]
            drafts = _draft_invoices(current, group, up_to, run, started_by, issue_date)
            # Read while the previous group renders: what follows its commit is what the
            # render processes wait for.
            legal = (
                legal_bases(current, [line for draft in drafts for line in draft.lines])
                if drafts
                else {}
            )
            if waiting is not None:
                yield _commit_issued(run, *waiting)
            prepared, rendered = None, None
            if drafts:
                prepared = prepare_issue(
                    current,
                    drafts,
                    settings=settings,
                    issued_by=started_by,
                    issue_date=issue_date,
                    legal=legal,
                )
                # Each document handed on as it is figured, and the aid and the issued
                # invoices written while they are rendered, not before: the render
                # processes wait for this group's documents.
                rendered = _submit(render, prepared.figure(current))
                prepared.write(current)
            waiting = (current, drafts, len(group), prepared, rendered)
        if waiting is not None:
            yield _commit_issued(run, *waiting)
    except BaseException:
        for each in sessions:
            each.rollback()
        raise
    finally:
        sessions[1].close()


def _commit_issued(
    run: BillingRun,
    session: Session,
    drafts: list[Invoice],
    members: int,
    prepared: PreparedIssue | None,
    rendered: Callable[[], Sequence[RenderedInvoice]] | None,
) -> tuple[list[Invoice], int]:
    if prepared is not None and rendered is not None:
        prepared.store(session, rendered())
    _count_done(session, run, members)
    session.commit()
    _release_documents(session, drafts)
    return drafts, members


def _submit(
    render: Renderer, documents: Iterable[InvoiceDocument]
) -> Callable[[], Sequence[RenderedInvoice]]:
    """Start rendering ``documents``; what to call for the PDFs. A renderer that works
    elsewhere (``submit``) starts on each as it comes and works meanwhile; any other
    renders them all now."""
    submit = getattr(render, "submit", None)
    if submit is not None:
        return submit(documents)
    rendered = render(list(documents))
    return lambda: rendered


def _release_documents(session: Session, invoices: Sequence[Invoice]) -> None:
    """Let the committed PDFs and lines go: a run of thousands of invoices keeps only
    their headers in memory (what it reports), and reads the rest back if asked."""
    for invoice in invoices:
        session.expire(invoice, ["document", "lines", "vat_lines"])


def _record_failure(session: Session, run_id: int, exc: BaseException) -> None:
    """Mark the run failed with ``exc``, in a transaction of its own. A failure to do so
    (the database itself is gone) must not hide the error that stopped the run."""
    message = f"{type(exc).__name__}: {exc}"[:2000]
    try:
        with transaction(session):
            session.execute(
                update(BillingRun)
                .where(BillingRun.id == run_id)
                .values(status=BillingRunStatus.FAILED, error=message, finished_at=utcnow())
            )
    except Exception:
        logger.exception("billing run %s: could not record its failure", run_id)
