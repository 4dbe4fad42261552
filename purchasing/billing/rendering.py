"""The PDF a member receives: PDF/A-3b, its Factur-X XML embedded, identified by its SHA-256.

:func:`render_invoice` checks the document (:func:`~.document.check_consistency`), builds and
validates its XML, lays the French document out with WeasyPrint from
``invoices/templates/`` and embeds the XML as ``factur-x.xml``. The output is a pure
function of the document: the PDF dates are the issue date (midnight, Paris time), the
file identifier is a hash of the content, so rendering a document twice gives the same
bytes and the stored SHA-256 identifies the file (for a given WeasyPrint and set of fonts:
an upgrade may change the bytes of a new rendering, never those of a stored file).

The embedding is done by WeasyPrint itself rather than by ``facturx.generate_from_binary``:
that function rewrites the whole PDF with pypdf a second time, stamps the current time in
its metadata (the output would differ at every run) and leaves the Info dictionary's
Producer ("WeasyPrint") unlike the XMP's ("pypdf"), which PDF/A forbids. WeasyPrint writes
the attachment with its AFRelationship, the PDF/A-3b identification and sRGB output
intent; we add the Factur-X XMP extension schema it does not know about. The ``factur-x``
package still supplies the XSD, and reads the result back in the tests.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime, time
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from lxml import etree
from stdnum import iban

from purchasing.billing.document import (
    LATE_PAYMENT_INTEREST_MENTION,
    NO_EARLY_PAYMENT_DISCOUNT_MENTION,
    RECOVERY_INDEMNITY_MENTION,
    VAT_ON_DEBITS_MENTION,
    DocumentKind,
    InvoiceDocument,
    check_consistency,
)
from purchasing.billing.facturx import (
    CONFORMANCE_LEVEL,
    FACTURX_FILENAME,
    build_facturx_xml,
    validate_facturx_xml,
)
from purchasing.pdf import render_document, stylesheet

if TYPE_CHECKING:
    import pydyf
    import weasyprint

TEMPLATES = {DocumentKind.INVOICE: "invoice.html", DocumentKind.CREDIT_NOTE: "credit_note.html"}
STYLESHEET = "invoice.css"
PDF_VARIANT = "pdf/a-3b"
#: Factur-X: the XML is the data of the invoice the PDF shows ("Alternative" is allowed
#: from the BASIC profile on; "Data" is valid at every profile and the factur-x default).
AF_RELATIONSHIP = "Data"
XML_MIME_TYPE = "/text#2Fxml"
#: Issue dates are French calendar days.
PARIS = ZoneInfo("Europe/Paris")
PRODUCER_NAME = "Centrale"
FACTURX_XMP_NAMESPACE = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"


@dataclass(frozen=True, slots=True)
class RenderedInvoice:
    """What the billing services store: the PDF, its embedded XML and the PDF's SHA-256."""

    pdf: bytes
    xml: bytes
    #: Hex SHA-256 of ``pdf``.
    sha256: str


def render_invoice(doc: InvoiceDocument) -> RenderedInvoice:
    """The PDF/A-3b of ``doc`` with its Factur-X XML embedded.

    Raises :class:`~.document.InconsistentDocument` when the figures do not add up, and
    :class:`~.facturx.FacturXInvalid` when the XML would not validate: nothing is produced.
    """
    check_consistency(doc)
    xml = build_facturx_xml(doc)
    validate_facturx_xml(xml)
    issued_at = datetime.combine(doc.issue_date, time(), tzinfo=PARIS)
    document = render_document(
        TEMPLATES[doc.kind], _template_context(doc, issued_at), stylesheets=[stylesheet(STYLESHEET)]
    )
    document.metadata.generate_rdf_metadata = _rdf_metadata_with_facturx
    pdf = document.write_pdf(
        pdf_variant=PDF_VARIANT,
        attachments=[_facturx_attachment(xml, issued_at)],
        finisher=_finish_attachment,
    )
    return RenderedInvoice(pdf=pdf, xml=xml, sha256=hashlib.sha256(pdf).hexdigest())


def _template_context(doc: InvoiceDocument, issued_at: datetime) -> dict[str, Any]:
    return {
        "doc": doc,
        "created": issued_at.isoformat(),
        "producer": PRODUCER_NAME,
        "payment_iban": iban.format(doc.payment_iban) if doc.payment_iban else None,
        "mentions": {
            "late_payment_interest": LATE_PAYMENT_INTEREST_MENTION,
            "recovery_indemnity": RECOVERY_INDEMNITY_MENTION,
            "no_early_payment_discount": NO_EARLY_PAYMENT_DISCOUNT_MENTION,
            "vat_on_debits": VAT_ON_DEBITS_MENTION,
        },
    }


def _facturx_attachment(xml: bytes, issued_at: datetime) -> weasyprint.Attachment:
    from weasyprint import Attachment

    # WeasyPrint writes attachment dates as UTC ("Z"): give it the UTC instant.
    moment = issued_at.astimezone(UTC).replace(tzinfo=None)
    return Attachment(
        file_obj=io.BytesIO(xml),
        name=FACTURX_FILENAME,
        description="Factur-X XML",
        relationship=AF_RELATIONSHIP,
        created=moment,
        modified=moment,
    )


def _rdf_metadata_with_facturx(
    metadata: weasyprint.document.DocumentMetadata,
    variant: str,
    version: int,
    conformance: str | None,
) -> bytes:
    """WeasyPrint's XMP (PDF/A identification, title, dates...) plus the Factur-X schema."""
    from weasyprint.pdf.metadata import generate_rdf_metadata

    rdf = etree.fromstring(generate_rdf_metadata(metadata, variant, version, conformance))
    rdf.extend(list(etree.fromstring(_facturx_xmp())))
    return etree.tostring(rdf, encoding="utf-8")


@cache
def _facturx_xmp() -> bytes:
    """The Factur-X XMP descriptions: its properties and the PDF/A extension schema of them.

    PDF/A accepts XMP properties outside its predefined schemas only when an extension
    schema describes them; the ``factur-x`` package ships the one the specification
    prescribes, which we take as is but for the conformance level.
    """
    parser = etree.XMLParser(remove_comments=True, remove_blank_text=True)
    with (files("facturx") / "xmp" / "Factur-X_extension_schema.xmp").open("rb") as stream:
        rdf = etree.parse(stream, parser).getroot()
    (level,) = rdf.iterfind(".//fx:ConformanceLevel", {"fx": FACTURX_XMP_NAMESPACE})
    level.text = CONFORMANCE_LEVEL
    return etree.tostring(rdf, encoding="utf-8")


def _finish_attachment(document: weasyprint.Document, pdf: pydyf.PDF) -> None:
    """Set what WeasyPrint leaves to chance on the embedded XML, just before writing.

    Its MIME type is guessed by :mod:`mimetypes` from the file name, an answer that
    depends on the host (application/xml on Debian): Factur-X prescribes text/xml. And
    WeasyPrint 66 lists the file specification twice in the catalog's /AF array.
    """
    for pdf_object in pdf.objects:
        extra = getattr(pdf_object, "extra", None)
        if isinstance(extra, dict) and extra.get("Type") == "/EmbeddedFile":
            extra["Subtype"] = XML_MIME_TYPE
    if "AF" in pdf.catalog:
        pdf.catalog["AF"][:] = list(dict.fromkeys(pdf.catalog["AF"]))
