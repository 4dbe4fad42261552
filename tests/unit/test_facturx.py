"""Factur-X XML: valid against the XSD, true to the document, and EN 16931's sums hold.

The EN 16931 Schematron is XSLT 2 (Saxon), out of reach of lxml: the main business rules
are recomputed here from the parsed XML alone, independently of the builder.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import facturx
import pytest
from lxml import etree

from purchasing.billing.facturx import (
    FacturXInvalid,
    build_facturx_xml,
    unit_code,
    validate_facturx_xml,
)
from tests.unit.invoice_documents import (
    aided_invoice,
    credit_note,
    long_invoice,
    make_document,
    make_line,
    multi_rate_invoice,
)

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
SETTLEMENT = "//ram:ApplicableHeaderTradeSettlement"
SUMMATION = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
SAMPLES = {
    "multi-rate": multi_rate_invoice,
    "long": long_invoice,
    "credit-note": credit_note,
    "aid-in-vat-base": lambda: aided_invoice(aid_in_vat_base=True),
    "aid-reduces-price": lambda: aided_invoice(aid_in_vat_base=False),
}


@pytest.fixture(params=SAMPLES.values(), ids=SAMPLES.keys())
def doc(request):
    return request.param()


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def text(root: etree._Element, path: str) -> str:
    (found,) = root.xpath(path, namespaces=NS)
    return found.text


def amount(root: etree._Element, path: str) -> Decimal:
    return Decimal(text(root, path))


def amounts(node: etree._Element, path: str) -> list[Decimal]:
    return [Decimal(found.text) for found in node.xpath(path, namespaces=NS)]


def optional_amount(root: etree._Element, path: str) -> Decimal:
    found = amounts(root, path)
    return found[0] if found else Decimal("0.00")


def test_the_xml_validates_against_the_factur_x_en16931_xsd(doc):
    xml = build_facturx_xml(doc)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    validate_facturx_xml(xml)  # our cached schema agrees


def test_the_xml_totals_are_the_documents(doc):
    root = parse(build_facturx_xml(doc))
    assert amount(root, f"{SUMMATION}/ram:LineTotalAmount") == doc.total_net
    assert amount(root, f"{SUMMATION}/ram:TaxBasisTotalAmount") == doc.total_net
    assert amount(root, f"{SUMMATION}/ram:TaxTotalAmount[@currencyID='EUR']") == doc.total_vat
    assert amount(root, f"{SUMMATION}/ram:GrandTotalAmount") == doc.total_gross
    assert optional_amount(root, f"{SUMMATION}/ram:TotalPrepaidAmount") == doc.prepaid_amount
    assert amount(root, f"{SUMMATION}/ram:DuePayableAmount") == doc.amount_due
    lines = root.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)
    assert len(lines) == len(doc.lines)
    for element, line in zip(lines, doc.lines, strict=True):
        assert text(element, ".//ram:LineID") == str(line.position)
        assert text(element, ".//ram:SpecifiedTradeProduct/ram:Name") == line.designation
        assert amount(element, ".//ram:LineTotalAmount") == line.net_amount
        price = ".//ram:NetPriceProductTradePrice"
        assert amount(element, f"{price}/ram:ChargeAmount") == line.unit_price
        if line.is_prorated:  # counted in days, the price being for the period's days
            assert amount(element, ".//ram:BilledQuantity[@unitCode='DAY']") == (
                line.quantity * line.prorata_days
            )
            assert amount(element, f"{price}/ram:BasisQuantity[@unitCode='DAY']") == (
                line.period_days
            )
        else:
            assert amount(element, ".//ram:BilledQuantity") == line.quantity
            assert not element.xpath(f"{price}/ram:BasisQuantity", namespaces=NS)
        assert amount(element, ".//ram:RateApplicablePercent") == line.vat_rate * 100


def test_en16931_business_rules_hold_when_recomputed_from_the_xml(doc):
    root = parse(build_facturx_xml(doc))
    line_items = root.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)

    # Line net amount = quantity x net price / price base quantity - line allowances
    # (EN 16931 6.4, BT-131).
    for item in line_items:
        quantity = amount(item, ".//ram:BilledQuantity")
        price = amount(item, ".//ram:NetPriceProductTradePrice/ram:ChargeAmount")
        base_quantity = optional_amount(item, ".//ram:NetPriceProductTradePrice/ram:BasisQuantity")
        price /= base_quantity or 1
        allowances = sum(
            amounts(
                item,
                ".//ram:SpecifiedTradeAllowanceCharge"
                "[ram:ChargeIndicator/udt:Indicator='false']/ram:ActualAmount",
            ),
            Decimal(0),
        )
        expected = (quantity * price).quantize(Decimal("0.01"), ROUND_HALF_UP) - allowances
        assert amount(item, ".//ram:LineTotalAmount") == expected

    line_total = amount(root, f"{SUMMATION}/ram:LineTotalAmount")
    tax_basis = amount(root, f"{SUMMATION}/ram:TaxBasisTotalAmount")
    tax_total = amount(root, f"{SUMMATION}/ram:TaxTotalAmount")
    grand_total = amount(root, f"{SUMMATION}/ram:GrandTotalAmount")
    prepaid = optional_amount(root, f"{SUMMATION}/ram:TotalPrepaidAmount")
    rounding = optional_amount(root, f"{SUMMATION}/ram:RoundingAmount")
    due = amount(root, f"{SUMMATION}/ram:DuePayableAmount")
    allowance_total = optional_amount(root, f"{SUMMATION}/ram:AllowanceTotalAmount")
    charge_total = optional_amount(root, f"{SUMMATION}/ram:ChargeTotalAmount")

    # BR-CO-10: sum of line net amounts.
    assert line_total == sum(
        amounts(root, "//ram:SpecifiedLineTradeSettlement//ram:LineTotalAmount")
    )
    # BR-CO-13: tax basis = line total - document allowances + document charges.
    assert tax_basis == line_total - allowance_total + charge_total
    # BR-CO-14: VAT total = sum of the VAT breakdown amounts.
    assert tax_total == sum(
        amounts(root, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:CalculatedAmount")
    )
    # BR-CO-15: grand total = tax basis + VAT.
    assert grand_total == tax_basis + tax_total
    # BR-CO-16: amount due = grand total - paid amount + rounding.
    assert due == grand_total - prepaid + rounding

    # BR-S-08 / BR-S-09 (BR-CO-17): per standard rate, base = sum of its lines, VAT = base x rate.
    line_bases: dict[Decimal, Decimal] = defaultdict(Decimal)
    for item in line_items:
        rate = amount(item, ".//ram:ApplicableTradeTax/ram:RateApplicablePercent")
        line_bases[rate] += amount(item, ".//ram:LineTotalAmount")
    breakdown = root.xpath(f"{SETTLEMENT}/ram:ApplicableTradeTax", namespaces=NS)
    assert {amount(vat, "ram:RateApplicablePercent") for vat in breakdown} == set(line_bases)
    for vat in breakdown:
        assert text(vat, "ram:CategoryCode") == "S"
        rate = amount(vat, "ram:RateApplicablePercent")
        base = amount(vat, "ram:BasisAmount")
        assert base == line_bases[rate]
        assert amount(vat, "ram:CalculatedAmount") == (base * rate / 100).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )

    # BR-CO-25: an amount due needs a due date or payment terms.
    if due > 0:
        assert root.xpath(
            f"{SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime"
            f"|{SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:Description",
            namespaces=NS,
        )
    # BR-S-02: a standard-rated invoice names the seller's VAT identifier.
    seller_vat = text(root, "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID")
    assert seller_vat.startswith("FR")
    # BR-61: a credit transfer names the account.
    for means in root.xpath(
        f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans", namespaces=NS
    ):
        if text(means, "ram:TypeCode") in {"30", "58"}:
            assert text(means, ".//ram:IBANID")


def test_an_invoice_carries_its_identifiers_references_and_payment():
    doc = multi_rate_invoice()
    root = parse(build_facturx_xml(doc))
    assert text(root, "//rsm:ExchangedDocument/ram:ID") == "FA-2026-000123"
    assert text(root, "//rsm:ExchangedDocument/ram:TypeCode") == "380"
    assert text(root, "//ram:IssueDateTime/udt:DateTimeString[@format='102']") == "20260202"
    assert text(root, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == (
        "urn:cen.eu:en16931:2017"
    )
    buyer = "//ram:BuyerTradeParty"
    assert text(root, f"{buyer}/ram:SpecifiedLegalOrganization/ram:ID[@schemeID='0002']") == (
        "215906368"
    )
    assert text(root, f"{buyer}/ram:GlobalID[@schemeID='0009']") == "21590636800017"
    assert text(root, f"{buyer}/ram:URIUniversalCommunication/ram:URIID[@schemeID='0009']") == (
        "21590636800017"
    )
    seller = "//ram:SellerTradeParty"
    assert text(root, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID") == "255900128"
    assert text(root, f"{seller}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == (
        "FR07255900128"
    )
    assert text(root, "//ram:BuyerReference") == "SERV-NUMERIQUE"
    assert text(root, "//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID") == "EJ-2026-0042"
    means = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans"
    assert text(root, f"{means}/ram:TypeCode") == "30"
    assert text(root, f"{means}//ram:IBANID") == "FR7630001007941234567890185"
    assert text(root, f"{means}//ram:BICID") == "BDFEFRPPCCT"
    assert text(root, f"{SETTLEMENT}/ram:PaymentReference") == "FA-2026-000123"
    terms = f"{SETTLEMENT}/ram:SpecifiedTradePaymentTerms"
    assert text(root, f"{terms}/ram:DueDateDateTime/udt:DateTimeString") == "20260304"
    period = f"{SETTLEMENT}/ram:BillingSpecifiedPeriod"
    assert text(root, f"{period}/ram:StartDateTime/udt:DateTimeString") == "20260101"
    assert text(root, f"{period}/ram:EndDateTime/udt:DateTimeString") == "20260131"
    line_period = "(//ram:SpecifiedLineTradeSettlement)[2]/ram:BillingSpecifiedPeriod"
    assert text(root, f"{line_period}/ram:StartDateTime/udt:DateTimeString") == "20260115"
    subjects = root.xpath("//rsm:ExchangedDocument/ram:IncludedNote/ram:SubjectCode", namespaces=NS)
    assert {"PMD", "PMT", "AAB"} <= {subject.text for subject in subjects}


def test_a_prorated_line_is_billed_in_days_at_the_price_of_the_period():
    doc = multi_rate_invoice()
    root = parse(build_facturx_xml(doc))
    (item,) = root.xpath("//ram:IncludedSupplyChainTradeLineItem[.//ram:LineID='2']", namespaces=NS)
    assert text(item, ".//ram:BilledQuantity") == "17"
    assert text(item, ".//ram:NetPriceProductTradePrice/ram:ChargeAmount") == "189.00"
    assert text(item, ".//ram:NetPriceProductTradePrice/ram:BasisQuantity") == "31"
    assert text(item, ".//ram:LineTotalAmount") == "103.65"  # 17 x 189.00 / 31 = 103.645...
    note = text(item, ".//ram:AssociatedDocumentLineDocument/ram:IncludedNote/ram:Content")
    assert "Prorata 17/31 jours : 1 mois pendant 17 jours" in note


def test_a_credit_note_references_the_invoice_it_corrects():
    root = parse(build_facturx_xml(credit_note()))
    assert text(root, "//rsm:ExchangedDocument/ram:TypeCode") == "381"
    reference = f"{SETTLEMENT}/ram:InvoiceReferencedDocument"
    assert text(root, f"{reference}/ram:IssuerAssignedID") == "FA-2026-000123"
    assert text(root, f"{reference}/ram:FormattedIssueDateTime/qdt:DateTimeString") == "20260202"
    # Positive amounts: the type code says they go back to the buyer.
    assert amount(root, f"{SUMMATION}/ram:DuePayableAmount") > 0
    assert not root.xpath(f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans", namespaces=NS)
    subjects = root.xpath("//ram:IncludedNote/ram:SubjectCode", namespaces=NS)
    assert "PMT" not in {subject.text for subject in subjects}


def test_an_aid_in_the_vat_base_is_a_paid_amount_not_an_allowance():
    doc = aided_invoice(aid_in_vat_base=True)
    root = parse(build_facturx_xml(doc))
    assert not root.xpath("//ram:SpecifiedTradeAllowanceCharge", namespaces=NS)
    assert amount(root, f"{SUMMATION}/ram:TotalPrepaidAmount") == doc.total_aid == Decimal("208.50")
    assert amount(root, f"{SUMMATION}/ram:DuePayableAmount") == Decimal("1442.70")
    assert amount(root, f"{SUMMATION}/ram:TaxBasisTotalAmount") == Decimal("1376.00")
    first_note = text(
        root, "(//ram:AssociatedDocumentLineDocument)[1]/ram:IncludedNote/ram:Content"
    )
    assert "dont aide FEDER" in first_note and "162.00 EUR" in first_note


def test_an_aid_that_reduces_the_price_is_a_line_allowance():
    doc = aided_invoice(aid_in_vat_base=False)
    root = parse(build_facturx_xml(doc))
    allowances = root.xpath(
        "//ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeAllowanceCharge", namespaces=NS
    )
    assert [amount(a, "ram:ActualAmount") for a in allowances] == [
        Decimal("162.00"),
        Decimal("46.50"),
    ]
    assert all(text(a, "ram:ChargeIndicator/udt:Indicator") == "false" for a in allowances)
    assert all(text(a, "ram:Reason").startswith("Aide FEDER") for a in allowances)
    assert not root.xpath(f"{SUMMATION}/ram:TotalPrepaidAmount", namespaces=NS)
    assert amount(root, f"{SUMMATION}/ram:TaxBasisTotalAmount") == Decimal("1167.50")


def test_vat_on_debits_is_declared_in_the_vat_breakdown():
    root = parse(build_facturx_xml(make_document(vat_on_debits=True)))
    assert text(root, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:DueDateTypeCode") == "5"


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("mois", "MON"),
        ("Mois", "MON"),
        ("licence", "C62"),
        ("licences", "C62"),
        ("unité", "C62"),
        ("jours", "DAY"),
        ("heure", "HUR"),
        ("année", "ANN"),
        ("an", "ANN"),
        ("forfait", "LS"),
        ("capteur", "C62"),
    ],
)
def test_french_units_map_to_un_ece_codes(label, code):
    assert unit_code(label) == code


def test_decimals_are_written_in_plain_notation():
    doc = make_document([make_line(quantity="1E+1", unit_price="2.5")])
    root = parse(build_facturx_xml(doc))
    assert text(root, "//ram:BilledQuantity") == "10"
    assert text(root, "//ram:NetPriceProductTradePrice/ram:ChargeAmount") == "2.5"
    assert text(root, "//ram:SpecifiedLineTradeSettlement//ram:LineTotalAmount") == "25.00"


def test_an_invalid_xml_is_refused():
    root = parse(build_facturx_xml(multi_rate_invoice()))
    (currency,) = root.xpath("//ram:InvoiceCurrencyCode", namespaces=NS)
    currency.getparent().remove(currency)
    with pytest.raises(FacturXInvalid, match="InvoiceCurrencyCode"):
        validate_facturx_xml(etree.tostring(root))


def test_texts_are_written_as_xml_text_whatever_they_hold():
    designation = 'Lien « fibre » d\'1 Gbit/s <pro> & "garanti"\r\nsur 2 sites (&#39;)'
    doc = make_document([make_line(designation=designation)])
    xml = build_facturx_xml(doc)
    validate_facturx_xml(xml)
    assert text(parse(xml), "//ram:SpecifiedTradeProduct/ram:Name") == designation
    assert "Lien « fibre » d'1 Gbit/s &lt;pro&gt; &amp;".encode() in xml  # apostrophe as is


def test_a_character_xml_cannot_hold_is_refused_by_the_validation():
    xml = build_facturx_xml(make_document([make_line(designation="Lien\x01fibre")]))
    with pytest.raises(FacturXInvalid, match="not well-formed"):
        validate_facturx_xml(xml)
