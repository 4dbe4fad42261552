"""Placeholder: replaced by the catalog domain's views."""

from purchasing.api import Blueprint as ApiBlueprint

api_bp = ApiBlueprint("catalog_api", __name__, "/catalog", description="catalog")
