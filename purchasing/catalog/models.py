"""The catalogue's tables: chart of accounts, families, suppliers, framework markets and their
lots, products, price versions."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from purchasing.catalog.deliberations import REFERENCE_LENGTH, Deliberation
from purchasing.catalog.pricing import (
    Billing,
    PriceTerms,
    PurchaseMode,
    Validity,
    effective_sale_price,
    effective_setup_fee_price,
)
from purchasing.db import Base, Rate, enum_column, utcnow

__all__ = [
    "Account",
    "Market",
    "MarketLot",
    "PriceVersion",
    "PriceVersionStatus",
    "Product",
    "ProductFamily",
    "ServiceDomain",
    "Supplier",
]


class AccountKind(enum.StrEnum):
    """What an account records, from its class (first digit) in the M4 nomenclature.

    The annex budget of the purchasing centre has an operating section only: no class 2
    (fixed assets) nor 3 (stocks: the centre never holds goods). Class 1 carries the result
    from one year to the next.
    """

    RESULT = "result"  # class 1: result of the year and results carried forward
    THIRD_PARTY = "third_party"  # class 4: members, suppliers, VAT, grants receivable
    TREASURY = "treasury"  # class 5: the account at the Trésor
    EXPENSE = "expense"  # class 6
    REVENUE = "revenue"  # class 7

    @classmethod
    def of_number(cls, number: str) -> AccountKind:
        """The kind of an account number; ValueError for a class the chart does not hold."""
        kind = _KIND_BY_CLASS.get(number[:1])
        if kind is None:
            raise ValueError(
                f"account class {number[:1]!r} is outside the annex budget's chart "
                "(classes 1, 4, 5, 6 and 7)"
            )
        return kind


_KIND_BY_CLASS = {
    "1": AccountKind.RESULT,
    "4": AccountKind.THIRD_PARTY,
    "5": AccountKind.TREASURY,
    "6": AccountKind.EXPENSE,
    "7": AccountKind.REVENUE,
}


class Account(Base):
    """An account of the chart (plan de comptes M4), loaded from ``catalog/accounts.yaml``."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(10), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    #: Derived from the number's first digit when the number is set; never set by hand.
    kind: Mapped[AccountKind] = mapped_column(enum_column(AccountKind, length=20))

    @validates("number")
    def _derive_kind(self, _key: str, number: str) -> str:
        self.kind = AccountKind.of_number(number)
        return number

    def __repr__(self) -> str:
        return f"<Account {self.number} {self.label!r}>"


class ServiceDomain(enum.StrEnum):
    """The service domains a member joins à la carte, each by a deliberation of its own.

    A member adheres to the centre, then to the domains it wants; it orders only in the
    domains it has joined. The catalogue maps each family to its domain. The list is the
    syndicat's offer (a new domain is a new line of business, with its markets and
    accounts), hence a closed vocabulary rather than data.
    """

    TELECOM = "telecom"
    VIDEO_PROTECTION = "video_protection"
    MAIRIE_CONNECTEE = "mairie_connectee"
    IOT = "iot"
    CYBERSECURITY = "cybersecurity"

    @property
    def label(self) -> str:
        """The domain as the syndicat names it, in French."""
        return _DOMAIN_LABELS[self]


_DOMAIN_LABELS = {
    ServiceDomain.TELECOM: "Télécommunications",
    ServiceDomain.VIDEO_PROTECTION: "Vidéoprotection",
    ServiceDomain.MAIRIE_CONNECTEE: "Mairie Connectée",
    ServiceDomain.IOT: "Objets connectés",
    ServiceDomain.CYBERSECURITY: "Cybersécurité",
}


class ProductFamily(Base):
    """A family of the catalogue: its resale margin, purchase mode and ledger accounts."""

    __tablename__ = "product_families"
    __table_args__ = (
        CheckConstraint("margin_rate >= 0 AND margin_rate < 1", name="margin_rate_range"),
        CheckConstraint(
            "(margin_deliberation_reference IS NULL) = (margin_deliberation_date IS NULL)",
            name="margin_deliberation_whole",
        ),
        # The member of an intermediary family pays the supplier directly: nothing to add.
        CheckConstraint(
            "purchase_mode = 'wholesaler' OR margin_rate = 0", name="intermediary_has_no_margin"
        ),
        # A wholesaler family's sales and purchases go through the centre's books.
        CheckConstraint(
            "purchase_mode = 'intermediary' OR "
            "(sales_account_id IS NOT NULL AND purchase_account_id IS NOT NULL)",
            name="wholesaler_has_accounts",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    purchase_mode: Mapped[PurchaseMode] = mapped_column(enum_column(PurchaseMode, length=20))
    #: Resale margin: sale price = supplier cost x (1 + rate). Price versions copy it when
    #: they are recorded, so a later change never reprices a version already in force.
    margin_rate: Mapped[Decimal] = mapped_column(Rate)
    #: Revenue account (706x services, 707x goods) credited when the centre resells.
    sales_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    #: Expense account (604x services, 607x goods) debited when the centre buys.
    purchase_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    #: The domain a member must have joined to order the family's items.
    service_domain: Mapped[ServiceDomain] = mapped_column(
        enum_column(ServiceDomain, length=32, name="service_domain", check=True)
    )
    #: The syndicat's deliberation setting the margin rate. None only for families recorded
    #: before deliberations were kept: the catalogue loader requires it.
    margin_deliberation_reference: Mapped[str | None] = mapped_column(String(REFERENCE_LENGTH))
    margin_deliberation_date: Mapped[date | None] = mapped_column(Date)

    sales_account: Mapped[Account | None] = relationship(foreign_keys=[sales_account_id])
    purchase_account: Mapped[Account | None] = relationship(foreign_keys=[purchase_account_id])
    products: Mapped[list[Product]] = relationship(back_populates="family")

    @property
    def margin_deliberation(self) -> Deliberation | None:
        return Deliberation.of(self.margin_deliberation_reference, self.margin_deliberation_date)

    @margin_deliberation.setter
    def margin_deliberation(self, value: Deliberation | None) -> None:
        self.margin_deliberation_reference = value.reference if value else None
        self.margin_deliberation_date = value.adopted_on if value else None

    def __repr__(self) -> str:
        return f"<ProductFamily {self.code}>"


class Supplier(Base):
    """A holder of one of the centre's framework markets."""

    __tablename__ = "suppliers"
    __table_args__ = (CheckConstraint("length(siret) = 14", name="siret_has_14_digits"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    siret: Mapped[str] = mapped_column(String(14), unique=True)
    #: Intra-community VAT number (FR + key + SIREN), when the supplier gave one.
    vat_number: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(300))
    postal_code: Mapped[str] = mapped_column(String(10))
    city: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))

    products: Mapped[list[Product]] = relationship(back_populates="supplier")

    def __repr__(self) -> str:
        return f"<Supplier {self.code}>"


class Market(Base):
    """A framework market (accord-cadre) of the centre, in force from its start to its end.

    Its lots are awarded each to one supplier; an item is bought under one lot, and may be
    ordered only on the days its market is in force.
    """

    __tablename__ = "markets"
    __table_args__ = (CheckConstraint("end_date >= start_date", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The centre's market number: "MAR-2023-01".
    number: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    #: First day orders may be placed under the market.
    start_date: Mapped[date] = mapped_column(Date)
    #: Last day orders may be placed under it, included.
    end_date: Mapped[date] = mapped_column(Date, index=True)

    lots: Mapped[list[MarketLot]] = relationship(
        back_populates="market", order_by="MarketLot.number"
    )

    def covers(self, day: date) -> bool:
        return self.start_date <= day <= self.end_date

    def __repr__(self) -> str:
        return f"<Market {self.number}>"


class MarketLot(Base):
    """A lot of a framework market, awarded to one supplier, with an optional yearly ceiling.

    The ceiling (montant maximum) is per lot, as each lot is a contract of its own with its
    holder; what approved orders consume of it is followed by the orders domain.
    """

    __tablename__ = "market_lots"
    __table_args__ = (
        UniqueConstraint("market_id", "number"),
        CheckConstraint(
            "yearly_ceiling IS NULL OR yearly_ceiling > 0", name="yearly_ceiling_positive"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id"), index=True)
    #: As the market names it: "1", "2", "unique".
    number: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    #: The holder (titulaire) of the lot.
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    #: Most the lot may be ordered for in a calendar year, before VAT; None: no ceiling.
    yearly_ceiling: Mapped[Decimal | None]

    market: Mapped[Market] = relationship(back_populates="lots")
    supplier: Mapped[Supplier] = relationship()

    @property
    def reference(self) -> str:
        """How documents and catalogue files cite it: "MAR-2023-01 lot 2"."""
        return lot_reference(self.market.number, self.number)

    def __repr__(self) -> str:
        return f"<MarketLot {self.reference}>"


def lot_reference(market_number: str, lot_number: str) -> str:
    return f"{market_number} lot {lot_number}"


class Product(Base):
    """An item members can order, bought from one supplier under one framework market lot."""

    __tablename__ = "products"
    __table_args__ = (CheckConstraint("vat_rate >= 0 AND vat_rate < 1", name="vat_rate_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    family_id: Mapped[int] = mapped_column(ForeignKey("product_families.id"), index=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    #: The framework market (marché) and lot the item is bought under: "MAR-2023-04 lot 2".
    market_reference: Mapped[str] = mapped_column(String(100))
    #: That lot. None only for products recorded before markets were: the catalogue
    #: loader sets it, and an item without one cannot be ordered.
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("market_lots.id"), index=True)
    #: What one unit is, as a member reads it: "lien", "caméra", "licence", "jour"...
    unit: Mapped[str] = mapped_column(String(30))
    billing: Mapped[Billing] = mapped_column(enum_column(Billing, length=20))
    vat_rate: Mapped[Decimal] = mapped_column(Rate)
    #: The FEDER grant may lower its price for the least-populated communes.
    subsidy_eligible: Mapped[bool] = mapped_column(default=False)
    #: An inactive product stays for the orders that reference it but is no longer offered.
    active: Mapped[bool] = mapped_column(default=True)
    #: Overrides of the family's accounts, for an item of another nature than its family's
    #: (a camera is goods, 707x, in a family of services, 706x). None: the family's.
    sales_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    purchase_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))

    family: Mapped[ProductFamily] = relationship(back_populates="products")
    supplier: Mapped[Supplier] = relationship(back_populates="products")
    lot: Mapped[MarketLot | None] = relationship()
    sales_account: Mapped[Account | None] = relationship(foreign_keys=[sales_account_id])
    purchase_account: Mapped[Account | None] = relationship(foreign_keys=[purchase_account_id])
    price_versions: Mapped[list[PriceVersion]] = relationship(
        back_populates="product", order_by="PriceVersion.valid_from"
    )

    @property
    def ledger_sales_account(self) -> Account | None:
        """The revenue account of a resale: the product's own, else its family's."""
        return self.sales_account or self.family.sales_account

    @property
    def ledger_purchase_account(self) -> Account | None:
        """The expense account of a purchase: the product's own, else its family's."""
        return self.purchase_account or self.family.purchase_account

    @property
    def active_price_versions(self) -> list[PriceVersion]:
        """The versions in force on their days; drafts wait for their deliberation."""
        return [v for v in self.price_versions if v.is_active]

    def price_version_on(self, day: date) -> PriceVersion | None:
        """The active version in force on ``day`` among the loaded versions, if any."""
        return next((v for v in self.active_price_versions if v.validity.covers(day)), None)

    def __repr__(self) -> str:
        return f"<Product {self.sku}>"


class PriceVersionStatus(enum.StrEnum):
    #: Recorded ahead of the syndicat's vote: never prices an order.
    DRAFT = "draft"
    #: In force on its days: carries the deliberation that set it.
    ACTIVE = "active"


class PriceVersion(Base):
    """The prices of a product over a period; active versions of one product never overlap.

    A version is recorded as a draft (prices keyed in before the syndicat deliberates) or
    active; only active versions price orders, and a version is active only with the
    deliberation that set it (a CHECK constraint holds that rule). Overlaps are refused by
    the catalogue's services and loader; the unique start date is the part of that rule a
    portable constraint can hold.
    """

    __tablename__ = "price_versions"
    __table_args__ = (
        UniqueConstraint("product_id", "valid_from"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_to_not_before"),
        CheckConstraint("supplier_cost >= 0", name="supplier_cost_not_negative"),
        CheckConstraint("sale_price IS NULL OR sale_price >= 0", name="sale_price_not_negative"),
        CheckConstraint(
            "setup_fee_cost IS NULL OR setup_fee_cost >= 0", name="setup_fee_cost_not_negative"
        ),
        CheckConstraint(
            "setup_fee_price IS NULL OR (setup_fee_cost IS NOT NULL AND setup_fee_price >= 0)",
            name="setup_fee_price_has_cost",
        ),
        CheckConstraint("margin_rate >= 0 AND margin_rate < 1", name="margin_rate_range"),
        CheckConstraint(
            "(deliberation_reference IS NULL) = (deliberation_date IS NULL)",
            name="deliberation_whole",
        ),
        CheckConstraint(
            "status = 'draft' OR deliberation_reference IS NOT NULL",
            name="active_has_deliberation",
        ),
        CheckConstraint(
            "(margin_deliberation_reference IS NULL) = (margin_deliberation_date IS NULL)",
            name="margin_deliberation_whole",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    status: Mapped[PriceVersionStatus] = mapped_column(
        enum_column(PriceVersionStatus, length=20, name="price_version_status", check=True)
    )
    #: The syndicat's deliberation that set these prices; required to be active.
    deliberation_reference: Mapped[str | None] = mapped_column(String(REFERENCE_LENGTH))
    deliberation_date: Mapped[date | None] = mapped_column(Date)
    #: First day the prices apply.
    valid_from: Mapped[date] = mapped_column(Date)
    #: Last day the prices apply, included; None while no later version is known.
    valid_to: Mapped[date | None] = mapped_column(Date)
    supplier_cost: Mapped[Decimal]
    #: Set only to override the price derived from the cost and the margin rate.
    sale_price: Mapped[Decimal | None]
    #: The family's margin rate when the version was recorded: derived prices of a version
    #: stay what they were when it applied, whatever the family's rate becomes later.
    margin_rate: Mapped[Decimal] = mapped_column(Rate)
    #: The deliberation that set ``margin_rate`` (the family's when the version took its
    #: rate), which is not the one that set the prices: a version keeps the legal basis of
    #: its rate whatever the family's rate and deliberation become. None only when the
    #: family cited none (recorded before deliberations were kept).
    margin_deliberation_reference: Mapped[str | None] = mapped_column(String(REFERENCE_LENGTH))
    margin_deliberation_date: Mapped[date | None] = mapped_column(Date)
    #: One-off fee charged at commissioning of a recurring item, when it carries one.
    setup_fee_cost: Mapped[Decimal | None]
    #: Set only to override the fee derived from its cost and the margin rate.
    setup_fee_price: Mapped[Decimal | None]
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    product: Mapped[Product] = relationship(back_populates="price_versions")

    @property
    def is_active(self) -> bool:
        return self.status is PriceVersionStatus.ACTIVE

    @property
    def deliberation(self) -> Deliberation | None:
        return Deliberation.of(self.deliberation_reference, self.deliberation_date)

    @deliberation.setter
    def deliberation(self, value: Deliberation | None) -> None:
        self.deliberation_reference = value.reference if value else None
        self.deliberation_date = value.adopted_on if value else None

    @property
    def margin_deliberation(self) -> Deliberation | None:
        return Deliberation.of(self.margin_deliberation_reference, self.margin_deliberation_date)

    @margin_deliberation.setter
    def margin_deliberation(self, value: Deliberation | None) -> None:
        self.margin_deliberation_reference = value.reference if value else None
        self.margin_deliberation_date = value.adopted_on if value else None

    @property
    def validity(self) -> Validity:
        return Validity(self.valid_from, self.valid_to)

    @property
    def terms(self) -> PriceTerms:
        return PriceTerms(
            supplier_cost=self.supplier_cost,
            sale_price=self.sale_price,
            setup_fee_cost=self.setup_fee_cost,
            setup_fee_price=self.setup_fee_price,
        )

    @property
    def effective_sale_price(self) -> Decimal:
        """The price a member pays per unit (per period for a recurring item), before VAT."""
        return effective_sale_price(self.terms, self.margin_rate)

    @property
    def effective_setup_fee_price(self) -> Decimal | None:
        return effective_setup_fee_price(self.terms, self.margin_rate)

    @property
    def sale_price_is_explicit(self) -> bool:
        return self.sale_price is not None

    def __repr__(self) -> str:
        return f"<PriceVersion {self.product_id} {self.validity}>"
