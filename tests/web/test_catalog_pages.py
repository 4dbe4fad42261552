"""The catalogue pages: families, search, a product's prices of the day and the FEDER aid."""

from datetime import timedelta
from decimal import Decimal

import pytest

from purchasing.catalog.pricing import Billing
from purchasing.fields import today_in_paris
from purchasing.members.models import MemberKind
from tests.factories import make_family, make_member, make_product, make_programme


def _programme_in_force(session, products, **overrides):
    """A programme in force today: 50 % of the price, capped per unit when told."""
    today = today_in_paris()
    return make_programme(
        session,
        products=products,
        period_start=today - timedelta(days=30),
        period_end=today + timedelta(days=300),
        **overrides,
    )


@pytest.fixture
def catalogue(session):
    """Two families; the messaging box is sold 105,38 € HT a month (cost 100 + 5,38 %)."""
    digital = make_family(session, code="mairie_connectee", name="Mairie Connectée")
    cameras = make_family(session, code="video_protection", name="Vidéoprotection")
    mailbox = make_product(
        session,
        family=digital,
        sku="MC-BOX",
        name="Boîte de messagerie",
        unit="boîte",
        cost="100.00",
        subsidy_eligible=True,
    )
    make_product(
        session,
        family=cameras,
        sku="VP-CAM",
        name="Caméra dôme",
        unit="caméra",
        billing=Billing.ONE_OFF,
        cost="1000.00",
        price="1250.00",
    )
    return {"mailbox": mailbox}


def test_member_browses_a_family_with_the_prices_of_the_day(pages_as, session, catalogue):
    member_user = pages_as("member", member=make_member(session))

    page = member_user.get("/catalogue/mairie_connectee")

    assert page.status_code == 200
    assert "Catalogue · Mairie Connectée" in page.text
    assert "Boîte de messagerie" in page.text
    assert "105,38\u00a0€" in page.text and "par mois" in page.text
    assert "Caméra dôme" not in page.text  # another family
    everything = member_user.get("/catalogue").text
    assert "Caméra dôme" in everything and "1\u202f250,00\u00a0€" in everything


def test_search_and_billing_filter_narrow_the_list(pages_as, session, catalogue):
    member_user = pages_as("member", member=make_member(session))

    found = member_user.get("/catalogue?q=caméra").text
    assert "Caméra dôme" in found and "Boîte de messagerie" not in found

    one_off = member_user.get("/catalogue?billing=one_off").text
    assert "Caméra dôme" in one_off and "Boîte de messagerie" not in one_off


def test_the_list_paginates(pages_as, session, catalogue):
    member_user = pages_as("member", member=make_member(session))

    first = member_user.get("/catalogue?per_page=1").text
    second = member_user.get("/catalogue?per_page=1&page=2").text

    assert "2 résultats · page 1 sur 2" in first
    assert ("Boîte de messagerie" in first) != ("Boîte de messagerie" in second)
    assert ("Caméra dôme" in first) != ("Caméra dôme" in second)


def test_a_bad_filter_is_named_and_the_list_still_shows(pages_as, session, catalogue):
    page = pages_as("member", member=make_member(session)).get("/catalogue?billing=weekly")
    assert page.status_code == 200
    assert "Choisissez une valeur proposée." in page.text
    assert "Boîte de messagerie" in page.text


def test_product_page_shows_price_vat_and_rhythm_but_no_cost_to_a_member(
    pages_as, session, catalogue
):
    member_user = pages_as("member", member=make_member(session))

    page = member_user.get("/catalogue/products/MC-BOX")

    assert page.status_code == 200
    assert "Boîte de messagerie" in page.text
    assert "105,38\u00a0€ HT" in page.text
    assert "20\u00a0%" in page.text  # VAT rate
    assert "Abonnement mensuel" in page.text
    assert "Ajouter au panier" in page.text
    # What the centre pays and earns is never shown to a member.
    assert "100,00" not in page.text
    assert "Coût fournisseur" not in page.text and "marge" not in page.text.lower()


def test_staff_see_the_supplier_cost_and_the_margin(pages_as, session, catalogue):
    page = pages_as("purchasing").get("/catalogue/products/MC-BOX")

    assert page.status_code == 200
    assert "Coût fournisseur" in page.text and "100,00\u00a0€ HT" in page.text
    assert "Taux de marge" in page.text and "5,38\u00a0%" in page.text
    assert "Ajouter au panier" not in page.text  # staff order from their own pages
    listing = pages_as("finance").get("/catalogue/mairie_connectee").text
    assert "Coût fournisseur HT" in listing and "100,00\u00a0€" in listing


def test_eligible_member_sees_its_feder_aid_and_the_price_after_aid(pages_as, session, catalogue):
    _programme_in_force(session, [catalogue["mailbox"]])
    small_commune = make_member(session, kind=MemberKind.COMMUNE, population=800)

    page = pages_as("member", member=small_commune).get("/catalogue/products/MC-BOX")

    # 50 % of 105,38 = 52,69; the aid is a price complement: VAT on the full price,
    # 105,38 + 21,08 = 126,46 incl. VAT, less the aid = 73,77 to pay.
    assert "Aide FEDER : \u221252,69\u00a0€" in page.text
    assert "Prix après aide : <strong>52,69\u00a0€ HT</strong>" in page.text
    assert "73,77\u00a0€ TTC" in page.text
    listing = pages_as("member", member=small_commune).get("/catalogue").text
    assert "\u221252,69\u00a0€" in listing


def test_aid_follows_the_programme_cap(pages_as, session, catalogue):
    _programme_in_force(session, [catalogue["mailbox"]], aid_cap_per_unit=Decimal("30.00"))
    page = pages_as("member", member=make_member(session, population=800)).get(
        "/catalogue/products/MC-BOX"
    )
    assert "Aide FEDER : \u221230,00\u00a0€" in page.text


def test_aid_never_promises_more_than_the_envelope_holds(pages_as, session, catalogue):
    _programme_in_force(session, [catalogue["mailbox"]], envelope="20.00")
    page = pages_as("member", member=make_member(session, population=800)).get(
        "/catalogue/products/MC-BOX"
    )
    # 52,69 asked, 20,00 left: 85,38 HT after aid, 126,46 - 20,00 to pay.
    assert "Aide FEDER : \u221220,00\u00a0€" in page.text
    assert "85,38\u00a0€ HT" in page.text and "106,46\u00a0€ TTC" in page.text


def test_no_aid_for_a_member_the_programme_does_not_admit(pages_as, session, catalogue):
    _programme_in_force(session, [catalogue["mailbox"]])
    big_town = make_member(session, kind=MemberKind.COMMUNE, population=12000)
    epci = make_member(session, kind=MemberKind.EPCI, population=900)

    for member in (big_town, epci):
        page = pages_as("member", member=member).get("/catalogue/products/MC-BOX")
        assert "105,38\u00a0€ HT" in page.text
        assert "Aide FEDER" not in page.text


def test_unknown_family_or_product_answers_404(pages_as, session, catalogue):
    member_user = pages_as("member", member=make_member(session))
    assert member_user.get("/catalogue/no_such_family").status_code == 404
    assert member_user.get("/catalogue/products/NOPE").status_code == 404


def test_every_role_may_browse_but_a_visitor_must_sign_in(pages_as, client, session, catalogue):
    for role in ("finance", "auditor", "admin"):
        assert pages_as(role).get("/catalogue").status_code == 200
    answer = client.get("/catalogue")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
