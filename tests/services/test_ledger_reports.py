"""Margin per family and the yearly activity report, from the books and the registers."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend

from purchasing.billing import run
from purchasing.catalog.pricing import Billing
from purchasing.ledger import reports
from purchasing.ledger.exports import ExportScope
from purchasing.ledger.pdf import activity_report_pdf, purchases_and_sales_chart
from tests.factories import (
    catalog_family,
    invoice_in_full,
    make_member,
    make_order,
    make_product,
    make_supplier,
)
from tests.factories.billing import billing_settings
from tests.factories.ledger import ledger_settings, post_all, subsidy_received, subsidy_reversed

D = Decimal
YEAR = 2026


@pytest.fixture
def year_of_activity(session):
    """Two members joined in 2026, one earlier; video, digital and telecom orders."""
    supplier = make_supplier(session)
    video = catalog_family(session, "video_protection")
    digital = catalog_family(session, "mairie_connectee")
    telecom = catalog_family(session, "telecom")
    camera = make_product(
        session, family=video, supplier=supplier, billing=Billing.ONE_OFF, cost="1000.00"
    )
    module = make_product(
        session, family=digital, supplier=supplier, billing=Billing.ONE_OFF, cost="100.00"
    )
    link = make_product(session, family=telecom, supplier=supplier, unit="lien", cost="40.00")
    early = make_member(session, adhesion_start=date(2023, 3, 1))
    first = make_member(session, adhesion_start=date(2026, 1, 5))
    make_member(session, adhesion_start=date(2026, 1, 10))
    # Two cameras and three modules bought, delivered and invoiced; four links ordered.
    video_order = make_order(session, member=early, lines=[(camera, 2)], status="delivered")
    digital_order = make_order(session, member=first, lines=[(module, 3)], status="delivered")
    make_order(session, member=first, lines=[(link, 4)], status="ordered")
    make_order(session, member=early, lines=[(camera, 1)], status="cancelled")
    for order in (video_order, digital_order):
        invoice_in_full(session, order.purchase_orders[0], number=f"F-{order.id}")
    for member in (early, first):
        run.invoice_member(
            session,
            member.id,
            run.periods.month(2026, 3),
            settings=billing_settings(),
            issued_by=None,
            issue_date=date(2026, 3, 31),
        )
    subsidy_received(session, amount="384440.40", received_on=date(2026, 5, 2))
    subsidy_reversed(session, amount="206178.40", reversed_on=date(2026, 9, 1))
    assert post_all(session).refused == ()
    return session


def test_the_margin_of_each_family_comes_from_the_books(year_of_activity):
    report = reports.margin_report(year_of_activity, ExportScope.for_year(YEAR), ledger_settings())
    by_family = {family.family_code: family for family in report.families}
    video = by_family["video_protection"]
    # 2 cameras at 1000.00 bought, sold at cost x 1.0162
    assert (video.purchases, video.sales, video.margin) == (
        D("2000.00"),
        D("2032.40"),
        D("32.40"),
    )
    assert video.margin_rate == D("0.0162")
    digital = by_family["mairie_connectee"]
    assert (digital.purchases, digital.sales) == (D("300.00"), D("316.14"))
    assert "telecom" not in by_family  # the member pays the operator directly
    assert report.sales - report.purchases == report.margin


def test_the_activity_report_gives_the_years_figures(year_of_activity):
    report = reports.activity_report(year_of_activity, YEAR, ledger_settings())

    assert report.members_at_year_end == 3
    assert report.new_adhesions == 2
    assert report.orders == 3  # the cancelled one is not activity
    by_family = {f.family_code: (f.orders, f.lines) for f in report.orders_by_family}
    assert by_family["video_protection"] == (1, 1)
    assert by_family["telecom"] == (1, 1)
    assert report.telecom_links == D(4)
    assert report.video_protection_members == 1
    assert report.grant_received == D("384440.40")
    assert report.grant_reversed == D("206178.40")


def test_the_activity_report_prints_with_its_chart(year_of_activity):
    report = reports.activity_report(year_of_activity, YEAR, ledger_settings())

    pdf = activity_report_pdf(report, organisation="Syndicat mixte numérique")

    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Rapport d'activité 2026" in text
    assert "Adhérents au 31 décembre" in text
    assert "384 440,40" in text
    assert "Vidéoprotection" in text or "video_protection" in text
    assert "Achats" in text and "Ventes" in text  # the chart's legend


def test_the_chart_draws_purchases_beside_sales_for_each_family(year_of_activity):
    margins = reports.activity_report(year_of_activity, YEAR, ledger_settings()).margins

    drawing = purchases_and_sales_chart(margins)

    (chart,) = [shape for shape in drawing.contents if isinstance(shape, VerticalBarChart)]
    families = list(margins.families)
    assert len(families) >= 2  # video-protection and digital services were bought and sold
    assert chart.categoryAxis.categoryNames == [f.family_name for f in families]
    purchases, sales = chart.data
    assert purchases == [float(f.purchases) for f in families]
    assert sales == [float(f.sales) for f in families]
    assert all(sold > bought > 0 for bought, sold in zip(purchases, sales, strict=True))
    (legend,) = [shape for shape in drawing.contents if isinstance(shape, Legend)]
    assert [name for _colour, name in legend.colorNamePairs] == ["Achats", "Ventes"]
