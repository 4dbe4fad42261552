"""The PDF a member receives: PDF/A-3b, its Factur-X XML embedded, identified by its SHA-256.

:func:`render_invoice` checks the document (:func:`~.document.check_consistency`), builds and
validates its XML, lays the French document out and embeds the XML as ``factur-x.xml``.
Two renderers draw the same document, chosen by the ``INVOICE_RENDERER`` setting
(:data:`RENDERERS`): WeasyPrint, from ``invoices/templates/`` (the reference layout), and
ReportLab (:mod:`.reportlab_rendering`), some ten times faster, for large billing runs.
The output is a pure function of the document and the renderer: the PDF dates are the
issue date (midnight, Paris time), the file identifier is a hash of the content, so
rendering a document twice gives the same bytes and the stored SHA-256 identifies the
file (for a given renderer version and set of fonts: an upgrade may change the bytes of
a new rendering, never those of a stored file).

The embedding is done by the renderer itself rather than by ``facturx.generate_from_binary``:
that function rewrites the whole PDF with pypdf a second time, stamps the current time in
its metadata (the output would differ at every run) and leaves the Info dictionary's
Producer unlike the XMP's, which PDF/A forbids. WeasyPrint writes the attachment with its
AFRelationship, the PDF/A-3b identification and sRGB output intent; we add the Factur-X
XMP extension schema it does not know about. The ``factur-x`` package still supplies the
XSD and that extension schema, and reads the result back in the tests.

:func:`render_invoices` renders many documents at once, the way a billing run does: in
this process, or spread over a pool of processes (:class:`RenderPool`).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from lxml import etree
from stdnum import iban

from purchasing.batch import fewer_collections
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

#: The renderers ``INVOICE_RENDERER`` may name; WeasyPrint is the default.
WEASYPRINT, REPORTLAB = "weasyprint", "reportlab"
RENDERERS = (WEASYPRINT, REPORTLAB)
DEFAULT_RENDERER = WEASYPRINT
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


class UnknownRenderer(ValueError):
    """``INVOICE_RENDERER`` names no renderer."""


def check_renderer(name: str) -> str:
    """``name`` if it is one of :data:`RENDERERS`; :class:`UnknownRenderer` otherwise."""
    if name not in RENDERERS:
        raise UnknownRenderer(
            f"INVOICE_RENDERER is {name!r}: expected one of {', '.join(RENDERERS)}"
        )
    return name


def render_invoice(doc: InvoiceDocument, *, renderer: str = DEFAULT_RENDERER) -> RenderedInvoice:
    """The PDF/A-3b of ``doc`` with its Factur-X XML embedded, drawn by ``renderer``.

    Raises :class:`~.document.InconsistentDocument` when the figures do not add up, and
    :class:`~.facturx.FacturXInvalid` when the XML would not validate: nothing is produced.
    """
    check_renderer(renderer)
    check_consistency(doc)
    xml = build_facturx_xml(doc)
    validate_facturx_xml(xml)
    issued_at = datetime.combine(doc.issue_date, time(), tzinfo=PARIS)
    if renderer == REPORTLAB:
        from purchasing.billing.reportlab_rendering import reportlab_pdf

        pdf = reportlab_pdf(doc, xml, issued_at=issued_at)
    else:
        pdf = _weasyprint_pdf(doc, xml, issued_at)
    return RenderedInvoice(pdf=pdf, xml=xml, sha256=hashlib.sha256(pdf).hexdigest())


def render_invoices(
    documents: Sequence[InvoiceDocument], *, renderer: str = DEFAULT_RENDERER
) -> list[RenderedInvoice]:
    """:func:`render_invoice` of each document, in order, in this process."""
    return [render_invoice(doc, renderer=renderer) for doc in documents]


class RenderPool:
    """Renders documents over a pool of processes: a billing run's PDFs use every core.

    Calling the pool renders a list of documents in order, spread over the processes in
    slices of ``slice_size``; each process keeps its renderer warm (fonts, stylesheets)
    from one call to the next. Processes are started by a fork server, never forked from
    the caller: a web worker or a billing run's thread may hold locks and connections
    that a forked copy must not inherit; as with any such pool, the main script of the
    process keeps its work under ``if __name__ == "__main__":`` (each process imports it).
    Use it as a context manager, or ``close()`` it.
    """

    def __init__(self, *, renderer: str, processes: int, slice_size: int = 4) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.renderer = check_renderer(renderer)
        self.slice_size = max(1, slice_size)
        context = multiprocessing.get_context("forkserver")
        # The fork server loads this module, not the caller's main script (its default):
        # a script without a ``__main__`` guard would otherwise run again in it.
        context.set_forkserver_preload([__name__])
        self._executor = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=context,
            initializer=_warm_up,
            initargs=(renderer,),
        )

    def __call__(self, documents: Sequence[InvoiceDocument]) -> list[RenderedInvoice]:
        return self.submit(documents)()

    def submit(self, documents: Iterable[InvoiceDocument]) -> Callable[[], list[RenderedInvoice]]:
        """Start rendering ``documents`` over the processes, each slice as soon as it is
        full (``documents`` may be made as they are asked for); what to call for the
        PDFs, in order (it waits for them, and raises what a rendering raised)."""
        futures, part = [], []
        for document in documents:
            part.append(document)
            if len(part) == self.slice_size:
                futures.append(self._executor.submit(render_elsewhere, part, self.renderer))
                part = []
        if part:
            futures.append(self._executor.submit(render_elsewhere, part, self.renderer))
        return lambda: [item for future in futures for item in future.result()]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class RenderingFailed(RuntimeError):
    """A document could not be rendered in another process or machine: its error, told
    as text (the error itself may not travel back: a domain error is not picklable)."""

    @classmethod
    def of(cls, exc: Exception) -> RenderingFailed:
        details = getattr(exc, "errors", None)
        return cls(f"{type(exc).__name__}: {exc}" + (f" {details}" if details else ""))


def render_elsewhere(documents: list[InvoiceDocument], renderer: str) -> list[RenderedInvoice]:
    """:func:`render_invoices` as a pool process or a worker runs it."""
    try:
        with fewer_collections():
            return render_invoices(documents, renderer=renderer)
    except Exception as exc:
        raise RenderingFailed.of(exc) from None


def _warm_up(renderer: str) -> None:
    """Load the renderer's libraries, fonts and stylesheets before the first document."""
    if renderer == REPORTLAB:
        from purchasing.billing.reportlab_rendering import warm_up

        warm_up()
    else:
        stylesheet(STYLESHEET)


def _weasyprint_pdf(doc: InvoiceDocument, xml: bytes, issued_at: datetime) -> bytes:
    document = render_document(
        TEMPLATES[doc.kind], _template_context(doc, issued_at), stylesheets=[stylesheet(STYLESHEET)]
    )
    document.metadata.generate_rdf_metadata = _rdf_metadata_with_facturx
    return document.write_pdf(
        pdf_variant=PDF_VARIANT,
        attachments=[_facturx_attachment(xml, issued_at)],
        finisher=_finish_attachment,
    )


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
    rdf.extend(list(etree.fromstring(facturx_xmp())))
    return etree.tostring(rdf, encoding="utf-8")


@cache
def facturx_xmp() -> bytes:
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
