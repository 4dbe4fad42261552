"""Catalogue factories: persisted rows with sensible defaults, every field overridable.

Rows are built directly (the catalogue is created by its loader, which works on files);
the defaults satisfy the same rules the loader checks: a family maps to a service domain
and cites the deliberation of its margin, a product is bought under a lot of a framework
market held by its supplier (by default a lot of the long test market, without ceiling),
and its price version is in force with its deliberation.
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum import luhn

from purchasing.catalog.deliberations import Deliberation
from purchasing.catalog.models import (
    Account,
    Market,
    MarketLot,
    PriceVersion,
    PriceVersionStatus,
    Product,
    ProductFamily,
    ServiceDomain,
    Supplier,
)
from purchasing.catalog.pricing import Billing, PurchaseMode

_seq = itertools.count(1)

#: The deliberation of factory tariffs (margin rates and prices) unless told otherwise.
TARIFF_DELIBERATION = Deliberation("T-2024-50", date(2024, 12, 10))
#: The market of factory products: in force long before and after any test date.
TEST_MARKET = "MAR-TEST"
TEST_MARKET_START = date(2020, 1, 1)
TEST_MARKET_END = date(2099, 12, 31)


def make_account(session: Session, number: str, label: str | None = None) -> Account:
    """The account with this number, created if the chart does not have it yet."""
    account = session.scalar(select(Account).where(Account.number == number))
    if account is None:
        account = Account(number=number, label=label or f"Compte {number}")
        session.add(account)
        session.commit()
    return account


def _account(session: Session, value: Account | str | None) -> Account | None:
    return make_account(session, value) if isinstance(value, str) else value


def make_family(session: Session, **kw) -> ProductFamily:
    """A wholesaler family with a 5.38 % margin, or ``purchase_mode="intermediary"``.

    ``sales_account`` / ``purchase_account`` take an Account or a number; a wholesaler
    family defaults to 7062 / 6042, an intermediary one to none. Its service domain is
    the one its code names, else Mairie Connectée.
    """
    n = next(_seq)
    mode = PurchaseMode(kw.pop("purchase_mode", PurchaseMode.WHOLESALER))
    wholesale = mode is PurchaseMode.WHOLESALER
    code = kw.pop("code", f"family_{n}")
    domain = code if code in set(ServiceDomain) else ServiceDomain.MAIRIE_CONNECTEE
    family = ProductFamily(
        code=code,
        service_domain=ServiceDomain(kw.pop("service_domain", domain)),
        margin_deliberation=kw.pop("margin_deliberation", TARIFF_DELIBERATION),
        name=kw.pop("name", f"Famille {n}"),
        purchase_mode=mode,
        margin_rate=kw.pop("margin_rate", Decimal("0.0538") if wholesale else Decimal("0")),
        sales_account=_account(session, kw.pop("sales_account", "7062" if wholesale else None)),
        purchase_account=_account(
            session, kw.pop("purchase_account", "6042" if wholesale else None)
        ),
        **kw,
    )
    session.add(family)
    session.commit()
    return family


def siret_for(n: int) -> str:
    """A checksum-valid SIRET, distinct for each ``n``."""
    siren = f"{70000000 + n:08d}"
    siren += luhn.calc_check_digit(siren)
    nic = "0001"
    return siren + nic + luhn.calc_check_digit(siren + nic)


def make_supplier(session: Session, **kw) -> Supplier:
    n = next(_seq)
    supplier = Supplier(
        code=kw.pop("code", f"SUP-{n}"),
        name=kw.pop("name", f"Fournisseur {n}"),
        siret=kw.pop("siret", siret_for(n)),
        vat_number=kw.pop("vat_number", None),
        address=kw.pop("address", f"{n} rue du Marché"),
        postal_code=kw.pop("postal_code", "59000"),
        city=kw.pop("city", "Lille"),
        email=kw.pop("email", f"contact{n}@fournisseur.example"),
        **kw,
    )
    session.add(supplier)
    session.commit()
    return supplier


def make_market(session: Session, **kw) -> Market:
    """A framework market, in force from 2020 to 2099 unless told otherwise."""
    n = next(_seq)
    market = Market(
        number=kw.pop("number", f"MAR-T{n:04d}"),
        title=kw.pop("title", f"Marché de test {n}"),
        start_date=kw.pop("start_date", TEST_MARKET_START),
        end_date=kw.pop("end_date", TEST_MARKET_END),
        **kw,
    )
    session.add(market)
    session.commit()
    return market


def make_lot(
    session: Session,
    *,
    supplier: Supplier | None = None,
    market: Market | None = None,
    yearly_ceiling: Decimal | str | None = None,
    **kw,
) -> MarketLot:
    """A lot held by ``supplier`` (a new one by default), of ``market`` (a new one)."""
    n = next(_seq)
    lot = MarketLot(
        market=market or make_market(session),
        number=kw.pop("number", str(n)),
        title=kw.pop("title", f"Lot {n}"),
        supplier=supplier or make_supplier(session),
        yearly_ceiling=None if yearly_ceiling is None else Decimal(yearly_ceiling),
        **kw,
    )
    session.add(lot)
    session.commit()
    return lot


def supplier_lot(session: Session, supplier: Supplier) -> MarketLot:
    """The supplier's lot of the long test market, created when missing."""
    market = session.scalar(select(Market).where(Market.number == TEST_MARKET))
    if market is None:
        market = make_market(session, number=TEST_MARKET, title="Marché de test")
    lot = session.scalar(
        select(MarketLot).where(
            MarketLot.market_id == market.id, MarketLot.supplier_id == supplier.id
        )
    )
    return lot or make_lot(session, supplier=supplier, market=market, number=f"S{supplier.id}")


def make_product(
    session: Session,
    *,
    cost: Decimal | str | None = Decimal("100.00"),
    price: Decimal | str | None = None,
    valid_from: date = date(2025, 1, 1),
    valid_to: date | None = None,
    setup_fee_cost: Decimal | str | None = None,
    setup_fee_price: Decimal | str | None = None,
    deliberation: Deliberation | None = TARIFF_DELIBERATION,
    price_status: PriceVersionStatus | str = PriceVersionStatus.ACTIVE,
    **kw,
) -> Product:
    """A monthly product with one price version from 2025-01-01, open-ended, in force.

    ``cost`` / ``price`` set that version's supplier cost and explicit sale price (None:
    derived); ``cost=None`` makes a product without any price version; ``price_status``
    and ``deliberation`` make it a draft, or cite another act. ``family`` and ``supplier``
    default to new ones, ``lot`` to the supplier's lot of the long test market (a lot
    given brings its holder as the supplier); account overrides take an Account or a
    number; every other column is a keyword.
    """
    n = next(_seq)
    family = kw.pop("family", None) or make_family(session)
    lot = kw.pop("lot", None)
    supplier = kw.pop("supplier", None) or (lot.supplier if lot else make_supplier(session))
    lot = lot or supplier_lot(session, supplier)
    product = Product(
        sku=kw.pop("sku", f"TEST-{n}"),
        name=kw.pop("name", f"Produit {n}"),
        description=kw.pop("description", ""),
        family=family,
        supplier=supplier,
        lot=lot,
        market_reference=kw.pop("market_reference", lot.reference),
        unit=kw.pop("unit", "licence"),
        billing=Billing(kw.pop("billing", Billing.MONTHLY)),
        vat_rate=kw.pop("vat_rate", Decimal("0.2000")),
        subsidy_eligible=kw.pop("subsidy_eligible", False),
        active=kw.pop("active", True),
        sales_account=_account(session, kw.pop("sales_account", None)),
        purchase_account=_account(session, kw.pop("purchase_account", None)),
        **kw,
    )
    session.add(product)
    if cost is not None:
        session.add(
            PriceVersion(
                product=product,
                status=PriceVersionStatus(price_status),
                deliberation=deliberation,
                valid_from=valid_from,
                valid_to=valid_to,
                supplier_cost=Decimal(cost),
                sale_price=None if price is None else Decimal(price),
                margin_rate=family.margin_rate,
                margin_deliberation=family.margin_deliberation,
                setup_fee_cost=None if setup_fee_cost is None else Decimal(setup_fee_cost),
                setup_fee_price=None if setup_fee_price is None else Decimal(setup_fee_price),
            )
        )
    session.commit()
    return product
