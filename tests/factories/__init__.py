"""Plain factory functions with keyword overrides, one module per domain."""

from tests.factories.auth import make_user
from tests.factories.catalog import make_family, make_product, make_supplier
from tests.factories.members import make_member
from tests.factories.orders import (
    catalog_family,
    deliver_everything,
    invoice_in_full,
    make_order,
)
from tests.factories.subsidies import aid_request, make_draft_invoice, make_programme

__all__ = [
    "aid_request",
    "catalog_family",
    "deliver_everything",
    "invoice_in_full",
    "make_draft_invoice",
    "make_family",
    "make_member",
    "make_order",
    "make_product",
    "make_programme",
    "make_supplier",
    "make_user",
]
