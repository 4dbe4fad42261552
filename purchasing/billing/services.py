"""Use cases of invoicing: issue invoices and credit notes, record payments, read them.

An invoice is issued inside one transaction: its number is taken from the series of its
fiscal year (``purchasing.numbering``), its figures are computed from its lines, its PDF
with the Factur-X XML is rendered and stored with its SHA-256, and the ``invoice.issued``
event the ledger posts is written. Any failure rolls all of it back, number included, so
the series stays without gaps. Once issued, nothing of the document changes: corrections
are credit notes, which reference the invoice and have their own series.

What the member still owes on an invoice is its amount due less its credit notes and the
payments received (:attr:`Invoice.outstanding`). Its payment status says where that
stands: ``open`` while nothing was paid, ``partly_paid`` once a payment came in and
something is still owed, ``paid`` when nothing is: an invoice settled by credit notes,
wholly or with payments, is ``paid`` too. A credit note issued after payment leaves a
negative outstanding, the sum the centre owes the member back.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload
from sqlalchemy.orm.attributes import flag_modified, set_committed_value

from purchasing.audit.services import record_change
from purchasing.auth.roles import Actor, member_scope, visible_to
from purchasing.billing import document as doc
from purchasing.billing.legal_basis import NONE as NO_LEGAL_BASIS
from purchasing.billing.legal_basis import LegalBasis, legal_bases
from purchasing.billing.models import (
    SERIES,
    BillingRun,
    DocumentKind,
    Invoice,
    InvoiceDocumentFile,
    InvoiceLine,
    InvoiceStatus,
    InvoiceVat,
    Payment,
    PaymentStatus,
)
from purchasing.billing.periods import Period
from purchasing.billing.rendering import RenderedInvoice, render_invoices
from purchasing.billing.settings import BillingSettings
from purchasing.db import any_of, utcnow
from purchasing.errors import Conflict, NotFound, ValidationFailed
from purchasing.events import publish
from purchasing.fields import today_in_paris
from purchasing.members.models import Member
from purchasing.money import ZERO, line_amount
from purchasing.numbering import format_number, next_numbers
from purchasing.orders.models import OrderLine
from purchasing.subsidies.models import SubsidyProgramme
from purchasing.subsidies.services import (
    AidGrant,
    AidRequest,
    AidSources,
    allocate_aid,
    give_back_aid,
)
from purchasing.unit_of_work import Page, paginate, transaction, update_each

#: Accounts of goods resold (707x); any other sales account is a service (706x).
GOODS_ACCOUNT_PREFIX = "707"


class InvoiceAlreadyIssued(Conflict):
    def __init__(self, invoice: Invoice) -> None:
        super().__init__(
            f"invoice {invoice.number} is issued and can no longer change; "
            "correct it with a credit note",
            field="status",
        )


class IssueDateOutOfOrder(ValidationFailed):
    """Numbers are chronological: an issue date may not precede the series' last one."""


class CreditExceedsInvoice(ValidationFailed):
    pass


class PaymentExceedsBalance(ValidationFailed):
    pass


class NotAnInvoice(Conflict):
    """A credit note where an invoice is expected: it is neither credited nor paid."""

    def __init__(self, note: Invoice, action: str) -> None:
        super().__init__(
            f"{note.number} is a credit note: only an invoice {action}", field="invoice_id"
        )


class StoredDocumentAltered(RuntimeError):
    """A stored PDF no longer matches the SHA-256 taken at issue: it is not served."""


# --- Reading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceFilters:
    member_id: int | None = None
    kind: DocumentKind | None = None
    payment_status: PaymentStatus | None = None


def _visible(actor: Actor | None):
    query = select(Invoice).where(Invoice.status == InvoiceStatus.ISSUED)
    return visible_to(actor, query, Invoice.member_id)


def get_invoice(session: Session, invoice_id: int, *, actor: Actor | None) -> Invoice:
    """An invoice or credit note; a member's user sees only its own (else NotFound)."""
    scope = member_scope(actor)
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or (scope is not None and invoice.member_id != scope):
        raise NotFound(f"no invoice with id {invoice_id}", field="invoice_id")
    if scope is not None and invoice.status is not InvoiceStatus.ISSUED:
        raise NotFound(f"no invoice with id {invoice_id}", field="invoice_id")
    return invoice


def list_invoices(
    session: Session,
    *,
    actor: Actor | None,
    filters: InvoiceFilters | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Invoice]:
    """Issued invoices and credit notes, newest first."""
    filters = filters or InvoiceFilters()
    query = _visible(actor)
    if filters.member_id is not None:
        query = query.where(Invoice.member_id == filters.member_id)
    if filters.kind is not None:
        query = query.where(Invoice.kind == filters.kind)
    if filters.payment_status is not None:
        query = query.where(Invoice.payment_status == filters.payment_status)
    query = query.order_by(Invoice.issue_date.desc(), Invoice.id.desc())
    return paginate(session, query, page=page, per_page=per_page)


def stored_document(session: Session, invoice_id: int, *, actor: Actor | None) -> Invoice:
    """The invoice whose stored PDF and XML are to be served, exactly as issued.

    Raises :class:`StoredDocumentAltered` when the PDF or the XML no longer has the
    SHA-256 it was issued with: a member must never receive a file other than the one issued.
    """
    invoice = get_invoice(session, invoice_id, actor=actor)
    stored = invoice.document
    if stored is None:
        raise NotFound(f"invoice {invoice_id} has no document", field="invoice_id")
    for kind, content, recorded in (
        ("PDF", stored.pdf, stored.pdf_sha256),
        ("XML", stored.xml, stored.xml_sha256),
    ):
        if hashlib.sha256(content).hexdigest() != recorded:
            raise StoredDocumentAltered(f"the stored {kind} of {invoice.number} was altered")
    return invoice


# --- Issuing ----------------------------------------------------------------------------


def issue_invoice(
    session: Session,
    invoice_id: int,
    *,
    settings: BillingSettings,
    issued_by: Actor | None,
    issue_date: date | None = None,
) -> Invoice:
    """Issue a draft invoice: number, figures, PDF and ledger event, in one transaction."""
    with transaction(session):
        invoice = session.get(Invoice, invoice_id, with_for_update=True)
        if invoice is None:
            raise NotFound(f"no invoice with id {invoice_id}", field="invoice_id")
        issue(session, invoice, settings=settings, issued_by=issued_by, issue_date=issue_date)
    return invoice


def issue(
    session: Session,
    invoice: Invoice,
    *,
    settings: BillingSettings,
    issued_by: Actor | None,
    issue_date: date | None = None,
) -> None:
    """Issue ``invoice`` inside the caller's transaction (a credit note's, or ours)."""
    issue_invoices(
        session, [invoice], settings=settings, issued_by=issued_by, issue_date=issue_date
    )


#: Renders documents, in order: in this process, a pool of processes or Celery workers.
Renderer = Callable[[Sequence[doc.InvoiceDocument]], Sequence[RenderedInvoice]]


@dataclass(frozen=True)
class _Issuing:
    """An invoice numbered and figured, waiting for its PDF."""

    invoice: Invoice
    document: doc.InvoiceDocument
    aid_by_programme: list[dict[str, str]]


@dataclass
class PreparedIssue:
    """Documents aided and numbered in the caller's transaction (:func:`prepare_issue`):
    :meth:`figure` makes them, :meth:`write` writes them issued, :meth:`store` stores
    their PDFs."""

    #: Each invoice with its number in its series and its aid by programme, in order.
    numbered: list[tuple[Invoice, int, list[dict[str, str]]]]
    settings: BillingSettings
    legal: Mapping[int, LegalBasis]
    issued_by: Actor | None
    issue_date: date
    #: The lines the aid changed, with what it changed: on the lines, not written yet.
    aided: list[tuple[InvoiceLine, dict[str, object]]]
    items: list[_Issuing] = field(default_factory=list)
    written: bool = False

    def figure(self, session: Session) -> Iterator[doc.InvoiceDocument]:
        """Give each invoice its number and figures in turn, yielding its document, to
        render, as soon as it is made: a renderer working elsewhere starts on the first
        while the others are made (a billing run's render processes wait for them)."""
        if self.items:
            raise RuntimeError("the documents are figured once")
        for invoice, sequence, aid_by_programme in self.numbered:
            # Nothing flushed: the invoice is issued in memory, its aided lines not written.
            with session.no_autoflush:
                document = _number_and_figure(
                    invoice, sequence, self.settings, self.issued_by, self.issue_date, self.legal
                )
            self.items.append(_Issuing(invoice, document, aid_by_programme))
            yield document

    def write(self, session: Session) -> None:
        """Write the aid and the issued invoices, once all are figured: the aided lines
        first, while their invoices are still drafts in the database (once issued, an
        invoice's lines never change, and a flush writes an invoice before its lines),
        then the rest by one flush (what the aid consumed and recorded, the invoices
        issued, their figures)."""
        if len(self.items) != len(self.numbered):
            raise RuntimeError("the documents are written once all are figured")
        update_each(session, self.aided)
        session.flush()
        self.written = True

    def store(self, session: Session, rendered: Sequence[RenderedInvoice]) -> None:
        """Store each PDF with its SHA-256, and write the ledger events and audit records."""
        if not self.written:
            raise RuntimeError("the issued documents are stored once written")
        if len(rendered) != len(self.items):
            raise RuntimeError(f"{len(self.items)} documents to render, {len(rendered)} rendered")
        for item, pdf in zip(self.items, rendered, strict=True):
            _store_issued(session, item, pdf, issued_by=self.issued_by, issue_date=self.issue_date)


def issue_invoices(
    session: Session,
    invoices: Sequence[Invoice],
    *,
    settings: BillingSettings,
    issued_by: Actor | None,
    issue_date: date | None = None,
    render: Renderer | None = None,
) -> None:
    """Issue draft ``invoices`` inside the caller's transaction: aid, numbers, figures,
    PDFs, ledger events and audit records.

    The billing run issues a group of members' invoices at once: their PDFs are then
    rendered together by ``render`` (a pool of processes or Celery workers), while the
    transaction holds the numbers it took; without ``render`` each is rendered here with
    the renderer the settings name. Any failure leaves the caller to roll everything
    back, numbers included.
    """
    prepared = prepare_issue(
        session, invoices, settings=settings, issued_by=issued_by, issue_date=issue_date
    )
    documents = list(prepared.figure(session))
    prepared.write(session)
    if render is None:
        rendered = render_invoices(documents, renderer=settings.invoice_renderer)
    else:
        rendered = render(documents)
    prepared.store(session, rendered)


def prepare_issue(
    session: Session,
    invoices: Sequence[Invoice],
    *,
    settings: BillingSettings,
    issued_by: Actor | None,
    issue_date: date | None = None,
    legal: Mapping[int, LegalBasis] | None = None,
) -> PreparedIssue:
    """The first half of :func:`issue_invoices`: aid and numbers given, nothing written
    yet. The numbers are taken: the caller's transaction must figure the documents
    (:meth:`PreparedIssue.figure`), write them (:meth:`PreparedIssue.write`), store the
    PDFs (:meth:`PreparedIssue.store`) and commit, or roll back. A billing run hands
    each document to the render processes as it is figured, and writes afterwards: they
    wait for the documents, not for the database. ``legal``: the legal bases of the
    invoices' lines (:func:`~.legal_basis.legal_bases`) when the caller has read them
    already."""
    issue_date = issue_date or today_in_paris()
    for invoice in invoices:
        if invoice.status is InvoiceStatus.ISSUED:
            raise InvoiceAlreadyIssued(invoice)
        if not invoice.lines:
            raise ValidationFailed("an invoice has at least one line", field="lines")
    # Aid first, for every document: programme rows are then always locked before the
    # number counter, so concurrent issuers never wait on each other in opposite orders.
    context = _AidContext.of(session, invoices, issue_date)
    # Nothing flushed from here: the aided lines are written by ``write``, ahead of the
    # invoices issued, since a flush writes an invoice before its lines.
    with session.no_autoflush:
        aided: list[tuple[InvoiceLine, dict[str, object]]] = []
        aid = [_apply_aid(session, invoice, issue_date, context, aided) for invoice in invoices]
        # The numbers of each series taken at once: in the order of ``invoices``, all used
        # by this transaction or all given back with it.
        sequences: dict[str, Iterator[int]] = {}
        for series, count in Counter(SERIES[invoice.kind] for invoice in invoices).items():
            sequences[series] = iter(next_numbers(session, series, issue_date.year, count))
            # Checked once the numbers are taken: their counter row is locked until we
            # commit, so every document issued before these in the series is committed and
            # seen here (and the numbers of this transaction all go to the same day).
            _check_chronology(session, series, issue_date)
        # What the annex cites, read for all the documents at once.
        if legal is None:
            legal = legal_bases(session, [line for invoice in invoices for line in invoice.lines])
    numbered = [
        (invoice, next(sequences[SERIES[invoice.kind]]), aid_by_programme)
        for invoice, aid_by_programme in zip(invoices, aid, strict=True)
    ]
    return PreparedIssue(
        numbered=numbered,
        settings=settings,
        legal=legal,
        issued_by=issued_by,
        issue_date=issue_date,
        aided=aided,
    )


def _number_and_figure(
    invoice: Invoice,
    sequence: int,
    settings: BillingSettings,
    issued_by: Actor | None,
    issue_date: date,
    legal: Mapping[int, LegalBasis],
) -> doc.InvoiceDocument:
    """Give ``invoice`` its number and the figures it is issued with (not flushed yet):
    those of its document, which is returned for rendering."""
    series = SERIES[invoice.kind]
    invoice.series, invoice.fiscal_year, invoice.sequence = series, issue_date.year, sequence
    invoice.number = format_number(series, issue_date.year, sequence)
    invoice.issue_date = issue_date
    if invoice.kind is DocumentKind.INVOICE:
        invoice.due_date = issue_date + timedelta(days=settings.payment_days)
    invoice.buyer = _buyer_snapshot(invoice.member)
    # The figures stored are the document's own: computed once, they cannot differ.
    document = document_of(invoice, settings, legal=legal)
    invoice.vat_lines = [
        InvoiceVat(rate=vat.rate, base=vat.base, amount=vat.amount)
        for vat in document.vat_breakdown
    ]
    invoice.total_net, invoice.total_vat = document.total_net, document.total_vat
    invoice.total_gross, invoice.amount_due = document.total_gross, document.amount_due
    invoice.total_aid = document.total_aid
    # Written even when it stays 0,00: the ORM batches only updates of the same columns,
    # so the invoices of a group, aided or not, are then issued by one UPDATE, not many.
    flag_modified(invoice, "total_aid")
    invoice.issued_at, invoice.issued_by_id = utcnow(), _actor_id(issued_by)
    invoice.status = InvoiceStatus.ISSUED
    return document


def _store_issued(
    session: Session,
    item: _Issuing,
    rendered: RenderedInvoice,
    *,
    issued_by: Actor | None,
    issue_date: date,
) -> None:
    """The PDF stored with its SHA-256, the ledger's event and the audit record."""
    invoice = item.invoice
    if hashlib.sha256(rendered.pdf).hexdigest() != rendered.sha256:
        # Rendered elsewhere (another process or machine): what is stored is what was hashed.
        raise StoredDocumentAltered(f"the PDF rendered for {invoice.number} is not the one hashed")
    # The XML is hashed here, as it is stored: the renderer hands over the PDF's hash only.
    xml_sha256 = hashlib.sha256(rendered.xml).hexdigest()
    session.add(
        InvoiceDocumentFile(
            invoice_id=invoice.id,
            pdf=rendered.pdf,
            xml=rendered.xml,
            pdf_sha256=rendered.sha256,
            xml_sha256=xml_sha256,
        )
    )
    publish(
        session,
        f"{invoice.kind.value}.issued",
        entity="invoice",
        entity_id=invoice.id,
        payload={**_ledger_payload(invoice), "aid_by_programme": item.aid_by_programme},
    )
    record_change(
        session,
        actor=issued_by,
        action=f"{invoice.kind.value}.issued",
        entity="invoice",
        entity_id=invoice.id,
        after={
            "number": invoice.number,
            "issue_date": issue_date.isoformat(),
            "total_gross": str(invoice.total_gross),
            "amount_due": str(invoice.amount_due),
            "pdf_sha256": rendered.sha256,
            "xml_sha256": xml_sha256,
        },
    )


@dataclass
class _AidContext:
    """What the aid of documents issued together reads once for all of them."""

    #: (product id, subsidy eligible) of the order lines the documents bill, by id
    order_lines: dict[int, tuple[int, bool]]
    #: codes of the programmes met so far, by id
    programme_codes: dict[int, str]
    #: the programmes that may aid the invoices' products, locked (see ``AidSources``)
    sources: AidSources | None

    @classmethod
    def of(cls, session: Session, invoices: Sequence[Invoice], issue_date: date) -> _AidContext:
        invoices = [invoice for invoice in invoices if invoice.kind is DocumentKind.INVOICE]
        ids = {
            line.order_line_id
            for invoice in invoices
            for line in invoice.lines
            if line.order_line_id is not None
        }
        rows = session.execute(
            select(OrderLine.id, OrderLine.product_id, OrderLine.subsidy_eligible).where(
                any_of(session, OrderLine.id, ids)
            )
        )
        order_lines = {line_id: (product, eligible) for line_id, product, eligible in rows}
        eligible_products = {product for product, eligible in order_lines.values() if eligible}
        sources = None
        if invoices and eligible_products:
            sources = AidSources.read(
                session,
                on=issue_date,
                invoice_ids=[invoice.id for invoice in invoices],
                product_ids=eligible_products,
            )
        return cls(order_lines, {}, sources)

    def programme_code(self, session: Session, programme_id: int) -> str:
        if programme_id not in self.programme_codes:
            self.programme_codes[programme_id] = session.get(SubsidyProgramme, programme_id).code
        return self.programme_codes[programme_id]


def _apply_aid(
    session: Session,
    invoice: Invoice,
    issue_date: date,
    context: _AidContext,
    aided: list[tuple[InvoiceLine, dict[str, object]]],
) -> list[dict[str, str]]:
    """Put the FEDER aid on the lines of ``invoice`` (an invoice consumes the envelope, a
    credit note gives back what the lines it credits consumed), adding the lines and
    what changed on them to ``aided``, for :meth:`PreparedIssue.write` to write. Each
    programme's aid, for the ledger."""
    if invoice.kind is DocumentKind.INVOICE:
        grants, aid_in_vat_base = _allocate(session, invoice, issue_date, context)
    else:
        grants, aid_in_vat_base = _give_back(session, invoice, issue_date)
    invoice.aid_in_vat_base = aid_in_vat_base
    per_programme: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line, grant in grants:
        changes: dict[str, object] = {
            # A price reduction: the line's amount excl. VAT is its price less the aid.
            "net_amount": line.net_amount
            if aid_in_vat_base
            else doc.line_net_amount(
                line.unit_price,
                line.quantity,
                grant.amount,
                aid_in_vat_base=False,
                prorata_days=line.prorata_days,
                period_days=line.period_days,
            ),
            "aid_amount": grant.amount,
            "aid_label": grant.label,
        }
        # On the line as written: they are, ahead of the invoice (see PreparedIssue.write).
        for key, value in changes.items():
            set_committed_value(line, key, value)
        aided.append((line, changes))
        per_programme[context.programme_code(session, grant.programme_id)] += grant.amount
    return [
        {"programme_code": code, "amount": str(amount)}
        for code, amount in sorted(per_programme.items())
    ]


def _allocate(
    session: Session, invoice: Invoice, issue_date: date, context: _AidContext
) -> tuple[list[tuple[InvoiceLine, AidGrant]], bool]:
    requests = []
    for line in invoice.lines:
        product_id, eligible = context.order_lines.get(line.order_line_id, (None, False))
        requests.append(
            AidRequest(
                key=line.position,
                product_id=product_id,
                # A set-up fee is not the service the programme lowers the price of.
                subsidy_eligible=eligible and not line.is_setup_fee,
                quantity=line.quantity,
                gross_amount=line.net_amount,
            )
        )
    allocation = allocate_aid(
        session,
        invoice_id=invoice.id,
        member_id=invoice.member_id,
        on=issue_date,
        lines=requests,
        sources=context.sources,
    )
    by_position = {line.position: line for line in invoice.lines}
    grants = [(by_position[grant.key], grant) for grant in allocation.grants]
    return grants, allocation.aid_in_vat_base if grants else True


def _give_back(
    session: Session, note: Invoice, issue_date: date
) -> tuple[list[tuple[InvoiceLine, AidGrant]], bool]:
    original = note.corrected_invoice
    originals = {line.id: line for line in original.lines}
    aided = {line.id for line in original.lines if line.aid_amount}
    credited = [line for line in note.lines if line.credited_line_id in aided]
    if not credited:
        return [], original.aid_in_vat_base
    if not original.aid_in_vat_base and any(line.aid_amount is None for line in credited):
        # Under a price reduction the credited amount is net of aid: only a whole line
        # says how much of it was aid.
        raise ValidationFailed(
            "an aided line of a price-reduction programme is credited whole only",
            field="lines",
        )
    grants = give_back_aid(
        session,
        credit_note_id=note.id,
        corrected_invoice_id=original.id,
        credited=[
            (originals[line.credited_line_id].position, line.net_amount) for line in credited
        ],
        on=issue_date,
    )
    by_original_position = {originals[line.credited_line_id].position: line for line in credited}
    return [(by_original_position[grant.key], grant) for grant in grants], (
        original.aid_in_vat_base
    )


def _check_chronology(session: Session, series: str, issue_date: date) -> None:
    """Numbers follow issue dates: none may go to a day before the series' latest."""
    latest = session.scalar(
        select(func.max(Invoice.issue_date)).where(
            Invoice.series == series, Invoice.fiscal_year == issue_date.year
        )
    )
    if latest is not None and issue_date < latest:
        raise IssueDateOutOfOrder(
            f"{series} documents of {issue_date.year} are issued up to {latest.isoformat()}; "
            "a number may not go to an earlier date",
            field="issue_date",
        )


def _actor_id(actor: Actor | None) -> int | None:
    return actor.id if actor is not None else None


def _buyer_snapshot(member: Member) -> dict[str, object]:
    return {
        "name": member.name,
        "address_lines": [line for line in (member.address_line1, member.address_line2) if line],
        "postal_code": member.postal_code,
        "city": member.city,
        "siret": member.siret,
        "vat_number": member.vat_number,
        "email": member.billing_email,
        "chorus_service_code": member.chorus_service_code,
    }


def _document_line(line: InvoiceLine, basis: LegalBasis = NO_LEGAL_BASIS) -> doc.InvoiceLine:
    return doc.InvoiceLine(
        position=line.position,
        designation=line.designation,
        quantity=line.quantity,
        unit=line.unit,
        unit_price=line.unit_price,
        vat_rate=line.vat_rate,
        net_amount=line.net_amount,
        period_start=line.service_start,
        period_end=line.service_end,
        aid_amount=line.aid_amount,
        aid_label=line.aid_label,
        prorata_days=line.prorata_days,
        period_days=line.period_days,
        deliberation_reference=basis.deliberation_reference,
        deliberation_date=basis.deliberation_date,
        market_reference=basis.market_reference,
    )


def document_of(
    invoice: Invoice,
    settings: BillingSettings,
    *,
    legal: Mapping[int, LegalBasis] | None = None,
) -> doc.InvoiceDocument:
    """The plain data the PDF and the Factur-X XML are rendered from.

    ``legal`` gives, by invoice line id, the deliberation and market each line cites in
    the document's annex (:func:`~.legal_basis.legal_bases`); a line not in it cites none.
    """
    buyer = invoice.buyer or {}
    legal = legal or {}
    lines = tuple(
        _document_line(line, legal.get(line.id, NO_LEGAL_BASIS)) for line in invoice.lines
    )
    totals = doc.compute_totals(lines, aid_in_vat_base=invoice.aid_in_vat_base)
    corrected = invoice.corrected_invoice
    starts = [line.service_start for line in invoice.lines if line.service_start]
    ends = [line.service_end for line in invoice.lines if line.service_end]
    period_start, period_end = (min(starts), max(ends)) if starts and ends else (None, None)
    supply_date = invoice.issue_date if period_start is None else None
    if period_start is not None and period_start == period_end:
        # Everything supplied on one day (deliveries, a commissioning): its date, not a
        # one-day period, is the "date de livraison" CGI art. 242 nonies A asks for.
        supply_date, period_start, period_end = period_start, None, None
    return doc.InvoiceDocument(
        kind=invoice.kind,
        number=invoice.number or "",
        issue_date=invoice.issue_date,
        seller=settings.seller,
        buyer=doc.Party(
            name=buyer["name"],
            address=doc.PostalAddress(
                lines=tuple(buyer["address_lines"]),
                postal_code=buyer["postal_code"],
                city=buyer["city"],
            ),
            siret=buyer["siret"],
            vat_number=buyer.get("vat_number"),
            email=buyer.get("email"),
        ),
        operation_category=_operation_category(invoice.lines),
        lines=lines,
        payment_terms=(
            settings.payment_terms
            if invoice.kind is DocumentKind.INVOICE
            else settings.credit_note_terms
        ),
        due_date=invoice.due_date,
        supply_date=supply_date,
        period_start=period_start,
        period_end=period_end,
        chorus_service_code=buyer.get("chorus_service_code"),
        engagement_number=invoice.engagement_number,
        payment_iban=settings.iban if invoice.kind is DocumentKind.INVOICE else None,
        payment_bic=settings.bic if invoice.kind is DocumentKind.INVOICE else None,
        corrected_invoice_number=corrected.number if corrected else None,
        corrected_invoice_date=corrected.issue_date if corrected else None,
        aid_in_vat_base=invoice.aid_in_vat_base,
        notes=(invoice.reason,) if invoice.reason else (),
        **totals.as_fields(),
    )


def _operation_category(lines: Sequence[InvoiceLine]) -> doc.OperationCategory:
    goods = {(line.sales_account or "").startswith(GOODS_ACCOUNT_PREFIX) for line in lines}
    if goods == {True}:
        return doc.OperationCategory.GOODS
    if goods == {False}:
        return doc.OperationCategory.SERVICES
    return doc.OperationCategory.MIXED


def _ledger_payload(invoice: Invoice) -> dict[str, object]:
    """What the ledger posts: sales by account and family, VAT by rate, the receivable."""
    sales: dict[tuple[str | None, str | None], Decimal] = defaultdict(lambda: ZERO)
    for line in invoice.lines:
        sales[(line.sales_account, line.family_code)] += line.net_amount
    return {
        "kind": invoice.kind.value,
        "number": invoice.number,
        "issue_date": invoice.issue_date.isoformat(),
        "member_id": invoice.member_id,
        "corrected_invoice_id": invoice.corrected_invoice_id,
        "sales": [
            {"account": account, "family_code": family, "amount": str(amount)}
            for (account, family), amount in sorted(sales.items(), key=lambda kv: str(kv[0]))
        ],
        "vat": [
            {"rate": str(v.rate), "base": str(v.base), "amount": str(v.amount)}
            for v in invoice.vat_lines
        ],
        "total_gross": str(invoice.total_gross),
        "total_aid": str(invoice.total_aid),
        "amount_due": str(invoice.amount_due),
    }


# --- Credit notes -----------------------------------------------------------------------


@dataclass(frozen=True)
class CreditRequest:
    """Credit one line of the invoice: all that remains of it, or ``amount`` excl. VAT."""

    invoice_line_id: int
    amount: Decimal | None = None


def create_credit_note(
    session: Session,
    invoice_id: int,
    *,
    reason: str,
    lines: Sequence[CreditRequest] | None = None,
    settings: BillingSettings,
    issued_by: Actor | None,
    issue_date: date | None = None,
) -> Invoice:
    """Issue a credit note on an issued invoice: whole (``lines`` None) or partial.

    A line is never credited beyond what it billed, over all the credit notes of the
    invoice; the credit note takes its own number in the AV series. What it credits
    lowers the invoice's outstanding (see the module's note on payment statuses).
    """
    if not reason.strip():
        raise ValidationFailed("say why the invoice is corrected", field="reason")
    issue_date = issue_date or today_in_paris()
    with transaction(session):
        invoice = session.get(Invoice, invoice_id, with_for_update=True)
        if invoice is None:
            raise NotFound(f"no invoice with id {invoice_id}", field="invoice_id")
        if invoice.kind is not DocumentKind.INVOICE:
            raise NotAnInvoice(invoice, "can be credited")
        if invoice.status is not InvoiceStatus.ISSUED:
            raise Conflict("only an issued invoice can be credited", field="status")
        if issue_date < invoice.issue_date:
            raise ValidationFailed(
                f"before the invoice it corrects ({invoice.issue_date.isoformat()})",
                field="issue_date",
            )
        remaining = _creditable(session, invoice)
        requests = lines or [CreditRequest(line_id) for line_id, left in remaining.items() if left]
        if not requests:
            raise CreditExceedsInvoice("this invoice is already fully credited", field="lines")
        by_id = {line.id: line for line in invoice.lines}
        note = Invoice(
            kind=DocumentKind.CREDIT_NOTE,
            series=SERIES[DocumentKind.CREDIT_NOTE],
            member_id=invoice.member_id,
            corrected_invoice=invoice,
            engagement_number=invoice.engagement_number,
            reason=reason.strip(),
            created_by_id=_actor_id(issued_by),
        )
        for position, request in enumerate(requests, start=1):
            original = by_id.get(request.invoice_line_id)
            if original is None:
                raise ValidationFailed(
                    f"line {request.invoice_line_id} is not a line of {invoice.number}",
                    field=f"lines[{position - 1}].invoice_line_id",
                )
            note.lines.append(
                _credit_line(original, request, remaining[original.id], position=position)
            )
            remaining[original.id] -= note.lines[-1].net_amount
        session.add(note)
        session.flush()
        issue(session, note, settings=settings, issued_by=issued_by, issue_date=issue_date)
        before = _settlement(invoice)
        invoice.amount_credited += note.amount_due
        _update_payment_status(invoice)
        record_change(
            session,
            actor=issued_by,
            action="invoice.credited",
            entity="invoice",
            entity_id=invoice.id,
            before=before,
            after=_settlement(invoice) | {"credit_note": note.number},
        )
    return note


def _creditable(session: Session, invoice: Invoice) -> dict[int, Decimal]:
    """What is left to credit of each line of ``invoice``."""
    credited = dict(
        session.execute(
            select(InvoiceLine.credited_line_id, func.sum(InvoiceLine.net_amount))
            .where(InvoiceLine.credited_line_id.in_([line.id for line in invoice.lines]))
            .group_by(InvoiceLine.credited_line_id)
        ).all()
    )
    return {line.id: line.net_amount - (credited.get(line.id) or ZERO) for line in invoice.lines}


def _credit_line(
    original: InvoiceLine, request: CreditRequest, left: Decimal, *, position: int
) -> InvoiceLine:
    if left <= 0:
        raise CreditExceedsInvoice(
            f"line {original.position} is already fully credited", field="lines"
        )
    whole = request.amount is None and left == original.net_amount
    amount = left if request.amount is None else request.amount
    if amount <= 0:
        raise ValidationFailed("must be more than 0", field=f"lines[{position - 1}].amount")
    if amount > left:
        raise CreditExceedsInvoice(
            f"at most {left} can still be credited on line {original.position}",
            field=f"lines[{position - 1}].amount",
        )
    common = {
        "position": position,
        "vat_rate": original.vat_rate,
        "credited_line_id": original.id,
        "order_line_id": original.order_line_id,
        "sales_account": original.sales_account,
        "family_code": original.family_code,
        "service_start": original.service_start,
        "service_end": original.service_end,
    }
    if whole:
        # The line as billed, so the credit note reads like the invoice it cancels.
        return InvoiceLine(
            designation=original.designation,
            unit=original.unit,
            quantity=original.quantity,
            unit_price=original.unit_price,
            net_amount=original.net_amount,
            aid_amount=original.aid_amount,
            aid_label=original.aid_label,
            prorata_days=original.prorata_days,
            period_days=original.period_days,
            **common,
        )
    return InvoiceLine(
        designation=f"Régularisation : {original.designation}",
        unit="forfait",
        quantity=Decimal(1),
        unit_price=amount,
        net_amount=line_amount(amount, 1),
        **common,
    )


# --- Payments ---------------------------------------------------------------------------


def record_payment(
    session: Session,
    invoice_id: int,
    *,
    amount: Decimal,
    paid_on: date,
    reference: str = "",
    recorded_by: Actor | None,
) -> Payment:
    """Record money received on an invoice; partial payments add up, never beyond it."""
    with transaction(session):
        invoice = session.get(Invoice, invoice_id, with_for_update=True)
        if invoice is None:
            raise NotFound(f"no invoice with id {invoice_id}", field="invoice_id")
        if invoice.kind is not DocumentKind.INVOICE:
            raise NotAnInvoice(invoice, "is paid")
        if invoice.status is not InvoiceStatus.ISSUED:
            raise Conflict("a draft is not payable", field="status")
        if amount <= 0:
            raise ValidationFailed("must be more than 0", field="amount")
        if amount > invoice.outstanding:
            raise PaymentExceedsBalance(
                f"{amount} is more than the {invoice.outstanding} still due on {invoice.number}",
                field="amount",
            )
        if paid_on < invoice.issue_date:
            raise ValidationFailed(
                f"before the invoice was issued ({invoice.issue_date.isoformat()})",
                field="paid_on",
            )
        if paid_on > today_in_paris():
            raise ValidationFailed("may not be in the future", field="paid_on")
        before = _settlement(invoice)
        payment = Payment(
            invoice=invoice,
            amount=amount,
            paid_on=paid_on,
            reference=reference.strip(),
            recorded_by_id=_actor_id(recorded_by),
        )
        session.add(payment)
        invoice.amount_paid += amount
        _update_payment_status(invoice)
        session.flush()
        publish(
            session,
            "payment.received",
            entity="payment",
            entity_id=payment.id,
            payload={
                "invoice_id": invoice.id,
                "invoice_number": invoice.number,
                "member_id": invoice.member_id,
                "amount": amount,
                "paid_on": paid_on,
                "reference": payment.reference,
            },
        )
        record_change(
            session,
            actor=recorded_by,
            action="payment.recorded",
            entity="invoice",
            entity_id=invoice.id,
            before=before,
            after=_settlement(invoice),
        )
    return payment


def _settlement(invoice: Invoice) -> dict[str, str]:
    """What payments and credit notes change on an invoice, for the audit trail."""
    return {
        "amount_paid": str(invoice.amount_paid),
        "amount_credited": str(invoice.amount_credited),
        "status": invoice.payment_status.value,
    }


def _update_payment_status(invoice: Invoice) -> None:
    """Paid once nothing is owed, by payments, credit notes or both; until then, open or
    partly paid as money came in or not."""
    if invoice.outstanding <= 0:
        invoice.payment_status = PaymentStatus.PAID
    elif invoice.amount_paid > 0:
        invoice.payment_status = PaymentStatus.PARTLY_PAID
    else:
        invoice.payment_status = PaymentStatus.OPEN


# --- Receivables ------------------------------------------------------------------------

#: Ageing buckets by days past the due date: (label, first day, last day or None).
AGEING_BUCKETS = (
    ("not_due", None, 0),
    ("1_30", 1, 30),
    ("31_60", 31, 60),
    ("61_90", 61, 90),
    ("over_90", 91, None),
)


@dataclass(frozen=True)
class Receivable:
    invoice: Invoice
    outstanding: Decimal
    days_overdue: int
    bucket: str


@dataclass(frozen=True)
class ReceivablesReport:
    as_of: date
    items: list[Receivable]
    #: Outstanding per ageing bucket, every bucket present.
    totals: dict[str, Decimal]
    total: Decimal


def receivables(
    session: Session, *, as_of: date, actor: Actor | None, member_id: int | None = None
) -> ReceivablesReport:
    """Invoices not settled on ``as_of``, with how late each was, by ageing bucket.

    Counts the credit notes issued and the payments received up to ``as_of`` only, so a
    report for a past day shows what was owed that day, whatever came in since.
    """
    note = aliased(Invoice)  # credit notes have an issue date once issued, drafts none
    credited = (
        select(func.coalesce(func.sum(note.amount_due), ZERO))
        .where(note.corrected_invoice_id == Invoice.id, note.issue_date <= as_of)
        .scalar_subquery()
    )
    # An invoice paid today was owed on as_of only if it was settled after that day.
    settled_since = or_(
        select(Payment.id)
        .where(Payment.invoice_id == Invoice.id, Payment.paid_on > as_of)
        .exists(),
        select(note.id)
        .where(note.corrected_invoice_id == Invoice.id, note.issue_date > as_of)
        .exists(),
    )
    query = (
        _visible(actor)
        .add_columns(credited)
        .where(
            Invoice.kind == DocumentKind.INVOICE,
            Invoice.issue_date <= as_of,
            or_(Invoice.payment_status != PaymentStatus.PAID, settled_since),
        )
        .options(selectinload(Invoice.payments))
        .order_by(Invoice.due_date, Invoice.id)
    )
    if member_id is not None:
        query = query.where(Invoice.member_id == member_id)
    items = []
    totals = {label: ZERO for label, _low, _high in AGEING_BUCKETS}
    for invoice, credited_by_then in session.execute(query):
        paid_by_then = sum(
            (payment.amount for payment in invoice.payments if payment.paid_on <= as_of), ZERO
        )
        outstanding = invoice.amount_due - credited_by_then - paid_by_then
        if outstanding <= 0:
            continue
        overdue = max((as_of - invoice.due_date).days, 0)
        bucket = next(
            label
            for label, low, high in AGEING_BUCKETS
            if (low is None or overdue >= low) and (high is None or overdue <= high)
        )
        items.append(Receivable(invoice, outstanding, overdue, bucket))
        totals[bucket] += outstanding
    return ReceivablesReport(
        as_of=as_of, items=items, totals=totals, total=sum(totals.values(), ZERO)
    )


# --- Reading for the pages --------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceSearch:
    """What the invoice pages filter on, every criterion optional.

    ``drafts`` lists drafts instead of issued documents: staff only, a member user never
    sees a draft whatever it asks.
    """

    member_id: int | None = None
    kind: DocumentKind | None = None
    series: str | None = None
    payment_status: PaymentStatus | None = None
    #: documents with a line served on a day of this period (a month)
    served_in: Period | None = None
    billing_run_id: int | None = None
    drafts: bool = False


@dataclass(frozen=True)
class InvoiceRow:
    invoice: Invoice
    #: the member's name today (an issued document keeps the name it was issued to)
    member_name: str
    #: first and last day its lines serve; None when no line is dated
    period_start: date | None
    period_end: date | None


def search_invoices(
    session: Session,
    *,
    actor: Actor | None,
    search: InvoiceSearch | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[InvoiceRow]:
    """Invoices and credit notes with the period their lines serve, newest first."""
    search = search or InvoiceSearch()
    drafts = search.drafts and member_scope(actor) is None
    query = visible_to(
        actor,
        select(Invoice).where(
            Invoice.status == (InvoiceStatus.DRAFT if drafts else InvoiceStatus.ISSUED)
        ),
        Invoice.member_id,
    )
    for column, value in (
        (Invoice.member_id, search.member_id),
        (Invoice.kind, search.kind),
        (Invoice.series, search.series),
        (Invoice.payment_status, search.payment_status),
        (Invoice.billing_run_id, search.billing_run_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if search.served_in is not None:
        query = query.where(
            Invoice.id.in_(
                select(InvoiceLine.invoice_id).where(
                    InvoiceLine.service_start <= search.served_in.end,
                    InvoiceLine.service_end >= search.served_in.start,
                )
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    newest_first = (
        (Invoice.created_at.desc(), Invoice.id.desc())
        if drafts
        else (Invoice.issue_date.desc(), Invoice.id.desc())
    )
    # The page's ids first, then what is shown of them: the days served are looked up
    # for the rows of the page only, not for every document the filters match.
    ids = list(
        session.scalars(
            query.with_only_columns(Invoice.id)
            .order_by(*newest_first)
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    served = (
        select(
            InvoiceLine.invoice_id,
            func.min(InvoiceLine.service_start).label("first_day"),
            func.max(InvoiceLine.service_end).label("last_day"),
        )
        .where(InvoiceLine.invoice_id.in_(ids))
        .group_by(InvoiceLine.invoice_id)
        .subquery()
    )
    rows = session.execute(
        select(Invoice, Member.name, served.c.first_day, served.c.last_day)
        .join(Member, Member.id == Invoice.member_id)
        .outerjoin(served, served.c.invoice_id == Invoice.id)
        .where(Invoice.id.in_(ids))
        .order_by(*newest_first)
    )
    return Page(
        items=[InvoiceRow(*row) for row in rows],
        total=total,
        page=page,
        per_page=per_page,
    )


@dataclass(frozen=True)
class InvoiceDetail:
    invoice: Invoice
    #: the member's name today (an issued document keeps the name it was issued to)
    member_name: str
    #: the credit notes issued on it, oldest first (none for a credit note)
    credit_notes: list[Invoice]
    #: first and last day its lines serve; None when no line is dated
    period_start: date | None
    period_end: date | None


def invoice_detail(session: Session, invoice_id: int, *, actor: Actor | None) -> InvoiceDetail:
    """An invoice or credit note as its page shows it (see :func:`get_invoice`)."""
    invoice = get_invoice(session, invoice_id, actor=actor)
    notes = session.scalars(
        select(Invoice)
        .where(Invoice.corrected_invoice_id == invoice.id, Invoice.status == InvoiceStatus.ISSUED)
        .order_by(Invoice.issue_date, Invoice.id)
    )
    starts = [line.service_start for line in invoice.lines if line.service_start]
    ends = [line.service_end for line in invoice.lines if line.service_end]
    return InvoiceDetail(
        invoice=invoice,
        member_name=session.get(Member, invoice.member_id).name,
        credit_notes=list(notes),
        period_start=min(starts, default=None),
        period_end=max(ends, default=None),
    )


def invoiced_members(session: Session) -> list[tuple[int, str]]:
    """Id and name of every member that has an issued document, by name (staff filters)."""
    has_documents = (
        select(Invoice.id)
        .where(Invoice.member_id == Member.id, Invoice.status == InvoiceStatus.ISSUED)
        .exists()
    )
    rows = session.execute(
        select(Member.id, Member.name).where(has_documents).order_by(Member.name, Member.id)
    )
    return [(member_id, name) for member_id, name in rows]


def list_billing_runs(session: Session, *, page: int = 1, per_page: int = 50) -> Page[BillingRun]:
    """Billing runs, the latest period first."""
    query = select(BillingRun).order_by(BillingRun.period.desc(), BillingRun.id.desc())
    return paginate(session, query, page=page, per_page=per_page)


def get_billing_run(session: Session, run_id: int) -> BillingRun:
    """A billing run read afresh: a run in the background moves it on between reads."""
    run = session.get(BillingRun, run_id, populate_existing=True)
    if run is None:
        raise NotFound(f"no billing run with id {run_id}", field="run_id")
    return run


@dataclass(frozen=True)
class Creditable:
    invoice: Invoice
    #: what is left to credit of each of its lines, excl. VAT, by line id
    left: dict[int, Decimal]


def creditable(session: Session, invoice_id: int, *, actor: Actor | None) -> Creditable:
    """An invoice and what credit notes may still take off each of its lines."""
    invoice = get_invoice(session, invoice_id, actor=actor)
    return Creditable(invoice=invoice, left=_creditable(session, invoice))
