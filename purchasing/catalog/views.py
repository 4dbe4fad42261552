"""API of the catalogue: families, products with their prices, suppliers, accounts.

Members and staff read the same resources, but a member never sees what the centre pays
(supplier costs, margin rates) nor its internal notes: views answering both dump with the
member or the staff schema according to the caller's role. The OpenAPI document shows
the staff schema, whose extra fields members do not receive.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify
from marshmallow import RAISE, Schema

from purchasing.api import Blueprint as ApiBlueprint
from purchasing.auth.access import allow, allow_any_user, current_actor
from purchasing.auth.roles import STAFF_ROLES, Role
from purchasing.catalog import services
from purchasing.catalog.page_cache import page_cache
from purchasing.catalog.schemas import (
    AccountSchema,
    FamilySchema,
    MarketSchema,
    MarketsExpiringQuerySchema,
    PriceActivationSchema,
    PriceOnQuerySchema,
    PriceVersionCreateSchema,
    ProductDetailSchema,
    ProductPageSchema,
    ProductQuerySchema,
    StaffFamilySchema,
    StaffPriceSchema,
    StaffProductDetailSchema,
    StaffProductPageSchema,
    SupplierSchema,
)
from purchasing.db import get_session

api_bp = ApiBlueprint(
    "catalog_api",
    __name__,
    "/catalog",
    description="Catalogue: families, products and their prices, suppliers, chart of accounts",
)

STAFF = tuple(sorted(STAFF_ROLES))
MEMBER_VIEW = "Member users receive it without supplier costs, margin rates, notes and accounts."


def _is_staff() -> bool:
    return current_actor().role in STAFF_ROLES


def _dump_for_caller(data: Any, *, member: Schema, staff: Schema) -> Response:
    return jsonify((staff if _is_staff() else member).dump(data))


@api_bp.route("/families", methods=["GET"])
@api_bp.response(200, StaffFamilySchema(many=True), description=MEMBER_VIEW)
@allow_any_user
def list_families() -> Any:
    """Families of the catalogue."""
    families = services.list_families(get_session())
    return _dump_for_caller(
        families, member=FamilySchema(many=True), staff=StaffFamilySchema(many=True)
    )


#: Built once: building a schema (and its nested ones) costs more than a dump.
_PAGE_SCHEMAS = {"member": ProductPageSchema(), "staff": StaffProductPageSchema()}


@api_bp.route("/products", methods=["GET"])
# An instance, not the class: webargs would build a schema for every request.
@api_bp.arguments(ProductQuerySchema(), location="query", unknown=RAISE)
@api_bp.response(200, StaffProductPageSchema, description=MEMBER_VIEW)
@allow_any_user
def list_products(query: dict) -> Any:
    """Active products, each with its price in force on a date (default today)."""
    session = get_session()
    # Answers are kept per catalogue version, audience and parsed query ("today" resolved).
    cache = page_cache(current_app, "catalog.products")
    key = cache.key(services.catalog_version(session), "staff" if _is_staff() else "member", query)

    def build() -> Response:
        page = services.search_products(session, **query)
        return _dump_for_caller(page, member=_PAGE_SCHEMAS["member"], staff=_PAGE_SCHEMAS["staff"])

    return cache.response(current_app, key, build)


@api_bp.route("/products/<sku>", methods=["GET"])
@api_bp.arguments(PriceOnQuerySchema, location="query", unknown=RAISE)
@api_bp.response(200, StaffProductDetailSchema, description=MEMBER_VIEW)
@api_bp.alt_response(404, response="NOT_FOUND")
@allow_any_user
def get_product(query: dict, sku: str) -> Any:
    """One product, its price in force on a date (default today) and all its versions."""
    priced = services.get_priced_product(get_session(), sku, on=query["on"])
    return _dump_for_caller(priced, member=ProductDetailSchema(), staff=StaffProductDetailSchema())


@api_bp.route("/products/<sku>/prices", methods=["POST"])
@api_bp.arguments(PriceVersionCreateSchema)
@api_bp.response(201, StaffPriceSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(Role.PURCHASING, Role.ADMIN)
def add_price_version(data: dict, sku: str) -> Any:
    """Add a price version, in force with its deliberation or as a draft; an open-ended
    current version is closed the day before one put in force."""
    return services.add_price_version(get_session(), sku, **data, added_by=current_actor())


@api_bp.route("/price-versions/<int:version_id>/activate", methods=["POST"])
@api_bp.arguments(PriceActivationSchema)
@api_bp.response(200, StaffPriceSchema)
@api_bp.alt_response(404, response="NOT_FOUND")
@api_bp.alt_response(409, response="CONFLICT")
@allow(Role.PURCHASING, Role.ADMIN)
def activate_price_version(data: dict, version_id: int) -> Any:
    """Put a draft price version in force, with the deliberation that set its prices."""
    return services.activate_price_version(
        get_session(), version_id, **data, activated_by=current_actor()
    )


@api_bp.route("/markets", methods=["GET"])
@api_bp.response(200, MarketSchema(many=True))
@allow(*STAFF)
def list_markets() -> Any:
    """Framework markets, their lots, holders and yearly ceilings."""
    return services.list_markets(get_session())


@api_bp.route("/markets/expiring", methods=["GET"])
@api_bp.arguments(MarketsExpiringQuerySchema, location="query", unknown=RAISE)
@api_bp.response(200, MarketSchema(many=True))
@allow(*STAFF)
def list_markets_expiring(query: dict) -> Any:
    """Markets in force whose last day falls within the next days (default 90), soonest
    first: those to renew."""
    return services.markets_expiring(get_session(), on=query["on"], within_days=query["within"])


@api_bp.route("/suppliers", methods=["GET"])
@api_bp.response(200, SupplierSchema(many=True))
@allow(*STAFF)
def list_suppliers() -> Any:
    """Suppliers holding the centre's framework markets."""
    return services.list_suppliers(get_session())


@api_bp.route("/accounts", methods=["GET"])
@api_bp.response(200, AccountSchema(many=True))
@allow(*STAFF)
def list_accounts() -> Any:
    """Chart of accounts of the purchasing centre's annex budget (M4)."""
    return services.list_accounts(get_session())
