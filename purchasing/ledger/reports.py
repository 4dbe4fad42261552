"""What the books and the registers say of a year: margin per family, activity report.

The margin comes from the books alone: each sales and purchase line carries its catalogue
family (``JournalLine.family_code``), so purchases, sales and margin per family are sums
of posted lines, and agree with the trial balance. The year's result entry, which brings
classes 6 and 7 to zero when the year closes, is not an operation of the year: the
reports leave it out. The activity report adds the figures a
syndicat prints in its yearly report: members and new adhesions, orders, telecom links,
collectivities served in video-protection, and the FEDER grant received and passed on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, case, cast, distinct, func, select
from sqlalchemy.orm import Session

from purchasing.catalog.models import ProductFamily
from purchasing.ledger.cents import cents_sum, from_cents
from purchasing.ledger.exports import ExportScope
from purchasing.ledger.models import JournalCode, JournalEntry, JournalLine
from purchasing.ledger.settings import LedgerSettings
from purchasing.members.models import Adhesion, AdhesionStatus
from purchasing.money import ZERO, round_rate
from purchasing.orders.models import Order, OrderLine, OrderStatus

__all__ = [
    "ActivityReport",
    "FamilyMargin",
    "MarginReport",
    "activity_report",
    "margin_report",
]

#: Account classes of purchases resold (60x) and of sales (70x), M4.
PURCHASES_PREFIX = "60"
SALES_PREFIX = "70"
#: The families and unit the activity report counts apart, as the catalogue names them.
TELECOM_FAMILY = "telecom"
LINK_UNIT = "lien"
VIDEO_PROTECTION_FAMILY = "video_protection"
#: Orders that never went anywhere are not activity.
_NOT_ORDERED = (OrderStatus.DRAFT, OrderStatus.CANCELLED)
#: The year's operations: every entry but the result entry of its closing.
_OPERATIONS = (JournalEntry.journal != JournalCode.CLOSING,)


@dataclass(frozen=True)
class FamilyMargin:
    #: None for lines posted without a family.
    family_code: str | None
    family_name: str
    purchases: Decimal
    sales: Decimal

    @property
    def margin(self) -> Decimal:
        return self.sales - self.purchases

    @property
    def margin_rate(self) -> Decimal | None:
        """Margin over purchases, as the family's rate is defined (price = cost x (1 + rate))."""
        return round_rate(self.margin / self.purchases) if self.purchases else None


@dataclass(frozen=True)
class MarginReport:
    scope: ExportScope
    families: tuple[FamilyMargin, ...]

    @property
    def purchases(self) -> Decimal:
        return sum((family.purchases for family in self.families), ZERO)

    @property
    def sales(self) -> Decimal:
        return sum((family.sales for family in self.families), ZERO)

    @property
    def margin(self) -> Decimal:
        return self.sales - self.purchases


def margin_report(session: Session, scope: ExportScope, settings: LedgerSettings) -> MarginReport:
    """Purchases, sales and margin of each family over the scope, from the posted lines.

    A credit note on an earlier year's invoice, posted to the cancelled titles account,
    lowers its family's sales like any other credit note.
    """
    cancellation = settings.accounts.prior_year_cancellation
    is_purchase = JournalLine.account_number.startswith(PURCHASES_PREFIX)
    is_sale = JournalLine.account_number.startswith(SALES_PREFIX) | (
        JournalLine.account_number == cancellation
    )
    rows = session.execute(
        select(
            JournalLine.family_code,
            cents_sum(case((is_purchase, JournalLine.debit), else_=ZERO)),
            cents_sum(case((is_purchase, JournalLine.credit), else_=ZERO)),
            cents_sum(case((is_sale, JournalLine.debit), else_=ZERO)),
            cents_sum(case((is_sale, JournalLine.credit), else_=ZERO)),
        )
        .join(JournalEntry, JournalLine.entry_id == JournalEntry.id)
        .where(*scope.conditions(), *_OPERATIONS, is_purchase | is_sale)
        .group_by(JournalLine.family_code)
    ).all()
    names = dict(session.execute(select(ProductFamily.code, ProductFamily.name)).tuples().all())
    families = [
        FamilyMargin(
            family_code=code,
            family_name=names.get(code, code) if code else "(sans famille)",
            purchases=from_cents(purchase_debit) - from_cents(purchase_credit),
            sales=from_cents(sale_credit) - from_cents(sale_debit),
        )
        for code, purchase_debit, purchase_credit, sale_debit, sale_credit in rows
    ]
    families.sort(key=lambda family: (family.family_code is None, family.family_name))
    return MarginReport(scope=scope, families=tuple(families))


@dataclass(frozen=True)
class FamilyOrders:
    family_code: str
    family_name: str
    orders: int
    lines: int


@dataclass(frozen=True)
class ActivityReport:
    year: int
    #: Members whose adhesion is in force on 31 December.
    members_at_year_end: int
    #: Adhesions that came into force during the year.
    new_adhesions: int
    orders: int
    orders_by_family: tuple[FamilyOrders, ...]
    #: Telecom links ordered (quantity of "lien" items of the telecom family).
    telecom_links: Decimal
    #: Members that ordered video-protection during the year.
    video_protection_members: int
    margins: MarginReport
    grant_received: Decimal
    grant_reversed: Decimal


def activity_report(session: Session, year: int, settings: LedgerSettings) -> ActivityReport:
    """The figures of the yearly activity report (see the module doc)."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    in_force = (
        select(func.count(distinct(Adhesion.member_id)))
        .where(Adhesion.status != AdhesionStatus.REQUESTED)
        .where(Adhesion.start_date <= last)
        .where((Adhesion.end_date.is_(None)) | (Adhesion.end_date > last))
    )
    new = select(func.count(Adhesion.id)).where(
        Adhesion.status != AdhesionStatus.REQUESTED, Adhesion.start_date.between(first, last)
    )
    ordered_lines = (
        select(OrderLine)
        .join(Order, OrderLine.order_id == Order.id)
        .where(Order.order_date.between(first, last), Order.status.not_in(_NOT_ORDERED))
        .subquery()
    )
    names = dict(session.execute(select(ProductFamily.code, ProductFamily.name)).tuples().all())
    by_family = [
        FamilyOrders(code, names.get(code, code), orders, lines)
        for code, orders, lines in session.execute(
            select(
                ordered_lines.c.family_code,
                func.count(distinct(ordered_lines.c.order_id)),
                func.count(ordered_lines.c.id),
            )
            .group_by(ordered_lines.c.family_code)
            .order_by(ordered_lines.c.family_code)
        )
    ]
    link_thousandths = session.scalar(
        select(
            func.coalesce(
                func.sum(cast(func.round(ordered_lines.c.quantity * 1000), BigInteger)), 0
            )
        ).where(ordered_lines.c.family_code == TELECOM_FAMILY, ordered_lines.c.unit == LINK_UNIT)
    )
    video_members = session.scalar(
        select(func.count(distinct(Order.member_id)))
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(
            Order.order_date.between(first, last),
            Order.status.not_in(_NOT_ORDERED),
            OrderLine.family_code == VIDEO_PROTECTION_FAMILY,
        )
    )
    scope = ExportScope.for_year(year)
    accounts = settings.accounts
    received = session.scalar(
        select(cents_sum(JournalLine.debit))
        .join(JournalEntry, JournalLine.entry_id == JournalEntry.id)
        .where(
            *scope.conditions(),
            JournalEntry.source_kind == "subsidy.received",
            JournalLine.account_number == accounts.treasury,
        )
    )
    reversed_ = session.execute(
        select(cents_sum(JournalLine.debit), cents_sum(JournalLine.credit))
        .join(JournalEntry, JournalLine.entry_id == JournalEntry.id)
        .where(
            *scope.conditions(),
            *_OPERATIONS,
            JournalLine.account_number == accounts.partner_reversal,
        )
    ).one()
    report = ActivityReport(
        year=year,
        members_at_year_end=session.scalar(in_force) or 0,
        new_adhesions=session.scalar(new) or 0,
        orders=session.scalar(select(func.count(distinct(ordered_lines.c.order_id)))) or 0,
        orders_by_family=tuple(by_family),
        telecom_links=Decimal(link_thousandths or 0) / 1000,
        video_protection_members=video_members or 0,
        margins=margin_report(session, scope, settings),
        grant_received=from_cents(received),
        grant_reversed=from_cents(reversed_[0]) - from_cents(reversed_[1]),
    )
    session.commit()  # end the reading transaction
    return report
