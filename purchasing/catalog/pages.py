"""The catalogue as people browse it: families, search, a product's prices and aid.

Every signed-in user may browse it. A member agent sees what its collectivity would pay,
and the FEDER aid it would get where it is eligible; it never sees what the centre pays.
The centre's staff also see the supplier cost and the margin of each price. Prices are
those in force today (Paris).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, render_template

from purchasing.auth.access import allow, allow_any_user, current_actor
from purchasing.auth.roles import STAFF_ROLES, Actor, Role
from purchasing.catalog import services
from purchasing.catalog.pricing import Billing, PurchaseMode
from purchasing.catalog.schemas import MarketsExpiringQuerySchema, ProductQuerySchema
from purchasing.db import get_session
from purchasing.fields import today_in_paris
from purchasing.orders.markets import expiring_markets
from purchasing.pages import query_args
from purchasing.subsidies.services import AidEstimate, PricedLine, estimate_aid

bp = Blueprint("catalog_pages", __name__)

BILLING_LABELS = {
    Billing.ONE_OFF: "Ponctuel",
    Billing.MONTHLY: "Abonnement mensuel",
    Billing.YEARLY: "Abonnement annuel",
}
#: After a recurring price: "12,00 € HT par mois".
PERIOD_LABELS = {Billing.ONE_OFF: "", Billing.MONTHLY: "par mois", Billing.YEARLY: "par an"}
PURCHASE_MODE_LABELS = {
    PurchaseMode.WHOLESALER: "Acheté et refacturé par la centrale",
    PurchaseMode.INTERMEDIARY: "Contrat direct avec le titulaire du marché",
}
#: The catalogue's own filters; the family is in the path, the date is always today.
QUERY_FIELDS = ("q", "billing", "page", "per_page")


@bp.get("/catalogue", defaults={"family": None})
@bp.get("/catalogue/<family>")
@allow_any_user
def catalogue(family: str | None) -> Any:
    """The catalogue, or one family of it: search, prices of the day and aid."""
    args, errors = query_args(ProductQuerySchema(only=QUERY_FIELDS))
    session = get_session()
    families = services.list_families(session)
    current = next((f for f in families if f.code == family), None)
    if family is not None and current is None:
        abort(404)
    today = today_in_paris()
    found = services.search_products(session, on=today, family=family, **args)
    actor = current_actor()
    return render_template(
        "catalog/catalogue.html",
        families=families,
        family=current,
        page=found,
        today=today,
        aids=_unit_aids(actor, found.items),
        filter_errors=errors,
        shows_costs=actor.role in STAFF_ROLES,
        orders=actor.role is Role.MEMBER,
        billing_labels=BILLING_LABELS,
        period_labels=PERIOD_LABELS,
    )


@bp.get("/catalogue/products/<sku>")
@allow_any_user
def product(sku: str) -> Any:
    """One product: its prices of the day, the aid of the member, how it is bought."""
    return render_product(sku)


def render_product(sku: str, *, cart_form: Any = None, status: int = 200) -> Any:
    """The product page; ``cart_form`` is a refused add-to-cart form to show again."""
    today = today_in_paris()
    priced = services.get_priced_product(get_session(), sku, on=today)
    actor = current_actor()
    return render_template(
        "catalog/product.html",
        priced=priced,
        product=priced.product,
        price=priced.price,
        today=today,
        aid=_unit_aids(actor, [priced]).get(priced.product.id),
        shows_costs=actor.role in STAFF_ROLES,
        orders=actor.role is Role.MEMBER and priced.product.active,
        cart_form=cart_form,
        billing_labels=BILLING_LABELS,
        period_labels=PERIOD_LABELS,
        purchase_mode_labels=PURCHASE_MODE_LABELS,
    ), status


#: Who renews the framework markets: the purchasing staff.
MARKET_MANAGERS = (Role.PURCHASING, Role.ADMIN)


@bp.get("/markets/expiring")
@allow(*MARKET_MANAGERS)
def markets_expiring() -> Any:
    """Markets about to end: lots, holders, days left, ceiling and consumption of the year."""
    args, errors = query_args(MarketsExpiringQuerySchema(only=("within",)))
    today = today_in_paris()
    return render_template(
        "catalog/markets_expiring.html",
        markets=expiring_markets(get_session(), on=today, within_days=args["within"]),
        today=today,
        within=args["within"],
        filter_errors=errors,
    )


def _unit_aids(actor: Actor, priced: Iterable[services.PricedProduct]) -> dict[int, AidEstimate]:
    """The aid a member agent's collectivity would get on one unit of each product.

    Each product is estimated on its own: products of a list are alternatives, not the
    lines of one invoice sharing an envelope. Staff order for no member: no aid shown.
    """
    if actor.role is not Role.MEMBER or actor.member_id is None:
        return {}
    session = get_session()
    today = today_in_paris()
    aids: dict[int, AidEstimate] = {}
    for item in priced:
        if item.price is None or not item.product.subsidy_eligible:
            continue
        line = PricedLine(
            key=item.product.id,
            product_id=item.product.id,
            subsidy_eligible=True,
            quantity=Decimal(1),
            gross_amount=item.price.effective_sale_price,
            vat_rate=item.product.vat_rate,
        )
        aids |= estimate_aid(session, member_id=actor.member_id, on=today, lines=[line])
    return aids
