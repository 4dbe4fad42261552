"""The quote (devis): its plain data, its totals, and its PDF read back in French."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from purchasing.catalog.pricing import Billing
from purchasing.config import load_config
from purchasing.errors import Conflict
from purchasing.orders import services
from purchasing.orders.models import OrderStatus, setup_fee_designation
from purchasing.orders.quote import render_quote_pdf
from tests.factories import catalog_family, make_member, make_order, make_product, make_supplier

D = Decimal
NNBSP = "\u202f"  # narrow no-break space: the French thousands separator (Babel)
NBSP = "\u00a0"
SELLER = load_config()["SELLER"]


@pytest.fixture
def order(session):
    """A draft mixing one-off, monthly and yearly items, and an intermediary link."""
    member = make_member(
        session,
        name="Commune d'Audresselles",
        address_line1="Mairie",
        address_line2="1 place du Détroit",
        postal_code="62164",
        city="Audresselles",
    )
    study = make_product(
        session, name="Étude de faisabilité", unit="étude", billing=Billing.ONE_OFF, cost="1171.16"
    )  # sold 1 234.17
    site = make_product(
        session,
        name="Site internet",
        unit="site",
        billing=Billing.MONTHLY,
        cost="19.00",
        setup_fee_cost="290.00",
    )  # sold 20.02 + 305.60 once
    domain = make_product(
        session,
        name="Nom de domaine",
        unit="domaine",
        billing=Billing.YEARLY,
        cost="18.00",
        vat_rate=D("0.1000"),
    )  # sold 18.97
    link = make_product(
        session,
        name="Fibre FTTH",
        unit="lien",
        billing=Billing.MONTHLY,
        cost="49.00",
        setup_fee_cost="150.00",
        family=catalog_family(session, "telecom"),
        supplier=make_supplier(session, name="Nordlink Télécom SAS"),
    )
    return make_order(
        session,
        member=member,
        lines=[
            (study, 1),
            {"product": site, "quantity": 1, "delivery_site": "Mairie"},
            (domain, 2),
            (link, 1),
        ],
        order_date=date(2026, 1, 15),
        engagement_number="EJ-2026-153",
    )


def test_the_quote_holds_plain_data_and_totals_per_rhythm(session, order):
    quote = services.quote_of_order(session, order.id, seller=SELLER, actor=None)
    assert (quote.reference, quote.quote_date, quote.valid_until) == (
        order.reference,
        date(2026, 1, 15),
        date(2026, 2, 14),
    )
    assert quote.buyer.name == "Commune d'Audresselles"
    assert quote.buyer.address_lines == ("Mairie", "1 place du Détroit")
    assert [(line.designation, line.amount, line.period) for line in quote.lines] == [
        ("Étude de faisabilité", D("1234.17"), None),
        ("Site internet", D("20.02"), "par mois"),
        (setup_fee_designation("Site internet"), D("305.60"), None),
        ("Nom de domaine", D("37.94"), "par an"),
    ]
    totals = {block.billing: block.totals for block in quote.totals}
    assert (
        totals["one_off"].total_excl_vat,
        totals["one_off"].total_vat,
        totals["one_off"].total_incl_vat,
    ) == (
        D("1539.77"),
        D("307.95"),
        D("1847.72"),
    )
    assert (totals["monthly"].total_excl_vat, totals["monthly"].total_incl_vat) == (
        D("20.02"),
        D("24.02"),
    )
    assert (totals["yearly"].total_vat, totals["yearly"].total_incl_vat) == (D("3.79"), D("41.73"))
    [direct] = quote.direct_lines
    assert (direct.designation, direct.supplier, direct.unit_price, direct.setup_fee_price) == (
        "Fibre FTTH",
        "Nordlink Télécom SAS",
        D("49.00"),
        D("150.00"),
    )


def test_the_pdf_reads_back_in_french(session, order):
    pdf = render_quote_pdf(services.quote_of_order(session, order.id, seller=SELLER, actor=None))
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in (
        "Devis",
        order.reference,
        "15/01/2026",
        "Valable jusqu\u2019au",  # typographic apostrophe
        "14/02/2026",
        "EJ-2026-153",
        SELLER["name"],
        "Commune d'Audresselles",
        "SIRET " + order.member.siret,
        "Étude de faisabilité",
        "par mois",
        "par an",
        setup_fee_designation("Site internet"),
        f"1{NNBSP}234,17{NBSP}€",
        f"1{NNBSP}539,77{NBSP}€",  # one-off total before VAT
        f"1{NNBSP}847,72{NBSP}€",  # one-off total with VAT
        f"20{NBSP}%",
        f"10{NBSP}%",
        # Headings are printed in capitals.
        "PRESTATIONS CONTRACTÉES DIRECTEMENT PAR LA COLLECTIVITÉ AUPRÈS DU TITULAIRE",
        "Nordlink",  # pypdf splits "Télécom" where the font kerns it
    ):
        assert expected in text, expected
    # The intermediary link is not in any total of the centre.
    assert f"49,00{NBSP}€" in text
    assert f"69,02{NBSP}€" not in text  # 20.02 + 49.00 would be a wrong monthly total


def test_a_quote_is_made_before_approval_only(session):
    approved = make_order(session, status=OrderStatus.APPROVED)
    with pytest.raises(Conflict) as refused:
        services.quote_of_order(session, approved.id, seller=SELLER, actor=None)
    assert refused.value.status_code == 409
    assert list(refused.value.errors) == ["status"]
    submitted = make_order(session, status=OrderStatus.SUBMITTED)
    assert (
        services.quote_of_order(session, submitted.id, seller=SELLER, actor=None).status
        == "submitted"
    )
