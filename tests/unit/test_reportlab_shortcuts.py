"""The ReportLab renderer's shortcuts (past ``splitString``, texts shown once per
document, subsets and their objects made once, colours written directly) write the very
bytes ReportLab writes without them."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from purchasing.billing import reportlab_rendering as rendering
from purchasing.billing.facturx import build_facturx_xml
from tests.unit.invoice_documents import long_invoice, make_document, make_line

ISSUED_AT = datetime(2026, 2, 2, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
#: More distinct characters than one font subset holds (256 codes), so that codes of a
#: second subset are drawn; a no-break space, which ``splitString`` draws as a space.
MANY_CHARACTERS = "".join(chr(code) for code in range(0x0100, 0x0100 + 300))
NO_BREAK = "Commune\u00a0de\u00a0Wattignies"


def _documents():
    yield long_invoice(40)
    yield make_document(
        [
            make_line(1, designation=f"Étiquettes {MANY_CHARACTERS[:150]}"),
            make_line(2, designation=f"Suite {MANY_CHARACTERS[150:]} {NO_BREAK}"),
            make_line(3, designation=f"Reprise {MANY_CHARACTERS} {NO_BREAK}"),
        ]
    )
    # Texts the document also draws in bold or in another colour: each shown in its font.
    yield make_document(
        [
            make_line(1, designation="Total TTC", unit="Désignation"),
            make_line(2, designation="Total HT", unit="Montant HT"),
        ]
    )


class _KeepsNothing(dict):
    def __setitem__(self, key, value) -> None:
        pass


@pytest.mark.parametrize(
    "doc", list(_documents()), ids=["long invoice", "two font subsets", "texts in two fonts"]
)
def test_a_document_drawn_with_the_shortcut_is_byte_for_byte_the_one_without(doc, monkeypatch):
    xml = build_facturx_xml(doc)
    drawn = rendering.reportlab_pdf(doc, xml, issued_at=ISSUED_AT)

    def every_text_through_split_string(page, font, text):
        return font.splitString(text, page._doc)

    page_init = rendering._Page.__init__

    def nothing_kept(page, canvas, _shown):
        page_init(page, canvas, _KeepsNothing())

    monkeypatch.setattr(rendering._Page, "_runs", every_text_through_split_string)
    monkeypatch.setattr(rendering._Page, "__init__", nothing_kept)
    assert drawn == rendering.reportlab_pdf(doc, xml, issued_at=ISSUED_AT)


def _as_reportlab_alone(monkeypatch) -> list[tuple[int, ...]]:
    """Every font builds its subsets and writes their objects anew, the colours and the
    sRGB profile go through ReportLab's own methods, as ReportLab does without the
    shortcuts; the subsets built."""
    built = []
    for name in rendering.FONT_FILES:
        face = pdfmetrics.getFont(name).face
        build = type(face).makeSubset.__get__(face)

        def counted(subset, build=build):
            built.append(tuple(subset))
            return build(subset)

        monkeypatch.setattr(face, "makeSubset", counted)
    monkeypatch.setattr(rendering._KeptFont, "addObjects", TTFont.addObjects)
    monkeypatch.setattr(rendering, "_compress_ahead", lambda _stream: None)
    monkeypatch.setattr(
        rendering._Page, "_fill_text", lambda page, color: page._text.setFillColor(color)
    )
    return built


def test_documents_drawn_with_kept_subsets_are_byte_for_byte_those_built_anew(monkeypatch):
    rendering.warm_up()
    documents = [
        long_invoice(30, number="FA-2026-000200"),
        long_invoice(30, number="FA-2026-000201"),  # the same characters: subsets kept
        make_document([make_line(1, designation=f"Étiquettes {MANY_CHARACTERS}")]),
        long_invoice(30, number="FA-2026-000202"),
        # The same characters in another order: another subset.
        make_document([make_line(1, designation="Relais \u03a9\u0416")]),
        make_document([make_line(1, designation="Relais \u0416\u03a9")]),
    ]
    xmls = [build_facturx_xml(doc) for doc in documents]
    faces = [pdfmetrics.getFont(name).face for name in rendering.FONT_FILES]
    hits = sum(face.kept_subsets.cache_info().hits for face in faces)
    compressed = rendering._compressed.cache_info().hits
    drawn = [
        rendering.reportlab_pdf(doc, xml, issued_at=ISSUED_AT)
        for doc, xml in zip(documents, xmls, strict=True)
    ]
    assert sum(face.kept_subsets.cache_info().hits for face in faces) > hits
    assert rendering._compressed.cache_info().hits > compressed
    built = _as_reportlab_alone(monkeypatch)
    anew = [
        rendering.reportlab_pdf(doc, xml, issued_at=ISSUED_AT)
        for doc, xml in zip(documents, xmls, strict=True)
    ]
    assert drawn == anew
    assert len(set(built)) < len(built)  # there were subsets to keep


def test_a_process_drawing_with_reportlab_does_not_load_weasyprint():
    # A billing run's render processes draw thousands of invoices with ReportLab: loading
    # WeasyPrint (for the sRGB profile it ships) would cost each half a second of CPU.
    script = (
        "import sys\n"
        "from purchasing.billing.rendering import render_invoice\n"
        "from tests.unit.invoice_documents import make_document\n"
        "rendered = render_invoice(make_document(), renderer='reportlab')\n"
        "assert rendered.pdf.startswith(b'%PDF-1.7'), rendered.pdf[:8]\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'weasyprint'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]"
