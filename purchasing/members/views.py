"""Placeholder: replaced by the members domain's views."""

from purchasing.api import Blueprint as ApiBlueprint

api_bp = ApiBlueprint("members_api", __name__, "/members", description="members")
