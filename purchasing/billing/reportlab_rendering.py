"""The invoice PDF drawn with ReportLab: the same document as the WeasyPrint one, faster.

:func:`reportlab_pdf` lays out what ``invoices/templates/invoice.html`` and
``credit_note.html`` show (same texts, same order, same French formatting through
:mod:`purchasing.formats`), on the same A4 page with the same running reference, footer
and page count, and writes a PDF/A-3b file carrying the Factur-X XML. It is selected with
``INVOICE_RENDERER = "reportlab"``; ``tests/services/test_billing_render_parity.py`` proves
that both renderers print the same legal mentions and figures.

The layout is computed here rather than by ReportLab's platypus: an invoice is a known
stack of blocks (letterhead, references and buyer, lines, totals, payment, mentions,
annex), so each is measured, the stack is cut into pages (a line or a block is never
split; the lines' header is repeated on each page they continue on), and each page is
drawn knowing the page count. That is four times faster than laying it out with platypus
tables, and ten to twenty times faster than WeasyPrint: what makes a billing run of
thousands of invoices fit in a minute.

What holds of PDF/A-3b: every font is embedded (DejaVu, subset), colours are plain RGB
under an sRGB output intent, nothing is transparent, encrypted or fetched, the XMP
metadata identify PDF/A-3 level B and carry the Factur-X extension schema, the Info
dictionary agrees with them, the trailer has an /ID, and the XML is an associated file
(/AF, /AFRelationship /Data, MIME type text/xml, its dates). What ReportLab does not let
us claim: its TrueType subsets use a custom single-byte encoding with a /ToUnicode map
rather than the WinAnsi or symbolic encodings PDF/A rule 6.2.11.6 names, so a strict
validator (veraPDF) may report those fonts; the WeasyPrint renderer has no such reserve.

The output is a pure function of the document, like the WeasyPrint one: ReportLab runs
in invariant mode, dates are the issue date and the file identifier is a hash of the
XML, so rendering twice gives the same bytes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path

from lxml import etree
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.rl_accel import fp_str
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from stdnum import iban

from purchasing import formats as french
from purchasing.billing.document import (
    LATE_PAYMENT_INTEREST_MENTION,
    NO_EARLY_PAYMENT_DISCOUNT_MENTION,
    RECOVERY_INDEMNITY_MENTION,
    VAT_ON_DEBITS_MENTION,
    InvoiceDocument,
    InvoiceLine,
    PostalAddress,
)
from purchasing.billing.facturx import FACTURX_FILENAME
from purchasing.billing.rendering import AF_RELATIONSHIP, facturx_xmp

logger = logging.getLogger(__name__)

#: Where the DejaVu fonts the WeasyPrint templates name are installed (Debian, Fedora...).
FONT_DIRECTORIES = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
)
REGULAR, BOLD, MONO = "DejaVuSans", "DejaVuSans-Bold", "DejaVuSansMono"
FONT_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf", MONO: "DejaVuSansMono.ttf"}

# The colours and sizes of invoice.css.
INK = colors.HexColor("#1d2733")
MUTED = colors.HexColor("#5f6b7a")
BRAND = colors.HexColor("#1f3a5f")
AID = colors.HexColor("#1f5f3a")
RULE = colors.HexColor("#c9d1db")
ROW_RULE = colors.HexColor("#dde3ea")
PANEL = colors.HexColor("#f2f5f8")
PANEL_RULE = colors.HexColor("#8aa1bd")
WHITE = colors.white
PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_TOP, MARGIN_SIDE, MARGIN_BOTTOM = 15 * mm, 15 * mm, 22 * mm
LEFT, RIGHT = MARGIN_SIDE, PAGE_WIDTH - MARGIN_SIDE
TOP, BOTTOM = PAGE_HEIGHT - MARGIN_TOP, MARGIN_BOTTOM
CONTENT_WIDTH = RIGHT - LEFT
#: Columns of the lines table (CSS content widths, each plus 2 x 1.5 mm of padding):
#: N°, designation (the rest), quantity, unit, unit price, VAT rate, amount.
CELL_PADDING = 1.5 * mm
_FIXED_COLUMNS = {0: 6 * mm, 2: 15 * mm, 3: 14 * mm, 4: 21 * mm, 5: 10 * mm, 6: 22 * mm}
COLUMN_WIDTHS = tuple(
    _FIXED_COLUMNS[index] + 2 * CELL_PADDING
    if index in _FIXED_COLUMNS
    else CONTENT_WIDTH - sum(_FIXED_COLUMNS.values()) - 7 * 2 * CELL_PADDING + 2 * CELL_PADDING
    for index in range(7)
)
#: The header of the lines table, as the WeasyPrint layout wraps it; figures right-aligned.
LINE_HEADERS = ("N°", "Désignation", "Quantité", "Unité", "Prix unitaire\nHT", "TVA", "Montant HT")
NUMERIC_COLUMNS = frozenset({2, 4, 5, 6})


# Compared and hashed as itself (eq=False): the styles are the constants below, and a
# text's style is looked up (its baseline offset) some three hundred times an invoice,
# where hashing its fields hashed the colour's in Python each time.
@dataclass(frozen=True, slots=True, eq=False)
class Style:
    font: str
    size: float
    color: colors.Color = INK
    #: Line height; 1.35 times the size, as the stylesheet's ``line-height``.
    leading: float = 0.0

    @property
    def line(self) -> float:
        return self.leading or self.size * 1.35


BODY = Style(REGULAR, 8.5)
BODY_BOLD = Style(BOLD, 8.5)
LABEL = Style(REGULAR, 8.5, MUTED)
SELLER_NAME = Style(BOLD, 10.5, BRAND)
IDENTIFIERS = Style(REGULAR, 7.5, MUTED)
TITLE = Style(BOLD, 22, BRAND, leading=22 * 1.1)
NUMBER = Style(BOLD, 11)
HEADING = Style(BOLD, 7.5, MUTED)
BUYER_NAME = Style(BOLD, 10)
CORRECTS = Style(BOLD, 10, BRAND)
TH = Style(BOLD, 7.5, WHITE)
POSITION = Style(REGULAR, 8.5, MUTED)
DETAIL = Style(REGULAR, 7, MUTED)
AID_DETAIL = Style(REGULAR, 7, AID)
BASE = Style(REGULAR, 7.5, MUTED)
GRAND = Style(BOLD, 10, WHITE)
MONO_TEXT = Style(MONO, 8.5)
MENTION = Style(REGULAR, 7, MUTED)
NOTE = Style(REGULAR, 8, INK)
RUNNING = Style(REGULAR, 7, MUTED)
PAGE_NUMBER = Style(REGULAR, 7.5, MUTED)


def reportlab_pdf(doc: InvoiceDocument, xml: bytes, *, issued_at: datetime) -> bytes:
    """The PDF/A-3b of ``doc`` (already checked) with ``xml`` attached as Factur-X,
    dated ``issued_at``."""
    _register_fonts()
    pages = _paginate(list(_blocks(doc)))
    out = io.BytesIO()
    canvas = Canvas(
        out, pagesize=A4, invariant=1, pdfVersion=(1, 7), pageCompression=1, initialFontName=REGULAR
    )
    for name in FONT_FILES:
        pdfmetrics.getFont(name).splitString(FIRST_CHARACTERS, canvas._doc)
    canvas.setTitle(f"{doc.title} {doc.number}")
    canvas.setAuthor(doc.seller.name)
    running = f"{doc.title} n° {doc.number} du {_fmt.french_date(doc.issue_date)}"
    legal = f"{doc.seller.name} · SIRET {doc.seller.siret}"
    if doc.seller.vat_number:
        legal += f" · TVA {doc.seller.vat_number}"
    shown: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for number, placed in enumerate(pages, start=1):
        page = _Page(canvas, shown)
        _decorate(page, number, len(pages), running, legal)
        for y, block in placed:
            block.draw(page, y)
        page.finish()
        canvas.showPage()
    xmp = xmp_rdf(
        title=f"{doc.title} {doc.number}",
        author=doc.seller.name,
        created=issued_at.isoformat(),
        producer=PRODUCER,
        facturx_descriptions=facturx_xmp(),
    )
    _finish_pdf_a(canvas._doc, doc, xml, issued_at=issued_at, xmp=xmp)
    canvas.save()
    return out.getvalue()


def warm_up() -> None:
    """Register the fonts now rather than in the first rendering."""
    _register_fonts()


# --- Fonts and text -------------------------------------------------------------------


@cache
def _register_fonts() -> None:
    for name, filename in FONT_FILES.items():
        pdfmetrics.registerFont(
            _KeptFont(name, _embeddable(_font_path(filename)), asciiReadable=False)
        )


#: The characters every document gives the first codes of each font, in this order, used
#: or not. A subset holds the characters a document drew in the order it drew them, and
#: the digits of its numbers, dates and amounts came in a different order in almost every
#: invoice: 298 distinct bold subsets for 301 invoices (108 regular), each built, compressed
#: and embedded anew. Given first, 2 (40): the subsets are then mostly those already kept,
#: for a file 2 % larger. The file is still a pure function of the document.
FIRST_CHARACTERS = "0123456789,.-:/%()'€\u202f"

#: Font subsets a rendering process keeps, per font.
SUBSET_CACHE_SIZE = 256


class _KeptFont(TTFont):
    """A TrueType font whose subsets are embedded as ReportLab embeds them, but each made
    once per process rather than once per document.

    A subset is the font cut down to the characters a document drew, in the order it drew
    them, and invoices share most of their characters and that order (407 distinct among
    the 903 subsets of 300 invoices). So its program is built once, and its compressed
    program, its compressed ``/ToUnicode`` map and its ``/Widths`` array are kept by what
    they hold: the same bytes as ReportLab writes (``tests/unit/test_reportlab_shortcuts.py``),
    where compressing and formatting them anew was a third of writing an invoice's file.
    """

    def __init__(self, name: str, source: io.BytesIO, **options: object) -> None:
        super().__init__(name, source, **options)
        face = self.face
        make = face.makeSubset
        face.kept_subsets = lru_cache(maxsize=SUBSET_CACHE_SIZE)(lambda codes: make(list(codes)))
        face.makeSubset = lambda subset: face.kept_subsets(tuple(subset))

    def addObjects(self, doc: pdfdoc.PDFDocument) -> None:
        state = self.state.get(doc)
        super().addObjects(doc)
        if state is None:
            return
        for index in range(len(state.subsets)):
            font = doc.idToObject[f"{state.internalName}+{index}"]
            font.Widths = _Written(_formatted_array(tuple(font.Widths.sequence)))
            if doc.compression:
                _compress_ahead(doc.idToObject[f"toUnicodeCMap:{font.BaseFont}"])
                _compress_ahead(doc.idToObject[f"fontFile:{self.face.filename}({font.BaseFont})"])


@lru_cache(maxsize=3 * SUBSET_CACHE_SIZE)
def _formatted_array(values: tuple[int, ...]) -> bytes:
    return pdfdoc.PDFArray(list(values)).format(pdfdoc.DummyDoc())


@lru_cache(maxsize=6 * SUBSET_CACHE_SIZE)
def _compressed(content: bytes | str) -> bytes:
    return pdfdoc.PDFZCompress.encode(content)


def _compress_ahead(stream: pdfdoc.PDFStream) -> None:
    """``stream`` written compressed as ``PDFZCompress`` writes it, from kept bytes."""
    stream.content = _compressed(stream.content)
    stream.dictionary["Filter"] = FLATE


class _Written(pdfdoc.PDFObject):
    """A PDF value already formatted."""

    def __init__(self, written: bytes) -> None:
        self.written = written

    def format(self, _document: object) -> bytes:
        return self.written


#: Bump when :func:`_strip` changes what it keeps: cached fonts of an older kind are left.
FONT_CACHE_VERSION = 1


def _embeddable(path: Path) -> io.BytesIO:
    """The font as invoices embed it (:func:`_strip`), from the font cache when there.

    Stripping takes some 0.9 s a font, in every process that renders (each billing run's
    render processes, web and Celery workers): the result is kept in the user's cache
    directory (``CENTRALE_CACHE_DIR``, else ``$XDG_CACHE_HOME/centrale`` or
    ``~/.cache/centrale``) under the SHA-256 of the installed font, so a font upgrade is
    never served from an older copy. A cache that cannot be written is not an error: the
    font is stripped in memory, as before.
    """
    source = path.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:32]
    cached = font_cache_directory() / f"{path.stem}-{digest}-v{FONT_CACHE_VERSION}.ttf"
    try:
        return io.BytesIO(cached.read_bytes())
    except OSError:
        pass
    program = _strip(source)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        # Written aside then renamed: a process starting meanwhile never reads half a font.
        partial = cached.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(program)
        os.replace(partial, cached)
    except OSError:
        logger.info("font cache %s not writable: fonts stripped in memory", cached.parent)
    return io.BytesIO(program)


def font_cache_directory() -> Path:
    configured = os.environ.get("CENTRALE_CACHE_DIR")
    if configured:
        return Path(configured) / "fonts"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "centrale" / "fonts"


def _strip(source: bytes) -> bytes:
    """The font without hinting programs and licence texts.

    ReportLab copies the naming table and each glyph's instructions into every subset it
    embeds: with DejaVu's 15 KB of licence texts and its hinting, a subset is twice the
    size, for nothing visible on paper or on screen at the sizes of an invoice
    (WeasyPrint's subsets leave them out too).
    """
    from fontTools.ttLib import TTFont as FontFile

    # The font's own dates kept: the same font always strips to the same bytes, so the
    # PDFs of every process and machine are alike.
    font = FontFile(io.BytesIO(source), recalcTimestamp=False)
    for tag in ("fpgm", "prep", "cvt ", "hdmx", "LTSH", "VDMX"):
        if tag in font:
            del font[tag]
    font["glyf"].removeHinting()
    font["name"].names = [record for record in font["name"].names if record.nameID <= 6]
    program = io.BytesIO()
    font.save(program)
    return program.getvalue()


def _font_path(filename: str) -> Path:
    for directory in FONT_DIRECTORIES:
        candidate = directory / filename
        if candidate.is_file():
            return candidate
    raise FontsMissing(
        f"{filename} not found in {', '.join(map(str, FONT_DIRECTORIES))}: "
        "install the DejaVu fonts (Debian: fonts-dejavu-core)"
    )


class FontsMissing(RuntimeError):
    """The DejaVu fonts are not installed: the PDF could not embed them."""


@lru_cache(maxsize=8192)
def _wrap(text: str, font: str, size: float, width: float) -> tuple[str, ...]:
    """``text`` cut at spaces into lines of at most ``width`` (a word longer stays whole).
    Remembered: a billing run prints the same designations thousands of times."""
    return tuple(simpleSplit(text, font, size, width)) or ("",)


def _width(text: str, style: Style) -> float:
    return pdfmetrics.stringWidth(text, style.font, style.size)


class _CachedFormats:
    """The French formats of :mod:`purchasing.formats`, remembered: a billing run prints
    the same rates, prices and dates thousands of times, and Babel takes a fifth of the
    rendering time to format them. Equal values format alike (Decimal("1.0") and
    Decimal("1.00") both give "1,00 €"), so caching by value is safe."""

    french_date = staticmethod(lru_cache(maxsize=1024)(french.french_date))
    euros = staticmethod(lru_cache(maxsize=8192)(french.euros))
    quantity = staticmethod(lru_cache(maxsize=1024)(french.quantity))
    unit_price = staticmethod(lru_cache(maxsize=1024)(french.unit_price))
    percent = staticmethod(lru_cache(maxsize=64)(french.percent))


_fmt = _CachedFormats


# --- Blocks: measured, then drawn where the pages put them ---------------------------------


@dataclass(frozen=True, slots=True)
class _Text:
    """A run of text in one style, wrapped to its box: a ``<p>`` of the templates."""

    text: str
    style: Style
    right: bool = False
    space_after: float = 0.0
    space_before: float = 0.0


@dataclass
class _Column:
    """Texts stacked in a box of ``width``, top to bottom."""

    width: float
    texts: list[_Text] = field(default_factory=list)

    def lines(self) -> Iterator[tuple[str, _Text]]:
        for text in self.texts:
            for line in _wrap(text.text, text.style.font, text.style.size, self.width):
                yield line, text

    @property
    def height(self) -> float:
        return sum(text.style.line for _line, text in self.lines()) + sum(
            text.space_before + text.space_after for text in self.texts
        )

    def draw(self, page: _Page, x: float, top: float) -> None:
        y = top
        for text in self.texts:
            style = text.style
            y -= text.space_before
            for line in _wrap(text.text, style.font, style.size, self.width):
                baseline = y - _baseline_offset(style)
                if text.right:
                    page.text(x + self.width, baseline, line, style, right=True)
                else:
                    page.text(x, baseline, line, style)
                y -= style.line
            y -= text.space_after


@lru_cache(maxsize=64)
def _baseline_offset(style: Style) -> float:
    """From the top of a line to its baseline: half the leading, then the ascent (CSS)."""
    ascent, descent = pdfmetrics.getAscentDescent(style.font, style.size)
    return (style.line - (ascent - descent)) / 2 + ascent


@dataclass
class _Block:
    """What the page stack holds: a height, and how to draw it from a top ``y``."""

    height: float
    paint: Callable[[_Page, float], None]
    #: A line of the lines table: a page it starts on repeats the table's header.
    table_row: bool = False
    #: Vertical space: dropped at the top of a page, as CSS margins are.
    spacer: bool = False

    def draw(self, page: _Page, y: float) -> None:
        self.paint(page, y)


def _spacer(height: float) -> _Block:
    return _Block(height, lambda _page, _y: None, spacer=True)


def _blocks(doc: InvoiceDocument) -> Iterator[_Block]:
    yield _letterhead(doc)
    yield _spacer(6 * mm)
    yield _parties(doc)
    yield _spacer(5 * mm)
    if doc.delivery_address is not None:
        yield _delivery(doc.delivery_address)
    if doc.is_credit_note:
        yield _column_block(
            _Column(
                CONTENT_WIDTH,
                [
                    _Text(
                        f"Avoir sur la facture n° {doc.corrected_invoice_number} du "
                        f"{_fmt.french_date(doc.corrected_invoice_date)}",
                        CORRECTS,
                        space_after=3 * mm,
                    )
                ],
            )
        )
    yield _lines_header()
    for line in doc.lines:
        yield _line_row(line, doc)
    yield _spacer(4 * mm)
    yield _totals(doc)
    yield _spacer(6 * mm)
    yield _payment(doc)
    mentions = list(_mentions(doc))
    if mentions:
        yield _spacer(6 * mm)
        yield _Block(2 * mm + 0.5, _mentions_rule)
        for mention in mentions:
            yield _column_block(_Column(CONTENT_WIDTH, [mention]))
    annex = list(_annex(doc))
    if annex:
        # The heading and its introduction stay with the first entry (break-after: avoid).
        yield _spacer(5 * mm)
        yield _column_block(_Column(CONTENT_WIDTH, annex[:3]))
        for entry in annex[3:]:
            yield _column_block(_Column(CONTENT_WIDTH, [entry]))


def _column_block(column: _Column, x: float = LEFT) -> _Block:
    return _Block(column.height, lambda page, y: column.draw(page, x, y))


def _address(address: PostalAddress, style: Style = BODY) -> list[_Text]:
    city = f"{address.postal_code} {address.city}"
    if address.country_code != "FR":
        city += f" ({address.country_code})"
    return [_Text(line, style) for line in address.lines] + [_Text(city, style)]


def _letterhead(doc: InvoiceDocument) -> _Block:
    seller = doc.seller
    left = _Column(105 * mm, [_Text(seller.name, SELLER_NAME, space_after=1 * mm)])
    left.texts += _address(seller.address)
    left.texts.append(_Text(f"SIRET {seller.siret}", IDENTIFIERS))
    if seller.vat_number:
        left.texts.append(_Text(f"N° TVA intracommunautaire {seller.vat_number}", IDENTIFIERS))
    if seller.email:
        left.texts.append(_Text(seller.email, IDENTIFIERS))
    right = _Column(
        70 * mm,
        [
            _Text(doc.title, TITLE, right=True, space_after=1.5 * mm),
            _Text(f"N° {doc.number}", NUMBER, right=True, space_after=0.5 * mm),
            _Text(f"Date d\u2019émission : {_fmt.french_date(doc.issue_date)}", BODY, right=True),
        ],
    )
    content = max(left.height, right.height)
    rule_at = content + 4 * mm

    def paint(page: _Page, top: float) -> None:
        left.draw(page, LEFT, top)
        right.draw(page, RIGHT - right.width, top)
        page.line(LEFT, top - rule_at - 0.75, RIGHT, top - rule_at - 0.75, BRAND, 1.5)

    return _Block(rule_at + 1.5, paint)


def _references(doc: InvoiceDocument) -> list[tuple[str, str]]:
    rows = []
    if doc.supply_date:
        rows.append((doc.operation_category.supply_date_label, _fmt.french_date(doc.supply_date)))
    if doc.period_start and doc.period_end:
        rows.append(("Période", _period(doc.period_start, doc.period_end)))
    if doc.is_credit_note:
        rows.append(("Facture corrigée", doc.corrected_invoice_number or ""))
    else:
        rows.append(("Échéance", _fmt.french_date(doc.due_date)))
    if doc.chorus_service_code:
        rows.append(("Service exécutant (Chorus Pro)", doc.chorus_service_code))
    if doc.engagement_number:
        rows.append(("N\u00b0 d\u2019engagement", doc.engagement_number))
    rows.append(("Nature des opérations", doc.operation_category.label))
    return rows


BUYER_BOX = 74 * mm


def _parties(doc: InvoiceDocument) -> _Block:
    references = _references(doc)
    # Labels do not wrap (white-space: nowrap): their column is as wide as the longest.
    label_width = max(_width(label, LABEL) for label, _value in references) + 3 * mm
    table_width = 104 * mm
    rows = []
    for label, value in references:
        cell = _Column(table_width - label_width, [_Text(value, BODY_BOLD)])
        rows.append((label, cell, cell.height + 1 * mm))
    table_height = sum(height for _label, _cell, height in rows)

    buyer = doc.buyer
    heading = "Avoir au bénéfice de" if doc.is_credit_note else "Facturé à"
    box = _Column(
        BUYER_BOX - 8 * mm,
        [_Text(heading.upper(), HEADING, space_after=1.5 * mm), _Text(buyer.name, BUYER_NAME)],
    )
    box.texts += _address(buyer.address)
    box.texts.append(_Text(f"SIRET {buyer.siret} (SIREN {buyer.siren})", IDENTIFIERS))
    if buyer.vat_number:
        box.texts.append(_Text(f"N° TVA intracommunautaire {buyer.vat_number}", IDENTIFIERS))
    box_height = box.height + 1 * mm + 6 * mm

    def paint(page: _Page, top: float) -> None:
        y = top
        for label, cell, height in rows:
            _Column(label_width, [_Text(label, LABEL)]).draw(page, LEFT, y - 0.5 * mm)
            cell.draw(page, LEFT + label_width, y - 0.5 * mm)
            y -= height
        x = RIGHT - BUYER_BOX
        page.canvas.setStrokeColor(RULE)
        page.canvas.setLineWidth(0.75)
        page.canvas.roundRect(
            x, top - box_height, BUYER_BOX, box_height, 1.5 * mm, stroke=1, fill=0
        )
        box.draw(page, x + 4 * mm, top - 3 * mm)

    return _Block(max(table_height, box_height), paint)


def _delivery(address: PostalAddress) -> _Block:
    box = _Column(
        BUYER_BOX - 8 * mm, [_Text("ADRESSE DE LIVRAISON", HEADING, space_after=1.5 * mm)]
    )
    box.texts += _address(address)
    return _Block(
        box.height + 5 * mm, lambda page, y: box.draw(page, RIGHT - BUYER_BOX + 4 * mm, y)
    )


def _period(start: object, end: object) -> str:
    return f"du {_fmt.french_date(start)} au {_fmt.french_date(end)}"  # type: ignore[arg-type]


def _draw_cells(page: _Page, cells: list[tuple[str, Style]], top: float, first: int = 0) -> None:
    """One line of text per cell from column ``first`` on, left- or right-aligned."""
    x = LEFT + sum(COLUMN_WIDTHS[:first])
    for index, (text, style) in enumerate(cells[first:], start=first):
        width = COLUMN_WIDTHS[index]
        if text:
            baseline = top - _baseline_offset(style)
            if index in NUMERIC_COLUMNS:
                page.text(x + width - CELL_PADDING, baseline, text, style, right=True)
            else:
                page.text(x + CELL_PADDING, baseline, text, style)
        x += width


@cache
def _lines_header() -> _Block:
    columns = [
        _Column(
            width - 2 * CELL_PADDING,
            [_Text(part, TH, right=index in NUMERIC_COLUMNS) for part in label.split("\n")],
        )
        for index, (label, width) in enumerate(zip(LINE_HEADERS, COLUMN_WIDTHS, strict=True))
    ]
    height = max(column.height for column in columns) + 2 * CELL_PADDING

    def paint(page: _Page, top: float) -> None:
        page.fill(LEFT, top - height, CONTENT_WIDTH, height, BRAND)
        x = LEFT
        for column, width in zip(columns, COLUMN_WIDTHS, strict=True):
            column.draw(page, x + CELL_PADDING, top - CELL_PADDING)
            x += width

    return _Block(height, paint)


ROW_PADDING = 1.4 * mm
ROW_RULE_WIDTH = 0.5
#: Above each detail of a designation (its period, note, aid).
DETAIL_GAP = 0.4 * mm


def _line_row(line: InvoiceLine, doc: InvoiceDocument) -> _Block:
    designation = _Column(COLUMN_WIDTHS[1] - 2 * CELL_PADDING, [_Text(line.designation, BODY)])
    if line.period_start and line.period_end:
        text = f"Période {_period(line.period_start, line.period_end)}"
        if line.is_prorated:
            text += f", prorata {line.prorata_days}/{line.period_days} jours"
        designation.texts.append(_Text(text, DETAIL, space_before=DETAIL_GAP))
    elif line.is_prorated:
        designation.texts.append(
            _Text(
                f"Prorata {line.prorata_days}/{line.period_days} jours",
                DETAIL,
                space_before=DETAIL_GAP,
            )
        )
    if line.note:
        designation.texts.append(_Text(line.note, DETAIL, space_before=DETAIL_GAP))
    if line.has_aid:
        label, aid = line.aid_label or "", _fmt.euros(line.aid_amount)
        if doc.aid_in_vat_base:
            text = (
                f"dont aide FEDER \u2013 {label} : {aid}, complément de prix versé par le "
                "FEDER, déduit du net à payer"
            )
        else:
            text = (
                f"Prix brut {_fmt.euros(line.gross_amount)} HT, dont aide FEDER \u2013 "
                f"{label} : \u2212{aid} (réduction de prix) ; net "
                f"{_fmt.euros(line.net_amount)} HT"
            )
        designation.texts.append(_Text(text, AID_DETAIL, space_before=DETAIL_GAP))
    cells = [
        (str(line.position), POSITION),
        ("", BODY),
        (_fmt.quantity(line.quantity), BODY),
        (line.unit, BODY),
        (_fmt.unit_price(line.unit_price), BODY),
        (_fmt.percent(line.vat_rate), BODY),
        (_fmt.euros(line.net_amount), BODY),
    ]
    height = max(designation.height, BODY.line) + 2 * ROW_PADDING + ROW_RULE_WIDTH

    def paint(page: _Page, top: float) -> None:
        # In reading order, as text extraction gives it back: number, designation, figures.
        _draw_cells(page, cells[:1], top - ROW_PADDING)
        designation.draw(page, LEFT + COLUMN_WIDTHS[0] + CELL_PADDING, top - ROW_PADDING)
        _draw_cells(page, cells, top - ROW_PADDING, first=2)
        rule = top - height + ROW_RULE_WIDTH / 2
        page.line(LEFT, rule, RIGHT, rule, ROW_RULE, ROW_RULE_WIDTH)

    return _Block(height, paint, table_row=True)


TOTALS_WIDTH, TOTALS_VALUE = 92 * mm, 30 * mm


def _totals(doc: InvoiceDocument) -> _Block:
    rows: list[tuple[str, str | None, str, str]] = []  # label, base, value, kind
    if doc.total_aid and not doc.aid_in_vat_base:
        rows.append(("Total HT avant aide FEDER", None, _fmt.euros(doc.total_net_before_aid), ""))
        rows.append(
            ("Aide FEDER (réduction de prix)", None, f"\u2212{_fmt.euros(doc.total_aid)}", "")
        )
    rows.append(("Total HT", None, _fmt.euros(doc.total_net), "subtotal"))
    for vat in doc.vat_breakdown:
        base = f"sur {_fmt.euros(vat.base)}"
        rows.append((f"TVA {_fmt.percent(vat.rate)} ", base, _fmt.euros(vat.amount), ""))
    if len(doc.vat_breakdown) > 1:
        rows.append(("Total TVA", None, _fmt.euros(doc.total_vat), ""))
    rows.append(("Total TTC", None, _fmt.euros(doc.total_gross), "subtotal"))
    if doc.prepaid_amount:
        rows.append(
            ("Aide FEDER versée par le fonds", None, f"\u2212{_fmt.euros(doc.prepaid_amount)}", "")
        )
    due_label = "Net à déduire" if doc.is_credit_note else "Net à payer"
    rows.append((due_label, None, _fmt.euros(doc.amount_due), "grand"))
    styles = {"": BODY, "subtotal": BODY_BOLD, "grand": GRAND}
    heights = [
        styles[kind].line + 2 * (1.6 * mm if kind == "grand" else 0.8 * mm)
        for _label, _base, _value, kind in rows
    ]
    x = RIGHT - TOTALS_WIDTH

    def paint(page: _Page, top: float) -> None:
        y = top
        for (label, base, value, kind), height in zip(rows, heights, strict=True):
            style = styles[kind]
            if kind == "grand":
                page.fill(x, y - height, TOTALS_WIDTH, height, BRAND)
            elif kind == "subtotal":
                page.line(x, y, RIGHT, y, RULE, 0.5)
            baseline = y - (height - style.line) / 2 - _baseline_offset(style)
            page.text(x + 2 * mm, baseline, label, style)
            if base is not None:
                page.text(x + 2 * mm + _width(label, style), baseline, base, BASE)
            page.text(RIGHT - 2 * mm, baseline, value, style, right=True)
            y -= height

    return _Block(sum(heights), paint)


def _payment(doc: InvoiceDocument) -> _Block:
    inner = CONTENT_WIDTH - 8 * mm
    panel = _Column(inner)
    bank: list[tuple[str, str]] = []
    if doc.is_credit_note:
        panel.texts = [
            _Text("MODALITÉS", HEADING, space_after=1.5 * mm),
            _Text(doc.payment_terms, BODY, space_after=1 * mm),
        ]
    else:
        due = _fmt.french_date(doc.due_date)
        panel.texts = [
            _Text("RÈGLEMENT", HEADING, space_after=1.5 * mm),
            _Text(f"Échéance : {doc.payment_terms}, le {due}", BODY_BOLD, space_after=1 * mm),
            _Text(
                f"Par virement au Trésor public, en rappelant la référence {doc.number} :",
                BODY,
                space_after=1 * mm,
            ),
        ]
        bank = [("IBAN", iban.format(doc.payment_iban or "")), ("BIC", doc.payment_bic or "")]
    bank_line = MONO_TEXT.line + 0.6 * mm
    height = panel.height + len(bank) * bank_line + 6 * mm

    def paint(page: _Page, top: float) -> None:
        page.fill(LEFT, top - height, CONTENT_WIDTH, height, PANEL)
        page.line(LEFT + 1, top, LEFT + 1, top - height, PANEL_RULE, 2)
        panel.draw(page, LEFT + 4 * mm, top - 3 * mm)
        y = top - 3 * mm - panel.height - 0.3 * mm
        for label, value in bank:
            page.text(LEFT + 4 * mm, y - _baseline_offset(LABEL), label, LABEL)
            page.text(LEFT + 16 * mm, y - _baseline_offset(MONO_TEXT), value, MONO_TEXT)
            y -= bank_line

    return _Block(height, paint)


def _mentions(doc: InvoiceDocument) -> Iterator[_Text]:
    for note in doc.notes:
        yield _Text(note, NOTE, space_after=1 * mm)
    if doc.total_aid:
        total_aid = _fmt.euros(doc.total_aid)
        if doc.aid_in_vat_base:
            text = (
                f"L\u2019aide FEDER ({total_aid}) est un complément de prix versé par le Fonds "
                "européen de développement régional : elle reste comprise dans la base de la "
                "TVA et vient en déduction du montant à payer."
            )
        else:
            text = (
                f"L\u2019aide FEDER ({total_aid}), accordée par le Fonds européen de "
                "développement régional, réduit le prix hors taxe des lignes concernées ; la "
                "TVA est calculée sur le prix réduit."
            )
        yield _Text(text, MENTION, space_after=1 * mm)
    if doc.vat_on_debits:
        yield _Text(VAT_ON_DEBITS_MENTION, MENTION, space_after=1 * mm)
    if not doc.is_credit_note:
        for mention in (
            LATE_PAYMENT_INTEREST_MENTION,
            RECOVERY_INDEMNITY_MENTION,
            NO_EARLY_PAYMENT_DISCOUNT_MENTION,
        ):
            yield _Text(mention, MENTION, space_after=1 * mm)


#: The annex "délibérations et marchés" (the ``.annex`` rules of invoice.css).
ANNEX_HEADING = Style(BOLD, 8.5, BRAND)
ANNEX_INTRO = Style(REGULAR, 7.5, MUTED)
ANNEX_ENTRY = Style(REGULAR, 7.5, INK)
ANNEX_INTRODUCTION = (
    "Tarifs fixés par délibération du comité syndical ; achats effectués au titre des "
    "marchés de la centrale d\u2019achat (art. L2113-2 et suivants du Code de la commande "
    "publique)."
)


def _annex(doc: InvoiceDocument) -> Iterator[_Text]:
    """The heading, its introduction, then one text per entry; nothing without entries."""
    entries = doc.annex
    if not entries:
        return
    yield _Text("Annexe : délibérations et marchés", ANNEX_HEADING, space_after=1.5 * mm)
    yield _Text(ANNEX_INTRODUCTION, ANNEX_INTRO, space_after=1 * mm)
    for entry in entries:
        text = f"{entry.lines_label} : "
        if entry.deliberation_reference:
            text += (
                f"tarif fixé par la délibération {entry.deliberation_reference} du "
                f"{_fmt.french_date(entry.deliberation_date)}"
            )
            if entry.market_reference:
                text += f", au titre du marché {entry.market_reference}"
        else:
            text += f"au titre du marché {entry.market_reference}"
        yield _Text(text, ANNEX_ENTRY, space_after=1 * mm)


def _mentions_rule(page: _Page, top: float) -> None:
    page.line(LEFT, top, RIGHT, top, RULE, 0.5)


# --- Pages --------------------------------------------------------------------------------


def _paginate(blocks: list[_Block]) -> list[list[tuple[float, _Block]]]:
    """The blocks placed on pages, each with its top: a block that does not fit what is
    left of a page starts the next; the lines' header is repeated above the lines that
    continue on a new page; space is dropped at the top of a page."""
    pages: list[list[tuple[float, _Block]]] = [[]]
    y = TOP
    for block in blocks:
        if block.spacer and y == TOP:
            continue
        if y - block.height < BOTTOM and y != TOP:
            pages.append([])
            y = TOP
            if block.spacer:
                continue
            if block.table_row:
                header = _lines_header()
                pages[-1].append((y, header))
                y -= header.height
        pages[-1].append((y, block))
        y -= block.height
    return pages


def _decorate(page: _Page, number: int, count: int, running: str, legal: str) -> None:
    """The running reference (from page 2 on), the seller's legal line and "Page n / N"."""
    if number > 1:
        page.text(RIGHT, TOP + 4 * mm, running, RUNNING, right=True)
    baseline = MARGIN_BOTTOM / 2
    page.text(LEFT, baseline, legal, RUNNING)
    page.text(RIGHT, baseline, f"Page {number} / {count}", PAGE_NUMBER, right=True)


@cache
def _fill_operator(color: colors.Color) -> str:
    """The operator ReportLab's ``setFillColor`` writes for an opaque RGB ``color``: the
    palette is a dozen colours, and that method's checks (colour space, separations,
    transparency) were a tenth of the drawing time for some 150 colour changes an
    invoice."""
    return f"{fp_str(color.red, color.green, color.blue)} rg"


#: What French amounts are grouped with ("1 234,56 €"): ``splitString`` draws it as a space.
NO_BREAK_SPACE = "\u00a0"


class _Page:
    """A page being drawn: shapes go straight to the canvas, texts into one text object
    laid over them when the page is finished (one text object a page, not one a string:
    a third of the drawing time).

    Texts are written as the text object's own operators, the way its ``textOut`` writes
    a TrueType string (each run of characters of one font subset selected with ``Tf``,
    shown with ``Tj``), less what an invoice never uses: the cursor's advance (every
    text is placed with ``Tm``), the leading, shaping. Three hundred texts an invoice
    made ``textOut`` a third of the rendering time.
    """

    def __init__(self, canvas: Canvas, shown: dict[tuple[str, str], list[tuple[int, str]]]):
        self.canvas = canvas
        self._doc = canvas._doc
        self._escape = canvas._escape
        self._text = canvas.beginText()
        self._code = self._text._code
        #: (font, size, subset) of the last ``Tf``
        self._font: tuple[str, float, int] | None = None
        self._color: colors.Color | None = None
        #: The document's texts shown so far, by font and text (see ``_show``).
        self._shown = shown

    def text(self, x: float, baseline: float, text: str, style: Style, *, right: bool = False):
        font = pdfmetrics.getFont(style.font)
        if self._color is not style.color:
            self._color = style.color
            self._fill_text(style.color)
        if right:
            x -= font.stringWidth(text, style.size)
        code = self._code
        code.append(f"1 0 0 1 {fp_str(x, baseline)} Tm")
        runs = self._shown.get((style.font, text))
        if runs is None:
            runs = self._show(font, text)
            self._shown[style.font, text] = runs
        for subset, shown in runs:
            if self._font != (style.font, style.size, subset):
                self._font = (style.font, style.size, subset)
                name = font.getSubsetInternalName(subset, self._doc)
                code.append(f"{name} {fp_str(style.size)} Tf")
            code.append(shown)

    def _show(self, font: TTFont, text: str) -> list[tuple[int, str]]:
        """The ``Tj`` operators showing ``text`` in ``font``, with the subset of each.

        Kept for the document, by font and text: a character's code, once given, never
        changes within a document, and an invoice shows four texts in ten again (the
        period, unit and rate of each line...), each escaped and looked up anew before.
        """
        return [(subset, f"({self._escape(chunk)}) Tj") for subset, chunk in self._runs(font, text)]

    def _fill_text(self, color: colors.Color) -> None:
        self._code.append(_fill_operator(color))

    def _runs(self, font: TTFont, text: str) -> list[tuple[int, bytes]]:
        """``font.splitString(text)``, without its loop over the characters when each
        already has its code in the first subset, as nearly every text of an invoice has
        once a few have been drawn: ``splitString`` was a fifth of the rendering time.

        A character's code, once given, never changes within a document, so the codes
        looked up are those ``splitString`` would return; the no-break space is looked up
        as the space ``splitString`` draws it as (a quarter of an invoice's texts, its
        amounts, hold one, and took the loop). An unknown character (not yet given a code,
        or without a glyph) and a code of another subset (256 and above, which ``bytes``
        refuses) take the loop.
        """
        state = font.state.get(self._doc)
        if state is not None and text:
            codes = map(ord, text.replace(NO_BREAK_SPACE, " "))
            try:
                return [(0, bytes(map(state.assignments.__getitem__, codes)))]
            except (KeyError, ValueError):
                pass
        return font.splitString(text, self._doc)

    def line(self, x1: float, y1: float, x2: float, y2: float, color: colors.Color, width: float):
        self.canvas.setStrokeColor(color)
        self.canvas.setLineWidth(width)
        self.canvas.line(x1, y1, x2, y2)

    def fill(self, x: float, y: float, width: float, height: float, color: colors.Color):
        self.canvas.setFillColor(color)
        self.canvas.rect(x, y, width, height, stroke=0, fill=1)

    def finish(self) -> None:
        self.canvas.drawText(self._text)


# --- PDF/A-3b: metadata, output intent, associated file -----------------------------------

#: The MIME type text/xml as a PDF name, its slash escaped (PDFName would escape the #).
XML_SUBTYPE = "/text#2Fxml"
#: The ``/Filter`` of a stream compressed ahead: what ``PDFZCompress`` writes.
FLATE = pdfdoc.PDFArray([pdfdoc.PDFName(pdfdoc.PDFZCompress.pdfname)])
PRODUCER = "Centrale (ReportLab)"


def _pdf_date(moment: datetime) -> str:
    """D:YYYYMMDDHHmmSS+HH'mm, the form WeasyPrint writes and PDF/A compares with the XMP."""
    offset = moment.strftime("%z")
    return f"D:{moment:%Y%m%d%H%M%S}{offset[:3]}'{offset[3:]}"


def _finish_pdf_a(
    pdf: pdfdoc.PDFDocument, doc: InvoiceDocument, xml: bytes, *, issued_at: datetime, xmp: bytes
) -> None:
    stamp = _pdf_date(issued_at)
    pdf.info.producer = PRODUCER
    pdf.info.creator = PRODUCER
    pdf.info.subject = ""
    pdf.info._dateFormatter = lambda *_parts: stamp
    # The file identifier: a hash of what the file says, so equal documents give equal files.
    digest = hashlib.md5(xml + doc.number.encode(), usedforsecurity=False).digest()
    identifier = pdfdoc.PDFText(digest, enc="raw").format(pdfdoc.DummyDoc())
    pdf._ID = b"\n[" + identifier + identifier + b"]\n"

    utc = _utc_stamp(issued_at)
    checksum = hashlib.md5(xml, usedforsecurity=False).digest()
    embedded = pdfdoc.PDFStream(
        dictionary=pdfdoc.PDFDictionary(
            {
                "Type": pdfdoc.PDFName("EmbeddedFile"),
                "Subtype": XML_SUBTYPE,
                "Params": pdfdoc.PDFDictionary(
                    {
                        "Size": len(xml),
                        "CheckSum": pdfdoc.PDFText(checksum, enc="raw"),
                        "CreationDate": pdfdoc.PDFString(utc),
                        "ModDate": pdfdoc.PDFString(utc),
                    }
                ),
            }
        ),
        content=xml,
        filters=[pdfdoc.PDFZCompress],
    )
    embedded_ref = pdf.Reference(embedded)
    filespec = pdfdoc.PDFDictionary(
        {
            "Type": pdfdoc.PDFName("Filespec"),
            "F": pdfdoc.PDFString(FACTURX_FILENAME),
            "UF": pdfdoc.PDFString(FACTURX_FILENAME),
            "Desc": pdfdoc.PDFString("Factur-X XML"),
            "AFRelationship": pdfdoc.PDFName(AF_RELATIONSHIP),
            "EF": pdfdoc.PDFDictionary({"F": embedded_ref, "UF": embedded_ref}),
        }
    )
    filespec_ref = pdf.Reference(filespec)
    metadata = pdfdoc.PDFStream(
        dictionary=pdfdoc.PDFDictionary(
            {"Type": pdfdoc.PDFName("Metadata"), "Subtype": pdfdoc.PDFName("XML")}
        ),
        # PDF/A wants the XMP readable by tools that know nothing of PDF: no filter.
        content=_xmp_packet(xmp),
        filters=[],
    )
    intent = pdfdoc.PDFDictionary(
        {
            "Type": pdfdoc.PDFName("OutputIntent"),
            "S": pdfdoc.PDFName("GTS_PDFA1"),
            "OutputConditionIdentifier": pdfdoc.PDFString("sRGB IEC61966-2.1"),
            "Info": pdfdoc.PDFString("sRGB IEC61966-2.1"),
            "DestOutputProfile": pdf.Reference(_srgb_profile_stream()),
        }
    )
    catalog = pdf.Catalog
    catalog.Metadata = metadata
    catalog.Names = pdfdoc.PDFDictionary(
        {
            "EmbeddedFiles": pdfdoc.PDFDictionary(
                {"Names": pdfdoc.PDFArray([pdfdoc.PDFString(FACTURX_FILENAME), filespec_ref])}
            )
        }
    )
    catalog.AF = pdfdoc.PDFArray([filespec_ref])
    catalog.OutputIntents = pdfdoc.PDFArray([intent])
    catalog.Lang = pdfdoc.PDFString("fr")
    # ReportLab writes only the catalog keys it knows of: name the two PDF/A ones too.
    catalog.__NoDefault__ = [*pdfdoc.PDFCatalog.__NoDefault__, "AF", "OutputIntents"]


def _utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("D:%Y%m%d%H%M%SZ")


def _xmp_packet(rdf: bytes) -> bytes:
    return b"\n".join(
        (
            b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>',
            b'<x:xmpmeta xmlns:x="adobe:ns:meta/">',
            rdf,
            b"</x:xmpmeta>",
            b'<?xpacket end="r"?>',
        )
    )


@cache
def _srgb_profile() -> bytes:
    """The sRGB ICC profile WeasyPrint ships for its own PDF/A output intent.

    Read from WeasyPrint's folder, found without importing it: ``files("weasyprint")``
    would load all of WeasyPrint (half a second of CPU) into every process
    that only draws with ReportLab.
    """
    spec = importlib.util.find_spec("weasyprint")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("WeasyPrint, whose sRGB profile the PDFs embed, is missing")
    return (Path(spec.origin).parent / "pdf" / "sRGB2014.icc").read_bytes()


def _srgb_profile_stream() -> pdfdoc.PDFStream:
    stream = pdfdoc.PDFStream(
        dictionary=pdfdoc.PDFDictionary({"N": 3}),
        content=_srgb_profile(),
        filters=[pdfdoc.PDFZCompress],
    )
    _compress_ahead(stream)
    return stream


def xmp_rdf(
    *, title: str, author: str, created: str, producer: str, facturx_descriptions: bytes
) -> bytes:
    """The RDF of the XMP: PDF/A-3b identification, Dublin Core, dates, Factur-X schema."""
    ns = {
        "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
        "pdf": "http://ns.adobe.com/pdf/1.3/",
        "dc": "http://purl.org/dc/elements/1.1/",
        "xmp": "http://ns.adobe.com/xap/1.0/",
    }
    rdf = etree.Element(f"{{{ns['rdf']}}}RDF", nsmap={"rdf": ns["rdf"]})

    def description(prefix: str) -> etree._Element:
        element = etree.SubElement(rdf, f"{{{ns['rdf']}}}Description", nsmap={prefix: ns[prefix]})
        element.set(f"{{{ns['rdf']}}}about", "")
        return element

    identification = description("pdfaid")
    etree.SubElement(identification, f"{{{ns['pdfaid']}}}part").text = "3"
    etree.SubElement(identification, f"{{{ns['pdfaid']}}}conformance").text = "B"
    pdf_part = description("pdf")
    pdf_part.set(f"{{{ns['pdf']}}}Producer", producer)
    dc = description("dc")
    alt = etree.SubElement(etree.SubElement(dc, f"{{{ns['dc']}}}title"), f"{{{ns['rdf']}}}Alt")
    li = etree.SubElement(alt, f"{{{ns['rdf']}}}li")
    li.set("{http://www.w3.org/XML/1998/namespace}lang", "x-default")
    li.text = title
    seq = etree.SubElement(etree.SubElement(dc, f"{{{ns['dc']}}}creator"), f"{{{ns['rdf']}}}Seq")
    etree.SubElement(seq, f"{{{ns['rdf']}}}li").text = author
    xmp = description("xmp")
    etree.SubElement(xmp, f"{{{ns['xmp']}}}CreatorTool").text = producer
    etree.SubElement(xmp, f"{{{ns['xmp']}}}CreateDate").text = created
    etree.SubElement(xmp, f"{{{ns['xmp']}}}ModifyDate").text = created
    rdf.extend(list(etree.fromstring(facturx_descriptions)))
    return etree.tostring(rdf, encoding="utf-8")
