"""Sample invoice documents for the billing document tests: plain functions, keyword overrides.

Figures are computed the way the billing services will: line amounts with
:func:`line_net_amount`, totals with :func:`compute_totals`; tests that need a wrong figure
replace it afterwards with :func:`dataclasses.replace`.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from purchasing.billing.document import (
    DocumentKind,
    InvoiceDocument,
    InvoiceLine,
    OperationCategory,
    Party,
    PostalAddress,
    compute_totals,
    line_net_amount,
)

D = Decimal
VAT_20 = D("0.2000")
VAT_10 = D("0.1000")
VAT_5_5 = D("0.0550")

SELLER = Party(
    name="Syndicat mixte numérique Nord-Pas-de-Calais",
    address=PostalAddress(lines=("12 rue de l'Hôtel de Ville",), postal_code="59000", city="Lille"),
    siret="25590012800018",
    vat_number="FR07255900128",
    email="centrale@syndicat-numerique.example",
)
BUYER = Party(
    name="Commune de Wattignies",
    address=PostalAddress(
        lines=("Hôtel de ville", "1 place de la République"), postal_code="59139", city="Wattignies"
    ),
    siret="21590636800017",
)
IBAN = "FR7630001007941234567890185"
BIC = "BDFEFRPPCCT"


def make_line(
    position: int = 1,
    *,
    quantity: str = "1",
    unit_price: str = "100.00",
    vat_rate: Decimal = VAT_20,
    aid_amount: str | None = None,
    aid_in_vat_base: bool = True,
    prorata_days: int | None = None,
    period_days: int | None = None,
    **overrides: Any,
) -> InvoiceLine:
    """A line whose net amount is computed from its price, quantity, prorata and aid."""
    aid = D(aid_amount) if aid_amount is not None else None
    values: dict[str, Any] = {
        "position": position,
        "designation": f"Service n° {position}",
        "quantity": D(quantity),
        "unit": "mois",
        "unit_price": D(unit_price),
        "vat_rate": vat_rate,
        "net_amount": line_net_amount(
            D(unit_price),
            D(quantity),
            aid,
            aid_in_vat_base=aid_in_vat_base,
            prorata_days=prorata_days,
            period_days=period_days,
        ),
        "prorata_days": prorata_days,
        "period_days": period_days,
        "aid_amount": aid,
        "aid_label": "Programme Mairie Connectée 2024-2026" if aid is not None else None,
    }
    values.update(overrides)
    return InvoiceLine(**values)


def make_document(lines: list[InvoiceLine] | None = None, **overrides: Any) -> InvoiceDocument:
    """An invoice (or, with kind=CREDIT_NOTE, a credit note) with consistent totals."""
    kind = DocumentKind(overrides.get("kind", DocumentKind.INVOICE))
    aid_in_vat_base = overrides.get("aid_in_vat_base", True)
    lines = lines if lines is not None else [make_line()]
    issue_date = overrides.get("issue_date", date(2026, 2, 2))
    values: dict[str, Any] = {
        "kind": kind,
        "number": "FA-2026-000123" if kind is DocumentKind.INVOICE else "AV-2026-000004",
        "issue_date": issue_date,
        "seller": SELLER,
        "buyer": BUYER,
        "operation_category": OperationCategory.SERVICES,
        "lines": lines,
        **compute_totals(lines, aid_in_vat_base=aid_in_vat_base).as_fields(),
        "period_start": date(2026, 1, 1),
        "period_end": date(2026, 1, 31),
        "chorus_service_code": "SERV-NUMERIQUE",
        "engagement_number": "EJ-2026-0042",
        "aid_in_vat_base": aid_in_vat_base,
    }
    if kind is DocumentKind.INVOICE:
        values |= {
            "due_date": issue_date + timedelta(days=30),
            "payment_terms": "30 jours",
            "payment_iban": IBAN,
            "payment_bic": BIC,
        }
    else:
        values |= {
            "payment_terms": "Montant déduit du prochain règlement, ou remboursé par virement",
            "corrected_invoice_number": "FA-2026-000123",
            "corrected_invoice_date": date(2026, 2, 2),
        }
    values.update(overrides)
    return InvoiceDocument(**values)


def multi_rate_invoice(**overrides: Any) -> InvoiceDocument:
    """Three VAT rates, a month prorated by day, a fractional quantity and a line note."""
    lines = [
        make_line(
            1,
            designation="Messagerie collaborative - boîte 5 Go",
            quantity="12",
            unit="licence",
            unit_price="4.00",
            period_start=date(2026, 1, 1),
            period_end=date(2026, 1, 31),
        ),
        make_line(
            2,
            designation="Lien fibre 100 Mbit/s",
            quantity="1",
            unit="mois",
            unit_price="189.00",
            prorata_days=17,
            period_days=31,
            period_start=date(2026, 1, 15),
            period_end=date(2026, 1, 31),
            note="Mise en service le 15/01/2026",
        ),
        make_line(
            3,
            designation="Maintenance vidéoprotection - travaux",
            quantity="2.5",
            unit="heure",
            unit_price="65.35",
            vat_rate=VAT_10,
        ),
        make_line(
            4,
            designation="Guide de sensibilisation à la cybersécurité",
            quantity="7",
            unit="unité",
            unit_price="12.37",
            vat_rate=VAT_5_5,
        ),
    ]
    return make_document(lines, **overrides)


def long_invoice(line_count: int = 80, **overrides: Any) -> InvoiceDocument:
    """Enough lines to fill several pages."""
    lines = [
        make_line(
            position,
            designation=f"Caméra de vidéoprotection n° {position} - maintenance mensuelle",
            quantity="1",
            unit_price=f"{20 + position}.{position % 100:02d}",
            period_start=date(2026, 1, 1),
            period_end=date(2026, 1, 31),
        )
        for position in range(1, line_count + 1)
    ]
    return make_document(lines, **overrides)


def credit_note(**overrides: Any) -> InvoiceDocument:
    lines = [
        make_line(
            1,
            designation="Lien fibre 100 Mbit/s - résiliation au 20/01/2026",
            quantity="1",
            unit="mois",
            unit_price="189.00",
            prorata_days=11,
            period_days=31,
            period_start=date(2026, 1, 21),
            period_end=date(2026, 1, 31),
        )
    ]
    return make_document(lines, kind=DocumentKind.CREDIT_NOTE, **overrides)


def aided_invoice(*, aid_in_vat_base: bool, **overrides: Any) -> InvoiceDocument:
    """FEDER aid on two lines out of three, in either VAT treatment."""
    lines = [
        make_line(
            1,
            designation="Module « Mairie connectée » - socle",
            quantity="12",
            unit="mois",
            unit_price="45.00",
            aid_amount="162.00",
            aid_in_vat_base=aid_in_vat_base,
        ),
        make_line(
            2,
            designation="Sauvegarde externalisée 100 Go",
            quantity="12",
            unit="mois",
            unit_price="15.50",
            aid_amount="46.50",
            aid_in_vat_base=aid_in_vat_base,
        ),
        make_line(
            3, designation="Formation des agents", quantity="1", unit="jour", unit_price="650.00"
        ),
    ]
    return make_document(lines, aid_in_vat_base=aid_in_vat_base, **overrides)
