"""Plain factory functions with keyword overrides, one module per domain."""

from tests.factories.auth import make_user
from tests.factories.catalog import make_family, make_product, make_supplier
from tests.factories.members import make_member

__all__ = ["make_family", "make_member", "make_product", "make_supplier", "make_user"]
