"""The audit trail for auditors: who changed what, when, and the values before and after.

The search reads the API's query schema; a person picks days rather than instants, so the
page adds a range of days (in Paris time) that becomes the API's ``since``/``until``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, render_template, request
from marshmallow import ValidationError, fields, post_load, validates_schema

from purchasing.audit import services
from purchasing.audit.models import AuditRecord
from purchasing.audit.schemas import AuditQuerySchema
from purchasing.auth.access import allow
from purchasing.auth.roles import Role
from purchasing.db import get_session
from purchasing.fields import PARIS
from purchasing.pages import query_args

bp = Blueprint("audit_pages", __name__)

#: The roles the audit trail API allows (audit/views.py).
READERS = (Role.AUDITOR, Role.ADMIN)

#: What the records are about, in French; an entity missing here is shown as recorded.
ENTITY_LABELS = {
    "account": "Compte comptable",
    "adhesion": "Adhésion",
    "adhesion_fee_band": "Barème de cotisation",
    "api_token": "Jeton d'API",
    "delivery": "Livraison",
    "fiscal_year": "Exercice comptable",
    "invoice": "Facture",
    "journal_entry": "Écriture comptable",
    "member": "Membre",
    "order": "Commande",
    "order_line": "Ligne de commande",
    "payment": "Paiement",
    "price_version": "Version de prix",
    "product": "Produit",
    "product_family": "Famille de produits",
    "purchase_order": "Bon de commande fournisseur",
    "subscription": "Abonnement",
    "subsidy_programme": "Programme FEDER",
    "subsidy_receipt": "Versement de subvention",
    "subsidy_reversal": "Reversement à un partenaire",
    "supplier": "Fournisseur",
    "supplier_invoice": "Facture fournisseur",
    "user": "Utilisateur",
}


class TrailQuerySchema(AuditQuerySchema):
    """The API's search, with days (``date_from`` to ``date_to`` included) for instants."""

    date_from = fields.Date()
    date_to = fields.Date()

    @validates_schema
    def _days_in_order(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ValidationError("La date de fin précède la date de début.", "date_to")

    @post_load
    def _days_as_instants(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        first: date | None = data.pop("date_from", None)
        last: date | None = data.pop("date_to", None)
        if first is not None:
            data["since"] = datetime.combine(first, time.min, tzinfo=PARIS)
        if last is not None:
            data["until"] = datetime.combine(last + timedelta(days=1), time.min, tzinfo=PARIS)
        return data


@dataclass(frozen=True)
class Change:
    """One value of a record: as it was, as it became (None where the record has no side)."""

    field: str
    before: str | None
    after: str | None


@bp.get("/audit")
@allow(*READERS)
def trail() -> Any:
    """Search the audit trail by entity, id, action, user and days, newest first."""
    args, errors = query_args(TrailQuerySchema(exclude=("since", "until")))
    page, per_page = args.pop("page"), args.pop("per_page")
    found = services.search_records(
        get_session(), services.AuditFilters(**args), page=page, per_page=per_page
    )
    entity = request.args.get("entity", "")
    entities = dict(ENTITY_LABELS)
    if entity and entity not in entities:  # keep an entity typed in the address selected
        entities[entity] = entity
    return render_template(
        "audit/trail.html",
        page=found,
        filter_errors=errors,
        entities=sorted(entities.items(), key=lambda item: item[1]),
        entity_labels=ENTITY_LABELS,
        changes={record.id: changes_of(record) for record in found.items},
        moment=paris_moment,
    )


def changes_of(record: AuditRecord) -> list[Change]:
    """Each field the record holds, its value before and after, as text."""
    before, after = record.before or {}, record.after or {}
    return [
        Change(
            field,
            _text(before[field]) if field in before else None,
            _text(after[field]) if field in after else None,
        )
        for field in sorted(before.keys() | after.keys())
    ]


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def paris_moment(moment: datetime) -> str:
    """An instant as read in Paris: 23/11/2026 à 09:15:02."""
    return f"{moment.astimezone(PARIS):%d/%m/%Y à %H:%M:%S}"
