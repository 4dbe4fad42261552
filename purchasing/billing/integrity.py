"""Checks that the stored invoice documents are still the ones issued.

Each issued invoice's PDF and Factur-X XML were hashed (SHA-256) when they were stored.
Serving one refuses a file that no longer matches (:func:`.services.stored_document`);
this check goes through them all, for the operator (``centrale billing verify-documents``)
or a scheduled job, so that an altered or missing file is found before a member or an
auditor asks for it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from purchasing.billing.models import Invoice, InvoiceDocumentFile, InvoiceStatus

#: Documents read per round trip: the check holds a few PDFs in memory, never all.
_BATCH = 100


@dataclass(frozen=True)
class AlteredDocument:
    invoice_id: int
    number: str
    #: the SHA-256 recorded at issue, and that of the file stored now
    recorded_sha256: str
    stored_sha256: str
    #: which stored file no longer matches: "PDF" or "XML"
    part: str = "PDF"


@dataclass(frozen=True)
class DocumentCheck:
    checked: int
    altered: list[AlteredDocument] = field(default_factory=list)
    #: numbers of issued invoices that have no stored document at all
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.altered and not self.missing


def verify_documents(session: Session) -> DocumentCheck:
    """Hash every stored invoice PDF and XML again and compare with the hashes recorded at
    issue."""
    rows = session.execute(
        select(
            InvoiceDocumentFile.invoice_id,
            Invoice.number,
            InvoiceDocumentFile.pdf,
            InvoiceDocumentFile.pdf_sha256,
            InvoiceDocumentFile.xml,
            InvoiceDocumentFile.xml_sha256,
        )
        .join(Invoice, Invoice.id == InvoiceDocumentFile.invoice_id)
        .order_by(InvoiceDocumentFile.invoice_id)
        .execution_options(yield_per=_BATCH)
    )
    checked = 0
    altered = []
    for invoice_id, number, pdf, pdf_recorded, xml, xml_recorded in rows:
        checked += 1
        for part, content, recorded in (("PDF", pdf, pdf_recorded), ("XML", xml, xml_recorded)):
            stored = hashlib.sha256(content).hexdigest()
            if stored != recorded:
                altered.append(AlteredDocument(invoice_id, number, recorded, stored, part))
    missing = session.scalars(
        select(Invoice.number)
        .outerjoin(InvoiceDocumentFile, InvoiceDocumentFile.invoice_id == Invoice.id)
        .where(Invoice.status == InvoiceStatus.ISSUED, InvoiceDocumentFile.invoice_id.is_(None))
        .order_by(Invoice.number)
    ).all()
    session.commit()  # end the reading transaction
    return DocumentCheck(checked=checked, altered=altered, missing=list(missing))
