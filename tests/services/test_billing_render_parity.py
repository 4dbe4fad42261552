"""The ReportLab renderer prints what the WeasyPrint templates print, and is a PDF/A-3 Factur-X.

The same documents (an invoice and a credit note with FEDER aid on some lines and three VAT
rates, aid as a price reduction, an invoice over several pages) are rendered by both
renderers and read back with ``pdftotext``, as an auditor's tools would: both PDFs hold the
same words, the same number of times, and each of the legal mentions and figures the
document must show, in the words the law uses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import shutil
import subprocess
from collections import Counter
from datetime import date
from decimal import Decimal

import facturx
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from purchasing import formats
from purchasing.billing import document as mentions
from purchasing.billing import run
from purchasing.billing.document import DocumentKind, InvoiceDocument, OperationCategory
from purchasing.billing.facturx import build_facturx_xml
from purchasing.billing.models import Invoice
from purchasing.billing.rendering import UnknownRenderer, render_invoice
from purchasing.billing.settings import settings_from_config
from purchasing.catalog.pricing import Billing
from purchasing.config import load_config
from purchasing.events import DomainEvent
from tests.factories import make_member, make_order, make_product
from tests.unit.invoice_documents import (
    VAT_5_5,
    VAT_10,
    long_invoice,
    make_document,
    make_line,
)

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="needs pdftotext (Debian: poppler-utils)"
)

RENDERERS = ("weasyprint", "reportlab")
#: What the lines cite in the annex "délibérations et marchés".
VIDEO_MARKET = {
    "deliberation_reference": "2024-17",
    "deliberation_date": date(2024, 3, 12),
    "market_reference": "MAR-2022-03 lot 1",
}
DIGITAL_MARKET = {
    "deliberation_reference": "DEL-2023-02 bis",
    "deliberation_date": date(2023, 2, 7),
    "market_reference": "MAR-2023-01 lot 2",
}
FEBRUARY = run.periods.month(2026, 2)
MARCH_2 = date(2026, 3, 2)


def aided_lines(*, aid_in_vat_base: bool):
    """FEDER aid on two lines out of four, three VAT rates, a prorated month."""
    return [
        make_line(
            1,
            designation="Module « Mairie connectée » - socle",
            quantity="12",
            unit_price="45.00",
            aid_amount="162.00",
            aid_in_vat_base=aid_in_vat_base,
            period_start=date(2026, 1, 1),
            period_end=date(2026, 1, 31),
            **DIGITAL_MARKET,
        ),
        make_line(
            2,
            designation="Sauvegarde externalisée 100 Go",
            quantity="3",
            unit_price="15.50",
            aid_amount="10.00",
            aid_in_vat_base=aid_in_vat_base,
            prorata_days=17,
            period_days=31,
            period_start=date(2026, 1, 15),
            period_end=date(2026, 1, 31),
            **DIGITAL_MARKET,
        ),
        make_line(
            3,
            designation="Maintenance vidéoprotection - travaux",
            quantity="2.5",
            unit="heure",
            unit_price="65.35",
            vat_rate=VAT_10,
            note="Intervention du 20/01/2026",
            **VIDEO_MARKET,
        ),
        make_line(
            4,
            designation="Guide de sensibilisation à la cybersécurité",
            quantity="7",
            unit="unité",
            unit_price="12.37",
            vat_rate=VAT_5_5,
            market_reference="MAR-2024-05 lot 3",
        ),
    ]


def long_invoice_with_annex(line_count: int):
    """Several pages, ending with an annex of several entries."""
    doc = long_invoice(line_count)
    markets = [VIDEO_MARKET, DIGITAL_MARKET, {"market_reference": "MAR-2024-05 lot 3"}]
    lines = [
        dataclasses.replace(line, **markets[line.position % 3])
        if line.position % 4
        else line  # every fourth line cites nothing
        for line in doc.lines
    ]
    return dataclasses.replace(doc, lines=tuple(lines))


DOCUMENTS = {
    "invoice with aid and three VAT rates": lambda: make_document(
        aided_lines(aid_in_vat_base=True), vat_on_debits=True
    ),
    "credit note with aid and three VAT rates": lambda: make_document(
        aided_lines(aid_in_vat_base=True),
        kind=DocumentKind.CREDIT_NOTE,
        notes=("Résiliation au 15/01/2026 : trop-perçu remboursé",),
    ),
    "invoice with aid reducing the price": lambda: make_document(
        aided_lines(aid_in_vat_base=False), aid_in_vat_base=False
    ),
    "invoice over several pages": lambda: long_invoice(45),
    "invoice over several pages with its annex": lambda: long_invoice_with_annex(38),
}


@pytest.fixture(scope="module", params=list(DOCUMENTS), ids=list(DOCUMENTS))
def rendered(request) -> tuple[InvoiceDocument, dict[str, bytes]]:
    doc = DOCUMENTS[request.param]()
    return doc, {renderer: render_invoice(doc, renderer=renderer).pdf for renderer in RENDERERS}


def text_of(pdf: bytes) -> str:
    """The PDF's text as pdftotext reads it, no-break spaces as plain ones."""
    out = subprocess.run(
        ["pdftotext", "-raw", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return re.sub(r"[\u00a0\u202f]", " ", out.stdout.decode())


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def euros(amount: Decimal) -> str:
    return formats.euros(amount).replace("\u00a0", " ").replace("\u202f", " ")


def required_statements(doc: InvoiceDocument) -> list[str]:
    """What the document must say, in the words it must say it: parties, references,
    every line's figures, VAT per rate, totals, aid, payment and the legal mentions."""
    day = formats.french_date
    statements = [
        f"{doc.title}",
        f"N° {doc.number}",
        f"Date d\u2019émission : {day(doc.issue_date)}",
        doc.seller.name,
        f"SIRET {doc.seller.siret}",
        f"N° TVA intracommunautaire {doc.seller.vat_number}",
        doc.buyer.name,
        f"SIRET {doc.buyer.siret} (SIREN {doc.buyer.siren})",
        f"Nature des opérations {doc.operation_category.label}",
        f"Total HT {euros(doc.total_net)}",
        f"Total TTC {euros(doc.total_gross)}",
        f"{'Net à déduire' if doc.is_credit_note else 'Net à payer'} {euros(doc.amount_due)}",
    ]
    if doc.period_start:
        statements.append(f"Période du {day(doc.period_start)} au {day(doc.period_end)}")
    for vat in doc.vat_breakdown:
        rate = formats.percent(vat.rate).replace("\u00a0", " ")
        statements.append(f"TVA {rate} sur {euros(vat.base)} {euros(vat.amount)}")
    for line in doc.lines:
        statements += [line.designation, euros(line.net_amount)]
        if line.aid_amount is not None:
            statements.append(euros(line.aid_amount))
    if doc.total_aid:
        statements.append(f"L\u2019aide FEDER ({euros(doc.total_aid)})")
    if doc.prepaid_amount:
        statements.append(f"Aide FEDER versée par le fonds \u2212{euros(doc.prepaid_amount)}")
    if doc.vat_on_debits:
        statements.append(mentions.VAT_ON_DEBITS_MENTION)
    statements += list(doc.notes)
    if doc.annex:
        statements.append("Annexe : délibérations et marchés")
    for entry in doc.annex:
        if entry.deliberation_reference:
            statements.append(
                f"{entry.lines_label} : tarif fixé par la délibération "
                f"{entry.deliberation_reference} du {day(entry.deliberation_date)}"
            )
        if entry.market_reference:
            statements.append(f"au titre du marché {entry.market_reference}")
    if doc.is_credit_note:
        statements.append(
            f"Avoir sur la facture n° {doc.corrected_invoice_number} du "
            f"{day(doc.corrected_invoice_date)}"
        )
    else:
        statements += [
            f"Échéance : {doc.payment_terms}, le {day(doc.due_date)}",
            f"BIC {doc.payment_bic}",
            mentions.LATE_PAYMENT_INTEREST_MENTION,
            mentions.RECOVERY_INDEMNITY_MENTION,
            mentions.NO_EARLY_PAYMENT_DISCOUNT_MENTION,
        ]
    return [statement.replace("\u00a0", " ") for statement in statements]


def test_both_renderers_print_the_same_words_as_often(rendered):
    _doc, pdfs = rendered
    words = {renderer: Counter(text_of(pdf).split()) for renderer, pdf in pdfs.items()}
    only_weasyprint = words["weasyprint"] - words["reportlab"]
    only_reportlab = words["reportlab"] - words["weasyprint"]
    assert (only_weasyprint, only_reportlab) == (Counter(), Counter())


@pytest.mark.parametrize("renderer", RENDERERS)
def test_each_renderer_states_the_legal_mentions_and_figures(rendered, renderer):
    doc, pdfs = rendered
    text = one_line(text_of(pdfs[renderer]))
    missing = [statement for statement in required_statements(doc) if statement not in text]
    assert missing == []


def test_both_renderers_number_the_same_pages(rendered):
    _doc, pdfs = rendered
    pages = {renderer: len(PdfReader(io.BytesIO(pdf)).pages) for renderer, pdf in pdfs.items()}
    assert pages["weasyprint"] == pages["reportlab"]
    for number in range(1, pages["reportlab"] + 1):
        assert f"Page {number} / {pages['reportlab']}" in text_of(pdfs["reportlab"])


def test_a_figure_changed_shows_in_the_comparison():
    """The comparison is not blind: one amount changed in one document is one word apart."""
    doc = DOCUMENTS["invoice with aid and three VAT rates"]()
    other = dataclasses.replace(doc, number="FA-2026-000124")
    words = Counter(text_of(render_invoice(doc, renderer="weasyprint").pdf).split())
    other_words = Counter(text_of(render_invoice(other, renderer="reportlab").pdf).split())
    assert set(words - other_words) == {"FA-2026-000123"}
    assert set(other_words - words) == {"FA-2026-000124"}


# --- The ReportLab file itself -------------------------------------------------------------


@pytest.fixture(scope="module")
def reportlab_invoice() -> tuple[InvoiceDocument, bytes]:
    doc = DOCUMENTS["invoice with aid and three VAT rates"]()
    return doc, render_invoice(doc, renderer="reportlab").pdf


def test_the_reportlab_pdf_carries_the_documents_factur_x_xml(reportlab_invoice):
    doc, pdf = reportlab_invoice
    reader = PdfReader(io.BytesIO(pdf))
    assert list(reader.attachments) == ["factur-x.xml"]
    assert reader.attachments["factur-x.xml"] == [build_facturx_xml(doc)]
    # The factur-x library finds it where Factur-X readers look, and its XSD accepts it.
    filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert (filename, xml) == ("factur-x.xml", build_facturx_xml(doc))


def test_the_reportlab_pdf_is_marked_pdf_a_3b_as_far_as_it_goes(reportlab_invoice):
    doc, pdf = reportlab_invoice
    reader = PdfReader(io.BytesIO(pdf))
    catalog = reader.trailer["/Root"]
    xmp = catalog["/Metadata"].get_object().get_data().decode()
    assert "<pdfaid:part>3</pdfaid:part>" in xmp
    assert "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert "<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>" in xmp
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    assert "<pdfaSchema:prefix>fx</pdfaSchema:prefix>" in xmp
    assert reader.pdf_header == "%PDF-1.7"
    # The XML is an associated file of the document, as PDF/A-3 and Factur-X require.
    (filespec,) = [reference.get_object() for reference in catalog["/AF"]]
    assert filespec["/F"] == filespec["/UF"] == "factur-x.xml"
    assert filespec["/AFRelationship"] == "/Data"
    stream = filespec["/EF"]["/F"].get_object()
    assert stream["/Subtype"] == "/text/xml"
    assert stream["/Params"]["/ModDate"] == "D:20260201230000Z"  # midnight in Paris
    # Colours under an sRGB output intent, every font embedded.
    (intent,) = catalog["/OutputIntents"]
    assert intent["/S"] == "/GTS_PDFA1"
    assert intent["/OutputConditionIdentifier"] == "sRGB IEC61966-2.1"
    assert intent["/DestOutputProfile"].get_object().get_data()[36:40] == b"acsp"
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            descriptor = font.get_object()["/FontDescriptor"].get_object()
            assert "/FontFile2" in descriptor, font.get_object()["/BaseFont"]
    # The Info dictionary says what the XMP says, dated from the issue date.
    info = reader.metadata
    assert info["/Title"] == f"Facture {doc.number}"
    assert f'<rdf:li xml:lang="x-default">{info["/Title"]}</rdf:li>' in xmp
    assert f'pdf:Producer="{info["/Producer"]}"' in xmp
    assert f"<xmp:CreatorTool>{info['/Creator']}</xmp:CreatorTool>" in xmp
    assert info["/CreationDate"] == info["/ModDate"] == "D:20260202000000+01'00"
    assert "<xmp:CreateDate>2026-02-02T00:00:00+01:00</xmp:CreateDate>" in xmp
    assert reader.trailer["/ID"]


def test_reportlab_rendering_is_deterministic(reportlab_invoice):
    doc, pdf = reportlab_invoice
    render_invoice(DOCUMENTS["credit note with aid and three VAT rates"](), renderer="reportlab")
    again = render_invoice(doc, renderer="reportlab")
    assert again.pdf == pdf
    assert again.sha256 == hashlib.sha256(pdf).hexdigest()


def test_goods_with_a_delivery_address_read_alike():
    doc = dataclasses.replace(
        make_document(aided_lines(aid_in_vat_base=True)),
        operation_category=OperationCategory.GOODS,
        supply_date=date(2026, 1, 30),
        period_start=None,
        period_end=None,
        delivery_address=dataclasses.replace(
            make_document().buyer.address, lines=("Centre technique municipal",)
        ),
    )
    texts = {r: text_of(render_invoice(doc, renderer=r).pdf) for r in RENDERERS}
    assert Counter(texts["weasyprint"].split()) == Counter(texts["reportlab"].split())
    assert "Date de livraison 30/01/2026" in one_line(texts["reportlab"])
    assert "ADRESSE DE LIVRAISON Centre technique municipal" in one_line(texts["reportlab"])


# --- Chosen by setting ---------------------------------------------------------------------


def test_the_renderer_is_chosen_by_the_invoice_renderer_setting(session):
    product = make_product(session, billing=Billing.ONE_OFF, cost="100.00", price="120.00")
    member = make_member(session)
    make_order(session, member=member, lines=[(product, 2)], status="delivered")
    settings = settings_from_config(load_config({"INVOICE_RENDERER": "reportlab"}))

    (invoice,) = run.invoice_member(
        session, member.id, FEBRUARY, settings=settings, issued_by=None, issue_date=MARCH_2
    )

    stored = session.scalar(select(Invoice).where(Invoice.id == invoice.id)).document
    assert PdfReader(io.BytesIO(stored.pdf)).metadata["/Producer"] == "Centrale (ReportLab)"
    assert hashlib.sha256(stored.pdf).hexdigest() == stored.pdf_sha256
    event = session.scalar(select(DomainEvent).where(DomainEvent.kind == "invoice.issued"))
    assert event.payload["number"] == invoice.number


def test_an_unknown_renderer_is_refused_when_the_settings_are_read():
    with pytest.raises(UnknownRenderer, match="INVOICE_RENDERER is 'prince'"):
        settings_from_config(load_config({"INVOICE_RENDERER": "prince"}))
