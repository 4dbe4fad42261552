"""What the billing services need to know about the seller, read once from the config.

Services take a :class:`BillingSettings`; they never read the application's config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from purchasing.billing.document import Party, PostalAddress
from purchasing.billing.rendering import DEFAULT_RENDERER, check_renderer


@dataclass(frozen=True)
class BillingSettings:
    seller: Party
    iban: str
    bic: str
    #: Days from issue to due date (30 for public buyers).
    payment_days: int = 30
    #: Who draws the PDFs: "weasyprint" (the templates) or "reportlab" (faster).
    invoice_renderer: str = "weasyprint"

    @property
    def payment_terms(self) -> str:
        return f"paiement à {self.payment_days} jours à compter de la date d'émission"

    @property
    def credit_note_terms(self) -> str:
        """What a credit note says in place of payment terms: nothing is paid on it."""
        return (
            "Montant déduit de la facture corrigée ; la part déjà réglée est remboursée "
            "par virement"
        )


def settings_from_config(config: Mapping[str, Any]) -> BillingSettings:
    seller = config["SELLER"]
    return BillingSettings(
        seller=Party(
            name=seller["name"],
            address=PostalAddress(
                lines=(seller["address"],), postal_code=seller["postal_code"], city=seller["city"]
            ),
            siret=seller["siret"],
            vat_number=seller["vat_number"],
            email=seller.get("email"),
        ),
        iban=seller["iban"],
        bic=seller["bic"],
        payment_days=int(config.get("PAYMENT_DAYS", 30)),
        invoice_renderer=check_renderer(config.get("INVOICE_RENDERER", DEFAULT_RENDERER)),
    )
