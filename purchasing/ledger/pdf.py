"""Ledger reports as PDF, drawn with ReportLab: long tables, and the activity report.

A report's rows are laid out as they are read: the table is cut into page-sized
``LongTable`` pieces (each row one line high, long texts shortened), fed to ReportLab's
layout one at a time, so the rows are never all in memory. Every page repeats the column
header and carries the report's title and "page N / M" (the total is a form drawn once,
at the end, and referenced by every page).

ReportLab keeps the pages themselves until it writes the file: a report longer than
:data:`PDF_MAX_LINES` is refused in favour of CSV, XLSX or the FEC, made for such sizes.
"""

from __future__ import annotations

import io
import itertools
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    LongTable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from purchasing.errors import ValidationFailed
from purchasing.fields import today_in_paris
from purchasing.ledger.exports import CHUNK_BYTES, Column, Report, Row
from purchasing.ledger.reports import ActivityReport, MarginReport

__all__ = [
    "PDF_MAX_LINES",
    "ReportTooLongForPdf",
    "activity_report_pdf",
    "french_amount",
    "purchases_and_sales_chart",
    "report_pdf_chunks",
]

#: Beyond this many lines (some 2 500 pages), a PDF is refused: no one reads it on paper.
PDF_MAX_LINES = 100_000
FONT = "Helvetica"
BOLD = "Helvetica-Bold"
FONT_SIZE = 7.5
ROW_HEIGHT = 11.0
PAGE = landscape(A4)
MARGIN = 12 * mm
HEADER = 16 * mm
FOOTER = 10 * mm
_PAGE_COUNT_FORM = "page_count"


class ReportTooLongForPdf(ValidationFailed):
    def __init__(self, report: Report) -> None:
        super().__init__(
            f"{report.title} {report.scope.title}: {report.line_count} lines, more than the "
            f"{PDF_MAX_LINES} a PDF holds; export it as CSV, XLSX or FEC",
            field="format",
        )


def french_amount(value: Decimal) -> str:
    """Decimal("-1234.5") -> "-1 234,50" (no-break space between thousands)."""
    return f"{value:,.2f}".replace(",", "\u00a0").replace(".", ",")


def report_pdf_chunks(report: Report, *, organisation: str) -> Iterator[bytes]:
    """The report as a PDF, in chunks of bytes; ReportTooLongForPdf beyond the limit."""
    if report.line_count > PDF_MAX_LINES:
        raise ReportTooLongForPdf(report)
    return _pdf_chunks(report, organisation)


def _pdf_chunks(report: Report, organisation: str) -> Iterator[bytes]:
    widths = _column_widths(report.columns)
    with tempfile.TemporaryFile() as file:
        document = SimpleDocTemplate(
            file,
            pagesize=PAGE,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN + HEADER,
            bottomMargin=MARGIN + FOOTER,
            title=f"{report.title} - {report.scope.title}",
            author=organisation,
        )
        rows_per_page = int((document.height - 2) // ROW_HEIGHT) - 1  # less the header row
        pages = _page_tables(report, widths, rows_per_page)
        decorate = _PageDecoration(report, organisation)
        document.build(
            _FlowableFeed(pages),
            onFirstPage=decorate,
            onLaterPages=decorate,
            canvasmaker=_CountingCanvas,
        )
        file.seek(0)
        while chunk := file.read(CHUNK_BYTES):
            yield chunk


def _column_widths(columns: Sequence[Column]) -> list[float]:
    available = PAGE[0] - 2 * MARGIN
    total = sum(column.width for column in columns)
    return [available * column.width / total for column in columns]


def _page_tables(report: Report, widths: list[float], rows_per_page: int) -> Iterator[Flowable]:
    """One table per page: its rows fill the page, under the repeated column header."""
    header = [
        _fit(column.title, width - 4, BOLD)
        for column, width in zip(report.columns, widths, strict=True)
    ]
    rows = iter(report.rows)
    first = True
    while (page := list(itertools.islice(rows, rows_per_page))) or first:
        first = False
        cells = [header] + [_cells(row, report.columns, widths) for row in page]
        table = LongTable(
            cells, colWidths=widths, rowHeights=ROW_HEIGHT, repeatRows=1, hAlign="LEFT"
        )
        table.setStyle(_style(report.columns, page))
        yield table


def _cells(row: Row, columns: Sequence[Column], widths: list[float]) -> list[str]:
    font = BOLD if row.total else FONT
    return [
        _fit(_text(value, column), widths[index] - 4, font)
        for index, (column, value) in enumerate(zip(columns, row.values, strict=True))
    ]


def _text(value: Any, column: Column) -> str:
    if value is None:
        return ""
    if column.kind == "amount":
        return french_amount(value)
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return str(value)


def _fit(text: str, width: float, font: str) -> str:
    """The text, shortened with an ellipsis to fit ``width`` on one line."""
    if stringWidth(text, font, FONT_SIZE) <= width:
        return text
    while text and stringWidth(text + "\u2026", font, FONT_SIZE) > width:
        text = text[:-1]
    return text + "\u2026"


def _style(columns: Sequence[Column], rows: Sequence[Row]) -> TableStyle:
    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), FONT, FONT_SIZE),
        ("FONT", (0, 0), (-1, 0), BOLD, FONT_SIZE),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6e9ef")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#5a6270")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
    ]
    for index, column in enumerate(columns):
        if column.kind == "amount":
            commands.append(("ALIGN", (index, 0), (index, -1), "RIGHT"))
    for index, row in enumerate(rows, start=1):
        if row.total:
            commands += [
                ("FONT", (0, index), (-1, index), BOLD, FONT_SIZE),
                ("LINEABOVE", (0, index), (-1, index), 0.4, colors.HexColor("#5a6270")),
            ]
    return TableStyle(commands)


class _FlowableFeed(list):
    """A list of flowables that ReportLab empties from the front, refilled from an iterator.

    ``SimpleDocTemplate.build`` takes a list and consumes it while laying it out; this one
    holds only the next few pieces, so the report is read as the pages are drawn.
    """

    def __init__(self, flowables: Iterable[Flowable]) -> None:
        super().__init__()
        self._source = iter(flowables)

    def __len__(self) -> int:
        if super().__len__() < 2:
            self.extend(itertools.islice(self._source, 2))
        return super().__len__()


class _PageDecoration:
    """The title above and the page number below every page."""

    def __init__(self, report: Report, organisation: str) -> None:
        self.organisation = organisation
        self.title = f"{report.title} - {report.scope.title}"
        self.printed = f"édité le {today_in_paris():%d/%m/%Y}"

    def __call__(self, canvas: Canvas, document: SimpleDocTemplate) -> None:
        width, height = PAGE
        top = height - MARGIN - 4 * mm
        canvas.saveState()
        canvas.setFont(BOLD, 11)
        canvas.drawString(MARGIN, top, self.title)
        canvas.setFont(FONT, 8)
        canvas.drawString(MARGIN, top - 5 * mm, self.organisation)
        canvas.drawRightString(width - MARGIN, top, self.printed)
        label = f"page {canvas.getPageNumber()} / "
        x = width - MARGIN - stringWidth("9999", FONT, 8)
        canvas.drawRightString(x, MARGIN, label)
        canvas.translate(x, MARGIN)
        canvas.doForm(_PAGE_COUNT_FORM)  # the total, known once every page is drawn
        canvas.restoreState()


class _CountingCanvas(Canvas):
    """Draws the page count form once the last page is done, just before saving."""

    def save(self) -> None:
        pages = self.getPageNumber() - 1  # showPage has moved on to a page never drawn
        self.beginForm(_PAGE_COUNT_FORM)
        self.setFont(FONT, 8)
        self.drawString(0, 0, str(pages))
        self.endForm()
        super().save()


# --- The activity report ----------------------------------------------------------------


def activity_report_pdf(report: ActivityReport, *, organisation: str) -> bytes:
    """The yearly activity report: key figures, orders, margins and their bar chart."""
    styles = getSampleStyleSheet()
    body = io.BytesIO()
    document = SimpleDocTemplate(
        body,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"Rapport d'activité {report.year}",
        author=organisation,
    )
    margins = report.margins
    story: list[Flowable] = [
        Paragraph(f"Rapport d'activité {report.year} — centrale d'achats", styles["Title"]),
        Paragraph(escape(organisation), styles["Normal"]),
        Spacer(1, 6 * mm),
        Paragraph("Adhérents et commandes", styles["Heading2"]),
        _figures_table(
            [
                ("Adhérents au 31 décembre", str(report.members_at_year_end)),
                ("Nouvelles adhésions", str(report.new_adhesions)),
                ("Commandes passées", str(report.orders)),
                ("Liens télécoms commandés", _plain_number(report.telecom_links)),
                ("Collectivités servies en vidéoprotection", str(report.video_protection_members)),
            ]
        ),
        Spacer(1, 4 * mm),
        _grid(
            ["Famille", "Commandes", "Lignes"],
            [[f.family_name, str(f.orders), str(f.lines)] for f in report.orders_by_family],
            widths=[90 * mm, 35 * mm, 35 * mm],
        ),
        Paragraph("Achats et ventes par famille", styles["Heading2"]),
        _grid(
            ["Famille", "Achats", "Ventes", "Marge", "Taux de marge"],
            [
                [
                    f.family_name,
                    french_amount(f.purchases),
                    french_amount(f.sales),
                    french_amount(f.margin),
                    _percent(f.margin_rate),
                ]
                for f in margins.families
            ]
            + [
                [
                    "Total",
                    french_amount(margins.purchases),
                    french_amount(margins.sales),
                    french_amount(margins.margin),
                    "",
                ]
            ],
            widths=[54 * mm, 30 * mm, 30 * mm, 28 * mm, 28 * mm],
            total_row=True,
        ),
        Spacer(1, 4 * mm),
        purchases_and_sales_chart(margins),
        Paragraph("Subvention FEDER", styles["Heading2"]),
        _figures_table(
            [
                ("Subvention reçue", french_amount(report.grant_received) + " €"),
                ("Reversée aux partenaires", french_amount(report.grant_reversed) + " €"),
            ]
        ),
    ]
    document.build(story)
    return body.getvalue()


def purchases_and_sales_chart(margins: MarginReport) -> Drawing:
    """Bars of purchases and sales side by side, one pair per family, in euros."""
    families = list(margins.families)
    drawing = Drawing(170 * mm, 70 * mm)
    chart = VerticalBarChart()
    chart.x, chart.y = 18 * mm, 14 * mm
    chart.width, chart.height = 145 * mm, 46 * mm
    chart.data = [
        [float(f.purchases) for f in families] or [0.0],  # a drawing, not an amount
        [float(f.sales) for f in families] or [0.0],
    ]
    chart.categoryAxis.categoryNames = [f.family_name for f in families] or [""]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labelTextFormat = lambda value: french_amount(Decimal(int(value)))[:-3]
    chart.bars[0].fillColor = colors.HexColor("#9aa5b8")
    chart.bars[1].fillColor = colors.HexColor("#2c5d8f")
    chart.barSpacing = 1
    chart.groupSpacing = 8
    legend = Legend()
    legend.x, legend.y = 20 * mm, 68 * mm
    legend.fontName, legend.fontSize = FONT, 8
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.colorNamePairs = [
        (chart.bars[0].fillColor, "Achats"),
        (chart.bars[1].fillColor, "Ventes"),
    ]
    drawing.add(chart)
    drawing.add(legend)
    return drawing


def _figures_table(rows: list[tuple[str, str]]) -> Table:
    table = Table(rows, colWidths=[100 * mm, 60 * mm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 9),
                ("FONT", (1, 0), (1, -1), BOLD, 9),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#c9ced8")),
            ]
        )
    )
    return table


def _grid(
    header: list[str], rows: list[list[str]], *, widths: list[float], total_row: bool = False
) -> Table:
    table = Table([header, *rows], colWidths=widths, hAlign="LEFT", repeatRows=1)
    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), FONT, 8.5),
        ("FONT", (0, 0), (-1, 0), BOLD, 8.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6e9ef")),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#c9ced8")),
    ]
    if total_row:
        commands.append(("FONT", (0, -1), (-1, -1), BOLD, 8.5))
    table.setStyle(TableStyle(commands))
    return table


def _percent(rate: Decimal | None) -> str:
    """Decimal("0.0162") -> "1,62 %"."""
    return "" if rate is None else f"{rate * 100:.2f}".replace(".", ",") + "\u00a0%"


def _plain_number(value: Decimal) -> str:
    return f"{value:f}".replace(".", ",")
