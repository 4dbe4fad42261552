"""The rendered invoice: its French mentions, its embedded Factur-X XML, its PDF/A-3 marks.

Each sample is rendered once per module (a rendering takes about a tenth of a second) and
read back with pypdf, as a member's software or an auditor's would.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
from datetime import date

import facturx
import pytest
from pypdf import PdfReader

from purchasing.billing.document import (
    InconsistentDocument,
    InvoiceDocument,
    OperationCategory,
    PostalAddress,
)
from purchasing.billing.facturx import build_facturx_xml
from purchasing.billing.rendering import RenderedInvoice, render_invoice
from purchasing.formats import euros
from tests.unit.invoice_documents import (
    aided_invoice,
    credit_note,
    long_invoice,
    multi_rate_invoice,
)

NBSP = "\u00a0"  # between an amount and its currency
# French typography of the templates, spelled out (the characters look like ASCII ones).
APOSTROPHE = "\u2019"
EN_DASH = "\u2013"
MINUS = "\u2212"


@dataclasses.dataclass
class Rendered:
    doc: InvoiceDocument
    result: RenderedInvoice
    reader: PdfReader

    @property
    def pages_text(self) -> list[str]:
        return [page.extract_text() for page in self.reader.pages]

    @property
    def text(self) -> str:
        return "\n".join(self.pages_text)

    @property
    def xmp(self) -> str:
        return self.reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()


def rendered(doc: InvoiceDocument) -> Rendered:
    result = render_invoice(doc)
    return Rendered(doc, result, PdfReader(io.BytesIO(result.pdf)))


@pytest.fixture(scope="module")
def invoice() -> Rendered:
    return rendered(multi_rate_invoice())


@pytest.fixture(scope="module")
def long() -> Rendered:
    return rendered(long_invoice(80))


@pytest.fixture(scope="module")
def credit() -> Rendered:
    return rendered(credit_note())


@pytest.fixture(scope="module", params=[True, False], ids=["aid-in-vat-base", "aid-reduces-price"])
def aided(request) -> Rendered:
    return rendered(aided_invoice(aid_in_vat_base=request.param))


def test_the_invoice_shows_every_mention_french_law_requires(invoice):
    text = invoice.text
    for expected in [
        "Facture",
        "N° FA-2026-000123",
        f"Date d{APOSTROPHE}émission : 02/02/2026",
        # Seller: name, address, SIRET, VAT number.
        "Syndicat mixte numérique Nord-Pas-de-Calais",
        "12 rue de l'Hôtel de Ville",
        "59000 Lille",
        "SIRET 25590012800018",
        "N° TVA intracommunautaire FR07255900128",
        # Buyer: name, address, SIRET and SIREN, Chorus Pro service, engagement.
        "Commune de Wattignies",
        "59139 Wattignies",
        "SIRET 21590636800017 (SIREN 215906368)",
        "Service exécutant (Chorus Pro) SERV-NUMERIQUE",
        f"N° d{APOSTROPHE}engagement EJ-2026-0042",
        # Period of the service, nature of the operations.
        "Période du 01/01/2026 au 31/01/2026",
        "Nature des opérations Prestations de services",
        # Lines: designation, quantity, unit, unit price, VAT rate, amount, line period.
        "Lien fibre 100 Mbit/s",
        f"1 mois 189,00{NBSP}€ 20{NBSP}% 103,65{NBSP}€",
        "Période du 15/01/2026 au 31/01/2026, prorata 17/31 jours",
        f"2,5 heure 65,35{NBSP}€ 10{NBSP}% 163,38{NBSP}€",
        "Mise en service le 15/01/2026",
        f"7 unité 12,37{NBSP}€ 5,5{NBSP}% 86,59{NBSP}€",
        # Totals.
        f"Total HT 401,62{NBSP}€",
        f"TVA 20{NBSP}% sur 151,65{NBSP}€ 30,33{NBSP}€",
        f"TVA 10{NBSP}% sur 163,38{NBSP}€ 16,34{NBSP}€",
        f"TVA 5,5{NBSP}% sur 86,59{NBSP}€ 4,76{NBSP}€",
        f"Total TVA 51,43{NBSP}€",
        f"Total TTC 453,05{NBSP}€",
        f"Net à payer 453,05{NBSP}€",
        # Payment: due date, transfer to the Trésor public, bank account.
        "Échéance : 30 jours, le 04/03/2026",
        "Par virement au Trésor public",
        "IBAN FR76 3000 1007 9412 3456 7890 185",
        "BIC BDFEFRPPCCT",
        # Late payment and discount (Code de commerce L441-9, Code de la commande publique).
        "des intérêts moratoires sont dus de plein droit",
        "majoré de 8 points",
        "L2192-13 et R2192-31 du Code de la commande publique",
        f"indemnité forfaitaire pour frais de recouvrement de 40{NBSP}€",
        "D2192-35",
        "Pas d'escompte pour paiement anticipé.",
        "Page 1 / 1",
    ]:
        assert expected in _one_line(text), expected


def test_amounts_are_printed_in_french_format(invoice):
    doc = invoice.doc
    for value in (doc.total_net, doc.total_vat, doc.total_gross, doc.amount_due):
        assert euros(value) in invoice.text


def test_the_embedded_factur_x_xml_is_the_documents(invoice):
    attachments = invoice.reader.attachments
    assert list(attachments) == ["factur-x.xml"]
    assert attachments["factur-x.xml"] == [invoice.result.xml]
    assert invoice.result.xml == build_facturx_xml(invoice.doc)
    # The factur-x library finds it, and its XSD accepts it.
    filename, xml = facturx.get_xml_from_pdf(invoice.result.pdf, check_xsd=True)
    assert (filename, xml) == ("factur-x.xml", invoice.result.xml)


def test_the_attachment_is_declared_as_pdf_a_3_requires(invoice):
    catalog = invoice.reader.trailer["/Root"]
    (filespec,) = [reference.get_object() for reference in catalog["/AF"]]
    assert filespec["/F"] == filespec["/UF"] == "factur-x.xml"
    assert filespec["/AFRelationship"] == "/Data"
    stream = filespec["/EF"]["/F"].get_object()
    assert stream["/Subtype"] == "/text/xml"
    assert stream["/Params"]["/ModDate"] == "D:20260201230000Z"  # midnight in Paris


def test_the_pdf_is_marked_pdf_a_3b_with_the_factur_x_extension_schema(invoice):
    xmp = invoice.xmp
    assert re.search(r'pdfaid:part="3"|<pdfaid:part>3</pdfaid:part>', xmp)
    assert re.search(r'pdfaid:conformance="B"|<pdfaid:conformance>B</pdfaid:conformance>', xmp)
    assert "<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>" in xmp
    assert "<fx:DocumentType>INVOICE</fx:DocumentType>" in xmp
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    assert "<pdfaSchema:prefix>fx</pdfaSchema:prefix>" in xmp
    assert invoice.reader.pdf_header == "%PDF-1.7"


def test_info_and_xmp_metadata_agree_and_date_from_the_issue_date(invoice):
    info = invoice.reader.metadata
    xmp = invoice.xmp
    assert info["/Title"] == "Facture FA-2026-000123"
    assert f'<rdf:li xml:lang="x-default">{info["/Title"]}</rdf:li>' in xmp
    assert f'pdf:Producer="{info["/Producer"]}"' in xmp
    assert f"<xmp:CreatorTool>{info['/Creator']}</xmp:CreatorTool>" in xmp
    assert info["/CreationDate"] == info["/ModDate"] == "D:20260202000000+01'00"
    assert "<xmp:CreateDate>2026-02-02T00:00:00+01:00</xmp:CreateDate>" in xmp


def test_colours_are_srgb_and_every_font_is_embedded(invoice):
    (intent,) = invoice.reader.trailer["/Root"]["/OutputIntents"]
    assert intent["/S"] == "/GTS_PDFA1"
    assert intent["/OutputConditionIdentifier"] == "sRGB IEC61966-2.1"
    fonts = invoice.reader.pages[0]["/Resources"]["/Font"]
    assert fonts
    for font in fonts.values():
        font = font.get_object()
        descriptors = [font.get("/FontDescriptor")] + [
            descendant.get_object().get("/FontDescriptor")
            for descendant in font.get("/DescendantFonts", [])
        ]
        embedded = [
            d.get_object()
            for d in descriptors
            if d is not None and {"/FontFile", "/FontFile2", "/FontFile3"} & set(d.get_object())
        ]
        assert embedded, font["/BaseFont"]


def test_rendering_is_deterministic_and_the_hash_identifies_the_file(invoice):
    again = render_invoice(invoice.doc)
    assert again.pdf == invoice.result.pdf
    assert again.sha256 == invoice.result.sha256 == hashlib.sha256(again.pdf).hexdigest()
    assert invoice.reader.trailer["/ID"]


def test_a_long_invoice_flows_over_pages_with_the_header_repeated(long):
    pages = long.pages_text
    assert len(pages) > 2
    for number, page in enumerate(pages, start=1):
        assert "Désignation" in page and "Montant HT" in page  # the table header
        assert f"Page {number} / {len(pages)}" in page
        assert "SIRET 25590012800018" in page  # the seller, in the footer
    for page in pages[1:]:
        assert "Facture n° FA-2026-000123 du 02/02/2026" in page  # running reference
    # Every line once, in order; the totals on the last page only.
    text = long.text
    positions = [text.index(f"vidéoprotection n° {n} -") for n in range(1, 81)]
    assert positions == sorted(positions)
    assert all("Net à payer" not in page for page in pages[:-1])
    assert f"Net à payer {euros(long.doc.amount_due)}" in _one_line(pages[-1])


def test_a_credit_note_names_the_invoice_it_corrects(credit):
    text = _one_line(credit.text)
    assert "Avoir" in text
    assert "N° AV-2026-000004" in text
    assert "Avoir sur la facture n° FA-2026-000123 du 02/02/2026" in text
    assert f"Net à déduire {euros(credit.doc.amount_due)}" in text
    assert "Net à payer" not in text
    assert "intérêts moratoires" not in text  # nothing is due by the member
    assert credit.reader.attachments["factur-x.xml"] == [credit.result.xml]


def test_feder_aid_shows_gross_aid_and_net(aided):
    doc = aided.doc
    text = _one_line(aided.text)
    assert f"dont aide FEDER {EN_DASH} Programme Mairie Connectée 2024-2026" in text
    if doc.aid_in_vat_base:
        assert f"162,00{NBSP}€, complément de prix versé par le FEDER" in text
        assert f"Total HT 1\u202f376,00{NBSP}€" in text
        assert f"Aide FEDER versée par le fonds {MINUS}208,50{NBSP}€" in text
        assert f"Net à payer 1\u202f442,70{NBSP}€" in text
    else:
        assert f"Prix brut 540,00{NBSP}€ HT" in text
        assert f"{MINUS}162,00{NBSP}€ (réduction de prix) ; net 378,00{NBSP}€ HT" in text
        assert f"Total HT avant aide FEDER 1\u202f376,00{NBSP}€" in text
        assert f"Total HT 1\u202f167,50{NBSP}€" in text
        assert f"Net à payer 1\u202f401,00{NBSP}€" in text
    assert aided.reader.attachments["factur-x.xml"] == [aided.result.xml]


def test_an_inconsistent_document_is_never_rendered():
    doc = multi_rate_invoice()
    with pytest.raises(InconsistentDocument):
        render_invoice(dataclasses.replace(doc, total_vat=doc.total_vat + 1))


def _one_line(text: str) -> str:
    """Text extraction breaks long sentences where the PDF does: join them back."""
    return re.sub(r"\s*\n\s*", " ", text)


def test_goods_show_their_delivery_date_and_address_and_vat_on_debits():
    doc = dataclasses.replace(
        multi_rate_invoice(),
        operation_category=OperationCategory.GOODS,
        supply_date=date(2026, 1, 30),
        period_start=None,
        period_end=None,
        delivery_address=PostalAddress(
            lines=("Centre technique municipal", "3 rue des Ateliers"),
            postal_code="59139",
            city="Wattignies",
        ),
        vat_on_debits=True,
    )
    text = _one_line(rendered(doc).text)
    assert "Date de livraison 30/01/2026" in text
    assert "Nature des opérations Livraisons de biens" in text
    assert "ADRESSE DE LIVRAISON Centre technique municipal 3 rue des Ateliers 59139" in text
    assert "Option pour le paiement de la taxe d'après les débits." in text
