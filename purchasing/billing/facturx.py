"""Factur-X XML of an invoice document: UN/CEFACT CII D16B, EN 16931 profile.

:func:`build_facturx_xml` writes the structured twin of the PDF from the same
:class:`~purchasing.billing.document.InvoiceDocument`, so both always say the same thing;
:func:`validate_facturx_xml` checks it against the Factur-X XSD shipped with the
``factur-x`` package (loaded once). The element order follows that XSD.

Identifiers follow the French use of EN 16931 (CIUS-FR, as Chorus Pro reads it):

* legal registration (BT-30 / BT-47): the SIREN, ISO 6523 scheme ``0002``;
* party identifier (BT-29 / BT-46) and electronic address (BT-34 / BT-49): the SIRET,
  scheme ``0009``, by which Chorus Pro finds the establishment;
* buyer reference (BT-10): the Chorus Pro "service exécutant" code; purchase order
  reference (BT-13): the buyer's engagement number.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal
from functools import cache
from importlib.resources import files

import jinja2
from facturx.facturx import FACTURX_LEVEL2xsd
from lxml import etree
from stdnum import iban

from purchasing.billing.document import (
    LATE_PAYMENT_INTEREST_MENTION,
    NO_EARLY_PAYMENT_DISCOUNT_MENTION,
    RECOVERY_INDEMNITY_MENTION,
    VAT_ON_DEBITS_MENTION,
    DocumentKind,
    InvoiceDocument,
    InvoiceLine,
    PostalAddress,
)
from purchasing.money import CENT
from purchasing.pdf import template_environment

#: Name of the embedded file, fixed by the Factur-X specification.
FACTURX_FILENAME = "factur-x.xml"
#: The template of the XML, in the invoice templates' folder.
TEMPLATE = "factur-x.xml"
#: Profile, as written in the XMP metadata of the PDF (fx:ConformanceLevel).
CONFORMANCE_LEVEL = "EN 16931"
GUIDELINE_ID = "urn:cen.eu:en16931:2017"

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NAMESPACES = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}

#: UNTDID 1001 document type codes.
TYPE_CODES = {DocumentKind.INVOICE: "380", DocumentKind.CREDIT_NOTE: "381"}
#: UNTDID 4461: credit transfer. Chorus Pro reads 30 as "virement".
PAYMENT_MEANS_CREDIT_TRANSFER = "30"
#: UNTDID 2475 (CII binding of BT-8): VAT due on the invoice date, i.e. on "débits".
VAT_DUE_ON_INVOICE_DATE = "5"
STANDARD_RATE = "S"
#: ISO 6523 schemes: SIREN (legal registration), SIRET (establishment).
SIREN_SCHEME = "0002"
SIRET_SCHEME = "0009"

#: UN/ECE Recommendation 20 unit codes of the French unit labels used in the catalogue.
#: Anything else is counted as "one" (C62), which EN 16931 accepts for any unit of count.
UNIT_CODES = {
    "unite": "C62",
    "licence": "C62",
    "piece": "H87",
    "forfait": "LS",
    "heure": "HUR",
    "jour": "DAY",
    "semaine": "WEE",
    "mois": "MON",
    "trimestre": "QAN",
    "semestre": "SAN",
    "an": "ANN",
    "annee": "ANN",
    "metre": "MTR",
    "kilometre": "KMT",
    "go": "E34",
    "to": "E35",
}
DEFAULT_UNIT_CODE = "C62"
DAY = UNIT_CODES["jour"]

#: UNTDID 4451 subject codes the French e-invoicing rules give to the payment mentions.
_PAYMENT_NOTES = (
    ("PMD", LATE_PAYMENT_INTEREST_MENTION),
    ("PMT", RECOVERY_INDEMNITY_MENTION),
    ("AAB", NO_EARLY_PAYMENT_DISCOUNT_MENTION),
)


class FacturXInvalid(ValueError):
    """The XML does not validate against the Factur-X XSD."""


def unit_code(label: str) -> str:
    """UN/ECE code of a French unit label: "mois" -> MON, "licences" -> C62, "Jours" -> DAY."""
    key = _fold(label)
    if key in UNIT_CODES:
        return UNIT_CODES[key]
    if key.endswith("s") and key[:-1] in UNIT_CODES:
        return UNIT_CODES[key[:-1]]
    return DEFAULT_UNIT_CODE


def build_facturx_xml(doc: InvoiceDocument) -> bytes:
    """The Factur-X (EN 16931) XML of ``doc``, UTF-8, with an XML declaration.

    ``doc`` is expected to have passed
    :func:`~purchasing.billing.document.check_consistency`; the template
    (``invoices/templates/factur-x.xml``) copies its figures and computes none. Written
    as text rather than built element by element: some seven hundred lxml elements cost
    an invoice four times what its template does, and :func:`validate_facturx_xml`, which
    every rendering calls, parses the result anyway.
    """
    text = _template().render(doc=doc, type_code=TYPE_CODES[doc.kind], notes=_header_notes(doc))
    # The autoescaping writes an apostrophe as "&#39;", which XML text and our
    # double-quoted attributes need not: French wording reads better without. It leaves
    # a carriage return as is, which a reader would take for a line feed.
    return text.replace("&#39;", "'").replace("\r", "&#13;").encode("utf-8")


def validate_facturx_xml(xml: bytes) -> None:
    """Raise :class:`FacturXInvalid` unless ``xml`` validates against the EN 16931 XSD."""
    schema = _en16931_schema()
    try:
        document = etree.fromstring(xml)
    except etree.XMLSyntaxError as exc:  # a character XML forbids, say
        raise FacturXInvalid(f"Factur-X XML not well-formed: {exc}") from None
    if not schema.validate(document):
        errors = "; ".join(f"line {e.line}: {e.message}" for e in schema.error_log)
        raise FacturXInvalid(f"Factur-X XML refused by the EN 16931 XSD: {errors}")


@cache
def _en16931_schema() -> etree.XMLSchema:
    xsd = files("facturx") / "xsd" / FACTURX_LEVEL2xsd["en16931"]
    with xsd.open("rb") as stream:
        # The XSD imports its siblings by relative path: parse it with its own location.
        return etree.XMLSchema(etree.parse(stream, base_url=str(xsd)))


def _header_notes(doc: InvoiceDocument) -> list[tuple[str | None, str]]:
    """The document's notes (BG-1): subject code (UNTDID 4451) or None, and content."""
    notes: list[tuple[str | None, str]] = [(None, note) for note in doc.notes]
    if doc.total_aid:
        notes.append(("AAI", _aid_note(doc)))
    notes.append(("AAI", f"Nature des opérations : {doc.operation_category.label}."))
    if doc.vat_on_debits:
        notes.append(("TXD", VAT_ON_DEBITS_MENTION))
    if not doc.is_credit_note:
        notes.extend(_PAYMENT_NOTES)
    return notes


def _aid_note(doc: InvoiceDocument) -> str:
    aid = _amount(doc.total_aid)
    if doc.aid_in_vat_base:
        return (
            f"Aide FEDER de {aid} EUR : complément de prix versé par le FEDER, inclus dans "
            f"la base de TVA et déduit du montant à payer (montant déjà payé)."
        )
    return (
        f"Aide FEDER de {aid} EUR : réduction de prix, déduite du montant hors taxe des "
        f"lignes concernées avant TVA."
    )


def _line_note(line: InvoiceLine, doc: InvoiceDocument) -> str:
    parts = [line.note] if line.note else []
    if line.is_prorated:
        parts.append(
            f"Prorata {line.prorata_days}/{line.period_days} jours : {_decimal(line.quantity)} "
            f"{line.unit} pendant {line.prorata_days} jours, prix unitaire pour "
            f"{line.period_days} jours"
        )
    if line.aid_amount is not None and doc.aid_in_vat_base:
        parts.append(
            f"dont aide FEDER - {line.aid_label} : {_amount(line.aid_amount)} EUR, "
            f"versée par le FEDER et déduite du montant à payer"
        )
    return " ; ".join(parts)


def _street_lines(address: PostalAddress) -> list[tuple[str, str]]:
    """The street lines of ``address`` by their CII tag: three at most in CII, any further
    line joins the third."""
    street = list(address.lines[:2])
    if len(address.lines) > 2:
        street.append(", ".join(address.lines[2:]))
    return list(zip(("LineOne", "LineTwo", "LineThree"), street, strict=False))


@cache
def _template() -> jinja2.Template:
    # An environment of its own: its filters write figures as XML does ("20.00"), where
    # the PDFs' write them in French ("20,00 %").
    environment = template_environment(keep_trailing_newline=True)
    environment.filters.update(
        amount=_amount,
        percent=_percent,
        decimal=_decimal,
        yyyymmdd=_yyyymmdd,
        unit_code=unit_code,
        street_lines=_street_lines,
        iban=iban.compact,
        bic=lambda bic: bic.replace(" ", "").upper(),
    )
    environment.globals.update(
        NAMESPACES=NAMESPACES,
        GUIDELINE_ID=GUIDELINE_ID,
        SIRET_SCHEME=SIRET_SCHEME,
        SIREN_SCHEME=SIREN_SCHEME,
        STANDARD_RATE=STANDARD_RATE,
        DAY=DAY,
        PAYMENT_MEANS_CREDIT_TRANSFER=PAYMENT_MEANS_CREDIT_TRANSFER,
        VAT_DUE_ON_INVOICE_DATE=VAT_DUE_ON_INVOICE_DATE,
        line_note=_line_note,
    )
    return environment.get_template(TEMPLATE)


@cache
def _yyyymmdd(day: date) -> str:
    # A run's invoices share their few dates, each written some sixty times an invoice.
    return day.strftime("%Y%m%d")


def _amount(value: Decimal) -> str:
    return f"{value.quantize(CENT):f}"


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).quantize(CENT):f}"


def _decimal(value: Decimal) -> str:
    """Plain notation, never an exponent (Decimal('1E+2') -> '100')."""
    return f"{value:f}"


def _fold(label: str) -> str:
    """Lower case without accents: "Unité" -> "unite"."""
    decomposed = unicodedata.normalize("NFKD", label.strip().casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))
