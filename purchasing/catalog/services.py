"""Use cases of the catalogue: browse it, quote a price on a date, add and activate price
versions, follow the framework markets.

Loading the catalogue from its YAML files is ``purchasing.catalog.loader.load_catalog``.
Other domains price an item with :func:`price_on`: an order keeps the quote of its date.

Only *active* price versions price anything. A version is active only with the syndicat's
deliberation that set it: prices keyed in before the vote are recorded as drafts
(:func:`add_price_version` with ``draft=True``) and put in force by
:func:`activate_price_version` once the deliberation is adopted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from purchasing.audit.services import record_change, snapshot
from purchasing.auth.roles import Actor
from purchasing.catalog.deliberations import Deliberation
from purchasing.catalog.models import (
    Account,
    Market,
    MarketLot,
    PriceVersion,
    PriceVersionStatus,
    Product,
    ProductFamily,
    Supplier,
)
from purchasing.catalog.pricing import (
    Billing,
    PriceTerms,
    PurchaseMode,
    Validity,
    price_problems,
)
from purchasing.catalog.versions import catalog_version as catalog_version
from purchasing.errors import Conflict, NotFound, ValidationFailed
from purchasing.unit_of_work import transaction

#: How far ahead the purchasing staff look for markets about to end.
EXPIRY_WARNING_DAYS = 90


class ProductNotFound(NotFound):
    """No product has this id or SKU."""

    def __init__(self, ref: int | str) -> None:
        field = "product_id" if isinstance(ref, int) else "sku"
        super().__init__(f"no product {ref!r}", field=field)


class NoPriceInForce(ValidationFailed):
    """No price version of the product covers the date: it cannot be ordered on that day."""

    def __init__(self, sku: str, on: date) -> None:
        super().__init__(f"product {sku} has no price in force on {on.isoformat()}", field="on")
        self.sku = sku
        self.on = on


class PriceVersionOverlap(Conflict):
    """A new price version would share days with an existing one."""

    def __init__(self, new: Validity, existing: Validity) -> None:
        super().__init__(
            f"the new prices ({new}) overlap the version in force {existing}",
            field="valid_from",
        )


class DeliberationRequired(ValidationFailed):
    """Prices are put in force only with the syndicat's deliberation that set them."""

    def __init__(self) -> None:
        super().__init__(
            "required to put prices in force: the syndicat's deliberation that set them "
            "(reference and date); record the prices as a draft until it is adopted",
            field="deliberation",
        )


class DeliberationDateClash(ValidationFailed):
    """A deliberation reference already recorded with another date: one act, one date."""

    def __init__(self, deliberation: Deliberation, recorded: date, *, field: str) -> None:
        super().__init__(
            f"deliberation {deliberation.reference} is recorded as adopted on "
            f"{recorded.isoformat()}, not {deliberation.adopted_on.isoformat()}",
            field=field,
        )


@dataclass(frozen=True)
class PriceQuote:
    """What an item costs and sells for on one day: the figures an order line keeps."""

    product_id: int
    sku: str
    price_version_id: int
    #: Per unit, per billing period for a recurring item; amounts before VAT.
    supplier_cost: Decimal
    #: The price the member pays: explicit, or derived from the cost and the margin.
    sale_price: Decimal
    setup_fee_cost: Decimal | None
    setup_fee_price: Decimal | None
    vat_rate: Decimal
    billing: Billing
    subsidy_eligible: bool
    purchase_mode: PurchaseMode
    family_code: str
    #: Ledger accounts of a resale (the product's own, else its family's); None for an
    #: intermediary family, whose orders never reach the centre's books.
    sales_account: str | None
    purchase_account: str | None
    #: The deliberation that set these prices (every active version has one).
    deliberation: Deliberation
    #: The framework market lot the item is bought under; None for a product recorded
    #: before markets were (it cannot be ordered).
    lot_id: int | None


@dataclass(frozen=True)
class PricedProduct:
    """A product and its price version in force on ``on`` (None if none covers it)."""

    product: Product
    price: PriceVersion | None
    on: date


@dataclass(frozen=True)
class ProductPage:
    items: list[PricedProduct]
    total: int
    page: int
    per_page: int
    on: date


def list_accounts(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.number)))


def list_families(session: Session) -> list[ProductFamily]:
    query = (
        select(ProductFamily)
        .order_by(ProductFamily.code)
        .options(
            joinedload(ProductFamily.sales_account), joinedload(ProductFamily.purchase_account)
        )
    )
    return list(session.scalars(query))


def list_suppliers(session: Session) -> list[Supplier]:
    return list(session.scalars(select(Supplier).order_by(Supplier.code)))


def get_product(session: Session, sku: str) -> Product:
    product = session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise ProductNotFound(sku)
    return product


def get_priced_product(session: Session, sku: str, *, on: date) -> PricedProduct:
    """A product with its price in force on ``on``; its versions are ``product.price_versions``."""
    product = get_product(session, sku)
    return PricedProduct(product=product, price=product.price_version_on(on), on=on)


def _in_force_on(on: date) -> ColumnElement[bool]:
    """An active version whose days cover ``on``: drafts never price anything."""
    return (
        (PriceVersion.status == PriceVersionStatus.ACTIVE)
        & (PriceVersion.valid_from <= on)
        & (or_(PriceVersion.valid_to.is_(None), PriceVersion.valid_to >= on))
    )


def search_products(
    session: Session,
    *,
    on: date,
    family: str | None = None,
    q: str | None = None,
    billing: Billing | None = None,
    subsidy_eligible: bool | None = None,
    page: int = 1,
    per_page: int = 50,
) -> ProductPage:
    """Active products matching the filters, by SKU, each with its price in force on ``on``."""
    query: Select = select(Product).where(Product.active.is_(True))
    if family is not None:
        family_id = session.scalar(select(ProductFamily.id).where(ProductFamily.code == family))
        if family_id is None:
            raise ValidationFailed(f"no family {family!r}", field="family")
        query = query.where(Product.family_id == family_id)
    if q is not None:
        query = query.where(
            or_(
                Product.sku.icontains(q, autoescape=True),
                Product.name.icontains(q, autoescape=True),
                Product.description.icontains(q, autoescape=True),
            )
        )
    if billing is not None:
        query = query.where(Product.billing == billing)
    if subsidy_eligible is not None:
        query = query.where(Product.subsidy_eligible.is_(subsidy_eligible))

    total = session.scalar(select(func.count()).select_from(query.subquery()))
    # Versions never overlap, so the outer join yields at most one price per product.
    rows = session.execute(
        query.add_columns(PriceVersion)
        .outerjoin(PriceVersion, (PriceVersion.product_id == Product.id) & _in_force_on(on))
        .options(
            joinedload(Product.family).joinedload(ProductFamily.sales_account),
            joinedload(Product.family).joinedload(ProductFamily.purchase_account),
            joinedload(Product.supplier),
            joinedload(Product.lot).joinedload(MarketLot.market),
            joinedload(Product.sales_account),
            joinedload(Product.purchase_account),
        )
        .order_by(Product.sku)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    items = [PricedProduct(product=product, price=price, on=on) for product, price in rows]
    return ProductPage(items=items, total=total or 0, page=page, per_page=per_page, on=on)


def price_on(session: Session, product_id: int, on: date) -> PriceQuote:
    """The prices of a product in force on ``on``: what an order of that date keeps.

    Raises ``ProductNotFound`` for an unknown product and ``NoPriceInForce`` when no
    active version covers the date. An inactive product is still quoted: whether it may be
    ordered is the orders domain's rule, and past orders must stay explainable.
    """
    product = session.get(
        Product,
        product_id,
        options=[
            joinedload(Product.family),
            joinedload(Product.sales_account),
            joinedload(Product.purchase_account),
        ],
    )
    if product is None:
        raise ProductNotFound(product_id)
    version = session.scalar(
        select(PriceVersion).where(PriceVersion.product_id == product.id, _in_force_on(on))
    )
    if version is None:
        raise NoPriceInForce(product.sku, on)
    return _quote(product, version)


def products_by_sku(session: Session, skus: Iterable[str]) -> dict[str, Product]:
    """The products with these SKUs (unknown ones are left out), read in one query with
    what ordering them needs: family and accounts (their quote), lot and market."""
    query = (
        select(Product)
        .where(Product.sku.in_(set(skus)))
        .options(
            joinedload(Product.family).joinedload(ProductFamily.sales_account),
            joinedload(Product.family).joinedload(ProductFamily.purchase_account),
            joinedload(Product.sales_account),
            joinedload(Product.purchase_account),
            joinedload(Product.lot).joinedload(MarketLot.market),
        )
    )
    return {product.sku: product for product in session.scalars(query).unique()}


def quotes_on(session: Session, products: Iterable[Product], on: date) -> dict[int, PriceQuote]:
    """:func:`price_on` of several products in one query, by product id; a product with no
    active version covering ``on`` is left out (``price_on`` would raise ``NoPriceInForce``)."""
    by_id = {product.id: product for product in products}
    if not by_id:
        return {}
    versions = session.scalars(
        select(PriceVersion).where(PriceVersion.product_id.in_(by_id), _in_force_on(on))
    )
    return {version.product_id: _quote(by_id[version.product_id], version) for version in versions}


def _quote(product: Product, version: PriceVersion) -> PriceQuote:
    family = product.family
    wholesale = family.purchase_mode is PurchaseMode.WHOLESALER
    sales_account = product.ledger_sales_account if wholesale else None
    purchase_account = product.ledger_purchase_account if wholesale else None
    return PriceQuote(
        product_id=product.id,
        sku=product.sku,
        price_version_id=version.id,
        supplier_cost=version.supplier_cost,
        sale_price=version.effective_sale_price,
        setup_fee_cost=version.setup_fee_cost,
        setup_fee_price=version.effective_setup_fee_price,
        vat_rate=product.vat_rate,
        billing=product.billing,
        subsidy_eligible=product.subsidy_eligible,
        purchase_mode=family.purchase_mode,
        family_code=family.code,
        sales_account=sales_account.number if sales_account else None,
        purchase_account=purchase_account.number if purchase_account else None,
        deliberation=version.deliberation,
        lot_id=product.lot_id,
    )


def add_price_version(
    session: Session,
    sku: str,
    *,
    valid_from: date,
    supplier_cost: Decimal,
    valid_to: date | None = None,
    sale_price: Decimal | None = None,
    setup_fee_cost: Decimal | None = None,
    setup_fee_price: Decimal | None = None,
    note: str = "",
    deliberation: Deliberation | None = None,
    draft: bool = False,
    added_by: Actor | None,
) -> PriceVersion:
    """Record new prices of a product from ``valid_from``, in force or as a draft.

    In force (the default), the version needs the ``deliberation`` that set it: an
    open-ended version that started earlier is closed on the eve of ``valid_from`` (a new
    price list replaces the current one); any other overlap is refused. A ``draft`` is
    kept aside, priced nothing, until :func:`activate_price_version`. The new version
    copies the family's current margin rate and the deliberation that set it. Past orders
    are unaffected: they keep the quote of their own date.
    """
    with transaction(session):
        product = _lock_product(session, select(Product).where(Product.sku == sku))
        if product is None:
            raise ProductNotFound(sku)
        if valid_to is not None and valid_to < valid_from:
            raise ValidationFailed("must not be before valid_from", field="valid_to")
        terms = PriceTerms(supplier_cost, sale_price, setup_fee_cost, setup_fee_price)
        problems = price_problems(
            terms, purchase_mode=product.family.purchase_mode, billing=product.billing
        )
        if problems:
            raise ValidationFailed(
                f"prices refused for {sku}", errors={f: [m] for f, m in problems.items()}
            )
        if not draft and deliberation is None:
            raise DeliberationRequired()
        if deliberation is not None:
            ensure_deliberation_date(session, deliberation, field="deliberation")
        same_start = next((v for v in product.price_versions if v.valid_from == valid_from), None)
        if same_start is not None:
            raise Conflict(
                f"a {same_start.status.value} version of {sku} already starts on "
                f"{valid_from.isoformat()}",
                field="valid_from",
            )
        version = PriceVersion(
            product=product,
            status=PriceVersionStatus.DRAFT,
            valid_from=valid_from,
            valid_to=valid_to,
            supplier_cost=supplier_cost,
            sale_price=sale_price,
            margin_rate=product.family.margin_rate,
            margin_deliberation=product.family.margin_deliberation,
            setup_fee_cost=setup_fee_cost,
            setup_fee_price=setup_fee_price,
            note=note,
            deliberation=deliberation,
        )
        session.add(version)
        session.flush()
        record_change(
            session,
            actor=added_by,
            action="price_version.created",
            entity="price_version",
            entity_id=version.id,
            after=snapshot(version),
        )
        if not draft:
            _put_in_force(session, product, version, deliberation, actor=added_by)
    return version


def activate_price_version(
    session: Session,
    version_id: int,
    *,
    deliberation: Deliberation | None = None,
    activated_by: Actor | None,
) -> PriceVersion:
    """Put a draft price version in force, with the deliberation that set its prices.

    The deliberation is the one given, else the one recorded with the draft; without
    either the activation is refused (field ``deliberation``). The version then follows
    the rules of prices in force: it closes an earlier open-ended version on the eve of
    its start, and any other overlap is refused.
    """
    with transaction(session):
        product_id = session.scalar(
            select(PriceVersion.product_id).where(PriceVersion.id == version_id)
        )
        if product_id is None:
            raise NotFound(f"no price version with id {version_id}", field="version_id")
        # Locked through its product, like every change to the product's prices.
        product = _lock_product(session, select(Product).where(Product.id == product_id))
        version = next(v for v in product.price_versions if v.id == version_id)
        if version.is_active:
            raise Conflict(f"price version {version_id} is already in force", field="status")
        deliberation = deliberation or version.deliberation
        if deliberation is None:
            raise DeliberationRequired()
        ensure_deliberation_date(session, deliberation, field="deliberation")
        _put_in_force(session, product, version, deliberation, actor=activated_by)
    return version


def _lock_product(session: Session, query: Select) -> Product | None:
    """The product, its family and versions, locked: serialises the price rules per product.

    Two overlapping versions put in force at once cannot both pass the checks on
    PostgreSQL; once locked, its versions are read afresh.
    """
    return session.scalar(
        query.options(joinedload(Product.family), selectinload(Product.price_versions))
        .with_for_update(of=Product)
        .execution_options(populate_existing=True)
    )


def _put_in_force(
    session: Session,
    product: Product,
    version: PriceVersion,
    deliberation: Deliberation,
    *,
    actor: Actor | None,
) -> None:
    """Make ``version`` active with ``deliberation``: an earlier open-ended active version
    is closed on the eve of its start; any other overlap with an active version is refused."""
    before = snapshot(version)
    new = version.validity
    to_close: PriceVersion | None = None
    for existing in product.active_price_versions:
        if existing is version or not existing.validity.overlaps(new):
            continue
        if existing.valid_to is None and existing.valid_from < new.valid_from and to_close is None:
            to_close = existing
            continue
        raise PriceVersionOverlap(new, existing.validity)

    if to_close is not None:
        closing = snapshot(to_close)
        to_close.valid_to = new.valid_from - timedelta(days=1)
        record_change(
            session,
            actor=actor,
            action="price_version.closed",
            entity="price_version",
            entity_id=to_close.id,
            before=closing,
            after=snapshot(to_close),
        )
    version.deliberation = deliberation
    version.status = PriceVersionStatus.ACTIVE
    session.flush()
    record_change(
        session,
        actor=actor,
        action="price_version.activated",
        entity="price_version",
        entity_id=version.id,
        before=before,
        after=snapshot(version),
    )


def recorded_deliberation_dates(session: Session) -> dict[str, date]:
    """Each deliberation reference the catalogue cites, with the date it carries."""
    rows = session.execute(
        select(PriceVersion.deliberation_reference, PriceVersion.deliberation_date)
        .where(PriceVersion.deliberation_reference.is_not(None))
        .distinct()
    ).all()
    rows += session.execute(
        select(PriceVersion.margin_deliberation_reference, PriceVersion.margin_deliberation_date)
        .where(PriceVersion.margin_deliberation_reference.is_not(None))
        .distinct()
    ).all()
    rows += session.execute(
        select(ProductFamily.margin_deliberation_reference, ProductFamily.margin_deliberation_date)
        .where(ProductFamily.margin_deliberation_reference.is_not(None))
        .distinct()
    ).all()
    return {reference: adopted_on for reference, adopted_on in rows}


def ensure_deliberation_date(session: Session, deliberation: Deliberation, *, field: str) -> None:
    """Refuse a deliberation whose reference the catalogue records with another date."""
    recorded = recorded_deliberation_dates(session).get(deliberation.reference)
    if recorded is not None and recorded != deliberation.adopted_on:
        raise DeliberationDateClash(deliberation, recorded, field=field)


# --- Framework markets ------------------------------------------------------------------


def list_markets(session: Session) -> list[Market]:
    """Every framework market with its lots and their holders, by number."""
    query = (
        select(Market)
        .options(selectinload(Market.lots).joinedload(MarketLot.supplier))
        .order_by(Market.number)
    )
    return list(session.scalars(query))


def markets_expiring(
    session: Session, *, on: date, within_days: int = EXPIRY_WARNING_DAYS
) -> list[Market]:
    """Markets still in force on ``on`` whose last day falls within ``within_days``,
    soonest first: what the purchasing staff must renew (a new consultation takes months)."""
    if within_days < 0:
        raise ValidationFailed("must be 0 or more", field="within")
    query = (
        select(Market)
        .where(Market.end_date >= on, Market.end_date <= on + timedelta(days=within_days))
        .options(selectinload(Market.lots).joinedload(MarketLot.supplier))
        .order_by(Market.end_date, Market.number)
    )
    return list(session.scalars(query))
