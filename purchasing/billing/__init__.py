"""Billing: invoices and credit notes, their numbering, the billing run and their documents.

The document pipeline is pure: :mod:`.document` is the plain-data contract (frozen
dataclasses, Decimal money), :mod:`.facturx` turns it into Factur-X (EN 16931, CII) XML and
:mod:`.rendering` into the PDF/A-3b a member receives, that XML embedded. Neither touches
the database: the billing services build an :class:`~.document.InvoiceDocument` from their
models and store what :func:`~.rendering.render_invoice` returns.
"""
