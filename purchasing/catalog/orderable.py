"""What placing an order line reads of the catalogue, kept per catalogue version.

Every order line checks its product (offered, in a service domain, bought under a market
lot in force) and freezes its prices of the order date. Read from the database for each
order, that is two queries joining seven tables and some twenty ORM objects built, for
data that changes a few times a year. :func:`orderable_products` gives the same facts as
plain frozen values, kept in each process under the catalogue's version
(:mod:`purchasing.catalog.versions`), the order date and the SKU: one small query reads the
version, and a catalogue write makes every value kept before it unreachable in the same
transaction. As with the API's page cache, the version is read before the catalogue, so a
value is never kept under a version newer than the data it was built from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from purchasing.catalog.models import MarketLot, Product, ServiceDomain
from purchasing.catalog.page_cache import LruCache
from purchasing.catalog.services import PriceQuote, products_by_sku, quotes_on
from purchasing.catalog.versions import catalog_version

__all__ = ["LotTerm", "OrderableProduct", "as_orderable", "orderable_products"]

#: (version, day, SKU) kept per process: a few hundred products a day, over a few days.
CACHE_SIZE = 4096


@dataclass(frozen=True)
class LotTerm:
    """The framework market lot an item is bought under and its market's days."""

    lot_id: int
    #: As documents cite it: "MAR-2023-01 lot 2".
    reference: str
    start_date: date
    end_date: date

    @classmethod
    def of(cls, lot: MarketLot) -> LotTerm:
        market = lot.market
        return cls(lot.id, lot.reference, market.start_date, market.end_date)

    def covers(self, day: date) -> bool:
        return self.start_date <= day <= self.end_date


@dataclass(frozen=True)
class OrderableProduct:
    """A product as an order line placed on one day needs it."""

    product_id: int
    sku: str
    name: str
    unit: str
    supplier_id: int
    active: bool
    service_domain: ServiceDomain
    #: None for a product recorded before markets were (it cannot be ordered).
    lot: LotTerm | None
    #: Its prices in force on the day; None if no active version covers it.
    quote: PriceQuote | None


class _Unknown:
    """Kept for a SKU no product has, so that asking again reads nothing."""


_UNKNOWN = _Unknown()
_cache: LruCache[OrderableProduct | _Unknown] = LruCache(CACHE_SIZE)


def orderable_products(
    session: Session, skus: Iterable[str], on: date
) -> dict[str, OrderableProduct]:
    """The products with these SKUs as ordering them on ``on`` needs (unknown SKUs are
    left out), from this process's cache when the catalogue has not changed since."""
    version = catalog_version(session)
    wanted = set(skus)
    found: dict[str, OrderableProduct | _Unknown] = {}
    if version is not None:  # a database without its version row: nothing is kept
        for sku in wanted:
            value = _cache.get((version, on, sku))
            if value is not None:
                found[sku] = value
    missing = wanted - found.keys()
    if missing:
        products = products_by_sku(session, missing)
        quotes = quotes_on(session, products.values(), on)
        for sku in missing:
            product = products.get(sku)
            value = _UNKNOWN if product is None else as_orderable(product, quotes.get(product.id))
            found[sku] = value
            if version is not None:
                _cache.put((version, on, sku), value)
    return {sku: value for sku, value in found.items() if isinstance(value, OrderableProduct)}


def as_orderable(product: Product, quote: PriceQuote | None) -> OrderableProduct:
    """``product`` and its prices ``quote`` of a day, as plain values."""
    lot = product.lot
    return OrderableProduct(
        product_id=product.id,
        sku=product.sku,
        name=product.name,
        unit=product.unit,
        supplier_id=product.supplier_id,
        active=product.active,
        service_domain=product.family.service_domain,
        lot=None if lot is None else LotTerm.of(lot),
        quote=quote,
    )
