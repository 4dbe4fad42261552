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
    Party,
    PostalAddress,
)
from purchasing.money import CENT

#: Name of the embedded file, fixed by the Factur-X specification.
FACTURX_FILENAME = "factur-x.xml"
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
    :func:`~purchasing.billing.document.check_consistency`; the builder copies its
    figures and computes none.
    """
    root = etree.Element(_q("rsm", "CrossIndustryInvoice"), nsmap=NAMESPACES)
    context = _sub(root, "rsm", "ExchangedDocumentContext")
    _text(_sub(context, "ram", "GuidelineSpecifiedDocumentContextParameter"), "ID", GUIDELINE_ID)
    _add_header(root, doc)
    transaction = _sub(root, "rsm", "SupplyChainTradeTransaction")
    for line in doc.lines:
        _add_line(transaction, line, doc)
    _add_agreement(transaction, doc)
    _add_delivery(transaction, doc)
    _add_settlement(transaction, doc)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def validate_facturx_xml(xml: bytes) -> None:
    """Raise :class:`FacturXInvalid` unless ``xml`` validates against the EN 16931 XSD."""
    schema = _en16931_schema()
    document = etree.fromstring(xml)
    if not schema.validate(document):
        errors = "; ".join(f"line {e.line}: {e.message}" for e in schema.error_log)
        raise FacturXInvalid(f"Factur-X XML refused by the EN 16931 XSD: {errors}")


@cache
def _en16931_schema() -> etree.XMLSchema:
    xsd = files("facturx") / "xsd" / FACTURX_LEVEL2xsd["en16931"]
    with xsd.open("rb") as stream:
        # The XSD imports its siblings by relative path: parse it with its own location.
        return etree.XMLSchema(etree.parse(stream, base_url=str(xsd)))


def _add_header(root: etree._Element, doc: InvoiceDocument) -> None:
    header = _sub(root, "rsm", "ExchangedDocument")
    _text(header, "ID", doc.number)
    _text(header, "TypeCode", TYPE_CODES[doc.kind])
    _date(_sub(header, "ram", "IssueDateTime"), doc.issue_date)
    notes: list[tuple[str | None, str]] = [(None, note) for note in doc.notes]
    if doc.total_aid:
        notes.append(("AAI", _aid_note(doc)))
    notes.append(("AAI", f"Nature des opérations : {doc.operation_category.label}."))
    if doc.vat_on_debits:
        notes.append(("TXD", VAT_ON_DEBITS_MENTION))
    if not doc.is_credit_note:
        notes.extend(_PAYMENT_NOTES)
    for subject, content in notes:
        note = _sub(header, "ram", "IncludedNote")
        _text(note, "Content", content)
        if subject is not None:
            _text(note, "SubjectCode", subject)


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


def _add_line(transaction: etree._Element, line: InvoiceLine, doc: InvoiceDocument) -> None:
    item = _sub(transaction, "ram", "IncludedSupplyChainTradeLineItem")
    line_doc = _sub(item, "ram", "AssociatedDocumentLineDocument")
    _text(line_doc, "LineID", str(line.position))
    note = _line_note(line, doc)
    if note:
        _text(_sub(line_doc, "ram", "IncludedNote"), "Content", note)
    _text(_sub(item, "ram", "SpecifiedTradeProduct"), "Name", line.designation)
    agreement = _sub(item, "ram", "SpecifiedLineTradeAgreement")
    # The net price is the unit price before aid: an aid that reduces the price is a line
    # allowance below, so quantity x net price - allowance = line net amount (BT-131).
    price = _sub(agreement, "ram", "NetPriceProductTradePrice")
    _text(price, "ChargeAmount", _decimal(line.unit_price))
    quantity, code = line.quantity, unit_code(line.unit)
    if line.prorata_days is not None and line.period_days is not None:
        # A partial period, exactly: 12 licences for 17 days of a 31-day month are 204
        # licence-days at the unit price per 31 days (price base quantity, BT-149), so
        # quantity x price / base quantity is the prorated amount, rounded once, as printed.
        quantity, code = line.quantity * line.prorata_days, DAY
        _text(price, "BasisQuantity", str(line.period_days), unitCode=DAY)
    delivery = _sub(item, "ram", "SpecifiedLineTradeDelivery")
    _text(delivery, "BilledQuantity", _decimal(quantity), unitCode=code)
    settlement = _sub(item, "ram", "SpecifiedLineTradeSettlement")
    tax = _sub(settlement, "ram", "ApplicableTradeTax")
    _text(tax, "TypeCode", "VAT")
    _text(tax, "CategoryCode", STANDARD_RATE)
    _text(tax, "RateApplicablePercent", _percent(line.vat_rate))
    if line.period_start is not None and line.period_end is not None:
        _period(settlement, line.period_start, line.period_end)
    if line.aid_amount is not None and not doc.aid_in_vat_base:
        allowance = _sub(settlement, "ram", "SpecifiedTradeAllowanceCharge")
        _indicator(allowance, "ChargeIndicator", False)
        _text(allowance, "ActualAmount", _amount(line.aid_amount))
        _text(allowance, "Reason", f"Aide FEDER - {line.aid_label}")
    summation = _sub(settlement, "ram", "SpecifiedTradeSettlementLineMonetarySummation")
    _text(summation, "LineTotalAmount", _amount(line.net_amount))


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


def _add_agreement(transaction: etree._Element, doc: InvoiceDocument) -> None:
    agreement = _sub(transaction, "ram", "ApplicableHeaderTradeAgreement")
    if doc.chorus_service_code:
        _text(agreement, "BuyerReference", doc.chorus_service_code)
    _party(_sub(agreement, "ram", "SellerTradeParty"), doc.seller)
    _party(_sub(agreement, "ram", "BuyerTradeParty"), doc.buyer)
    if doc.engagement_number:
        order = _sub(agreement, "ram", "BuyerOrderReferencedDocument")
        _text(order, "IssuerAssignedID", doc.engagement_number)


def _party(element: etree._Element, party: Party) -> None:
    _text(element, "GlobalID", party.siret, schemeID=SIRET_SCHEME)
    _text(element, "Name", party.name)
    legal = _sub(element, "ram", "SpecifiedLegalOrganization")
    _text(legal, "ID", party.siren, schemeID=SIREN_SCHEME)
    if party.email:
        contact = _sub(element, "ram", "DefinedTradeContact")
        _text(_sub(contact, "ram", "EmailURIUniversalCommunication"), "URIID", party.email)
    _address(element, party.address)
    uri = _sub(element, "ram", "URIUniversalCommunication")
    _text(uri, "URIID", party.siret, schemeID=SIRET_SCHEME)
    if party.vat_number:
        registration = _sub(element, "ram", "SpecifiedTaxRegistration")
        _text(registration, "ID", party.vat_number, schemeID="VA")


def _address(parent: etree._Element, address: PostalAddress) -> None:
    element = _sub(parent, "ram", "PostalTradeAddress")
    _text(element, "PostcodeCode", address.postal_code)
    # Three street lines at most in CII: any further line joins the third.
    street = list(address.lines[:2])
    if len(address.lines) > 2:
        street.append(", ".join(address.lines[2:]))
    for tag, text in zip(("LineOne", "LineTwo", "LineThree"), street, strict=False):
        _text(element, tag, text)
    _text(element, "CityName", address.city)
    _text(element, "CountryID", address.country_code)


def _add_delivery(transaction: etree._Element, doc: InvoiceDocument) -> None:
    delivery = _sub(transaction, "ram", "ApplicableHeaderTradeDelivery")
    if doc.delivery_address is not None:
        _address(_sub(delivery, "ram", "ShipToTradeParty"), doc.delivery_address)
    if doc.supply_date is not None:
        event = _sub(delivery, "ram", "ActualDeliverySupplyChainEvent")
        _date(_sub(event, "ram", "OccurrenceDateTime"), doc.supply_date)


def _add_settlement(transaction: etree._Element, doc: InvoiceDocument) -> None:
    settlement = _sub(transaction, "ram", "ApplicableHeaderTradeSettlement")
    if not doc.is_credit_note:
        _text(settlement, "PaymentReference", doc.number)
    _text(settlement, "InvoiceCurrencyCode", doc.currency)
    if not doc.is_credit_note and doc.payment_iban and doc.payment_bic:
        means = _sub(settlement, "ram", "SpecifiedTradeSettlementPaymentMeans")
        _text(means, "TypeCode", PAYMENT_MEANS_CREDIT_TRANSFER)
        _text(means, "Information", "Virement au Trésor public")
        account = _sub(means, "ram", "PayeePartyCreditorFinancialAccount")
        _text(account, "IBANID", iban.compact(doc.payment_iban))
        institution = _sub(means, "ram", "PayeeSpecifiedCreditorFinancialInstitution")
        _text(institution, "BICID", doc.payment_bic.replace(" ", "").upper())
    for vat in doc.vat_breakdown:
        tax = _sub(settlement, "ram", "ApplicableTradeTax")
        _text(tax, "CalculatedAmount", _amount(vat.amount))
        _text(tax, "TypeCode", "VAT")
        _text(tax, "BasisAmount", _amount(vat.base))
        _text(tax, "CategoryCode", STANDARD_RATE)
        if doc.vat_on_debits:
            _text(tax, "DueDateTypeCode", VAT_DUE_ON_INVOICE_DATE)
        _text(tax, "RateApplicablePercent", _percent(vat.rate))
    if doc.period_start is not None and doc.period_end is not None:
        _period(settlement, doc.period_start, doc.period_end)
    terms = _sub(settlement, "ram", "SpecifiedTradePaymentTerms")
    _text(terms, "Description", doc.payment_terms)
    if doc.due_date is not None:
        _date(_sub(terms, "ram", "DueDateDateTime"), doc.due_date)
    summation = _sub(settlement, "ram", "SpecifiedTradeSettlementHeaderMonetarySummation")
    _text(summation, "LineTotalAmount", _amount(doc.total_net))
    _text(summation, "TaxBasisTotalAmount", _amount(doc.total_net))
    _text(summation, "TaxTotalAmount", _amount(doc.total_vat), currencyID=doc.currency)
    _text(summation, "GrandTotalAmount", _amount(doc.total_gross))
    if doc.prepaid_amount:
        # The FEDER aid as a price complement. EN 16931 has two ways to make the buyer pay
        # less than the total: a document-level allowance (BG-20) would lower the VAT base
        # of its category (BR-CO-13, BR-S-08), but French VAT taxes a price complement
        # (CGI art. 266-1-a), so the base must stay the gross price. What a third party,
        # the fund, pays is what BT-113 "paid amount" carries: the buyer owes
        # BT-115 = BT-112 - BT-113 (BR-CO-16) and every VAT figure stays as computed.
        _text(summation, "TotalPrepaidAmount", _amount(doc.prepaid_amount))
    _text(summation, "DuePayableAmount", _amount(doc.amount_due))
    if doc.is_credit_note and doc.corrected_invoice_number and doc.corrected_invoice_date:
        reference = _sub(settlement, "ram", "InvoiceReferencedDocument")
        _text(reference, "IssuerAssignedID", doc.corrected_invoice_number)
        issued = _sub(reference, "ram", "FormattedIssueDateTime")
        _text(
            issued, "DateTimeString", _yyyymmdd(doc.corrected_invoice_date), ns="qdt", format="102"
        )


@cache
def _q(prefix: str, tag: str) -> str:
    """The qualified name of ``tag``: some seven hundred elements an invoice, of a
    hundred names."""
    return f"{{{NAMESPACES[prefix]}}}{tag}"


def _sub(parent: etree._Element, prefix: str, tag: str) -> etree._Element:
    return etree.SubElement(parent, _q(prefix, tag))


def _text(
    parent: etree._Element, tag: str, text: str, *, ns: str = "ram", **attributes: str
) -> etree._Element:
    element = etree.SubElement(parent, _q(ns, tag), attributes)
    element.text = text
    return element


def _date(parent: etree._Element, day: date) -> None:
    _text(parent, "DateTimeString", _yyyymmdd(day), ns="udt", format="102")


def _period(parent: etree._Element, start: date, end: date) -> None:
    period = _sub(parent, "ram", "BillingSpecifiedPeriod")
    _date(_sub(period, "ram", "StartDateTime"), start)
    _date(_sub(period, "ram", "EndDateTime"), end)


def _indicator(parent: etree._Element, tag: str, value: bool) -> None:
    _text(_sub(parent, "ram", tag), "Indicator", "true" if value else "false", ns="udt")


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
