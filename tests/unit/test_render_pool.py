"""The render pool: documents handed to it one by one, as a billing run makes them,
come back rendered in the order given."""

from __future__ import annotations

from collections.abc import Iterator

from purchasing.billing.document import InvoiceDocument
from purchasing.billing.rendering import REPORTLAB, RenderPool
from tests.documents import pdf_text
from tests.unit.invoice_documents import make_document


def _made_one_by_one(count: int, asked: list[int]) -> Iterator[InvoiceDocument]:
    for sequence in range(1, count + 1):
        asked.append(sequence)
        yield make_document(number=f"FA-2026-{sequence:06d}")


def test_documents_made_as_asked_for_come_back_rendered_in_order():
    asked: list[int] = []
    with RenderPool(renderer=REPORTLAB, processes=2, slice_size=4) as pool:
        collect = pool.submit(_made_one_by_one(9, asked))
        assert asked == list(range(1, 10))  # all asked for before anything is awaited
        rendered = collect()

    assert len(rendered) == 9  # two full slices and the rest
    for sequence, item in enumerate(rendered, start=1):
        number = f"FA-2026-{sequence:06d}"
        assert number in pdf_text(item.pdf)
        assert f"<ram:ID>{number}</ram:ID>".encode() in item.xml
