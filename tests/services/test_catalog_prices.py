"""Prices by date: the quote other domains keep, and adding price versions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from purchasing.audit.models import AuditRecord
from purchasing.catalog.deliberations import Deliberation
from purchasing.catalog.pricing import Billing, PurchaseMode
from purchasing.catalog.services import (
    NoPriceInForce,
    PriceVersionOverlap,
    ProductNotFound,
    add_price_version,
    get_product,
    price_on,
)
from purchasing.errors import Conflict, ValidationFailed
from tests.factories import make_family, make_product, make_user
from tests.factories.catalog import TARIFF_DELIBERATION as DELIB

D = Decimal


@pytest.fixture
def mailbox(session):
    """A monthly mailbox priced 3.20 in 2025 and 3.40 from 2026, family margin 5.38 %."""
    product = make_product(
        session,
        sku="MC-MAIL",
        cost="3.20",
        valid_from=date(2025, 1, 1),
        valid_to=date(2025, 12, 31),
    )
    add_price_version(
        session,
        "MC-MAIL",
        valid_from=date(2026, 1, 1),
        supplier_cost=D("3.40"),
        deliberation=DELIB,
        added_by=None,
    )
    return product


def test_the_quote_carries_what_an_order_line_needs(session, mailbox):
    quote = price_on(session, mailbox.id, date(2025, 6, 15))
    assert quote.sku == "MC-MAIL"
    assert quote.price_version_id == mailbox.price_versions[0].id
    assert (quote.supplier_cost, quote.sale_price) == (D("3.20"), D("3.37"))
    assert (quote.setup_fee_cost, quote.setup_fee_price) == (None, None)
    assert quote.vat_rate == D("0.2000")
    assert quote.billing is Billing.MONTHLY
    assert quote.purchase_mode is PurchaseMode.WHOLESALER
    assert quote.family_code == mailbox.family.code
    assert (quote.sales_account, quote.purchase_account) == ("7062", "6042")


def test_before_the_first_version_there_is_no_price(session, mailbox):
    with pytest.raises(NoPriceInForce) as caught:
        price_on(session, mailbox.id, date(2024, 12, 31))
    assert caught.value.errors == {"on": ["product MC-MAIL has no price in force on 2024-12-31"]}


@pytest.mark.parametrize(
    ("day", "cost"),
    [
        (date(2025, 1, 1), "3.20"),  # first day of the first version
        (date(2025, 12, 31), "3.20"),  # its valid_to: included
        (date(2026, 1, 1), "3.40"),  # first day of the next
        (date(2040, 1, 1), "3.40"),  # open-ended
    ],
)
def test_the_version_in_force_on_boundary_days(session, mailbox, day, cost):
    assert price_on(session, mailbox.id, day).supplier_cost == D(cost)


def test_a_gap_between_versions_has_no_price(session):
    product = make_product(session, cost="10.00", valid_to=date(2025, 6, 30))
    add_price_version(
        session,
        product.sku,
        valid_from=date(2025, 8, 1),
        supplier_cost=D("11"),
        deliberation=DELIB,
        added_by=None,
    )
    with pytest.raises(NoPriceInForce):
        price_on(session, product.id, date(2025, 7, 15))
    assert price_on(session, product.id, date(2025, 8, 1)).supplier_cost == D("11.00")


def test_a_later_version_does_not_change_the_quote_of_an_earlier_date(session):
    product = make_product(session, cost="480.00", billing="one_off")
    ordered_on = date(2025, 9, 1)
    before = price_on(session, product.id, ordered_on)

    add_price_version(
        session,
        product.sku,
        valid_from=date(2026, 1, 1),
        supplier_cost=D("495.00"),
        deliberation=DELIB,
        added_by=None,
    )

    assert price_on(session, product.id, ordered_on) == before
    assert price_on(session, product.id, date(2026, 1, 1)).supplier_cost == D("495.00")


def test_a_margin_change_does_not_reprice_a_recorded_version(session):
    family = make_family(session, margin_rate=D("0.0162"))
    product = make_product(session, family=family, cost="480.00")
    family.margin_rate = D("0.0500")
    session.commit()
    assert price_on(session, product.id, date(2025, 3, 1)).sale_price == D("487.78")


def test_a_version_keeps_the_deliberation_of_its_rate_when_the_family_rate_changes(session):
    rate_act = Deliberation("2024-17", date(2024, 3, 12))
    family = make_family(session, margin_rate=D("0.0162"), margin_deliberation=rate_act)
    product = make_product(session, family=family, cost="480.00", valid_to=date(2025, 12, 31))
    first = add_price_version(
        session, product.sku, valid_from=date(2026, 1, 1), supplier_cost=D("495.00"),
        deliberation=Deliberation("2025-38", date(2025, 12, 9)), added_by=None,
    )  # fmt: skip
    assert (first.margin_rate, first.margin_deliberation) == (D("0.0162"), rate_act)
    assert first.deliberation.reference == "2025-38"  # the prices' act is another one

    new_act = Deliberation("2026-39", date(2026, 12, 8))
    family.margin_rate, family.margin_deliberation = D("0.0500"), new_act
    session.commit()
    later = add_price_version(
        session, product.sku, valid_from=date(2027, 1, 1), supplier_cost=D("495.00"),
        deliberation=Deliberation("2026-40", date(2026, 12, 8)), added_by=None,
    )  # fmt: skip

    session.expire_all()
    assert [(v.margin_rate, v.margin_deliberation) for v in product.price_versions] == [
        (D("0.0162"), rate_act),
        (D("0.0162"), rate_act),
        (D("0.0500"), new_act),
    ]
    assert later.margin_deliberation == new_act


def test_an_explicit_sale_price_overrides_the_margin(session):
    product = make_product(session, cost="18.00", price="19.00")
    assert price_on(session, product.id, date(2025, 3, 1)).sale_price == D("19.00")


def test_a_recurring_item_quotes_its_setup_fee(session):
    product = make_product(session, cost="19.00", setup_fee_cost="290.00")
    quote = price_on(session, product.id, date(2025, 3, 1))
    assert (quote.setup_fee_cost, quote.setup_fee_price) == (D("290.00"), D("305.60"))


def test_an_intermediary_item_has_no_margin_and_no_accounts(session):
    family = make_family(session, purchase_mode="intermediary")
    product = make_product(session, family=family, cost="49.00")
    quote = price_on(session, product.id, date(2025, 3, 1))
    assert quote.sale_price == quote.supplier_cost == D("49.00")
    assert quote.purchase_mode is PurchaseMode.INTERMEDIARY
    assert (quote.sales_account, quote.purchase_account) == (None, None)


def test_a_product_account_overrides_its_familys(session):
    product = make_product(session, sales_account="7071", purchase_account="6071")
    quote = price_on(session, product.id, date(2025, 3, 1))
    assert (quote.sales_account, quote.purchase_account) == ("7071", "6071")


def test_an_unknown_product_is_not_found(session):
    with pytest.raises(ProductNotFound):
        price_on(session, 999_999, date(2025, 1, 1))
    with pytest.raises(ProductNotFound):
        get_product(session, "NOPE")


# --- adding a price version -----------------------------------------------------------


def test_a_new_version_closes_the_open_one_on_the_eve(session):
    user, _token = make_user(session, role="purchasing")
    product = make_product(session, cost="100.00")
    current = product.price_versions[0]

    new = add_price_version(
        session,
        product.sku,
        valid_from=date(2026, 3, 1),
        supplier_cost=D("104.00"),
        note="Révision annuelle",
        deliberation=DELIB,
        added_by=user,
    )

    assert current.valid_to == date(2026, 2, 28)
    assert (new.valid_from, new.valid_to, new.margin_rate) == (date(2026, 3, 1), None, D("0.0538"))
    records = session.scalars(
        select(AuditRecord).where(AuditRecord.entity == "price_version").order_by(AuditRecord.id)
    ).all()
    assert [(r.action, r.entity_id, r.actor_id) for r in records] == [
        ("price_version.created", str(new.id), user.id),
        ("price_version.closed", str(current.id), user.id),
        ("price_version.activated", str(new.id), user.id),
    ]
    assert records[1].after == {"valid_to": "2026-02-28"}
    assert records[2].after == {"status": "active"}


def test_a_version_overlapping_a_closed_one_is_refused(session, mailbox):
    with pytest.raises(PriceVersionOverlap) as caught:
        add_price_version(
            session, "MC-MAIL", valid_from=date(2025, 6, 1), valid_to=date(2025, 6, 30),
            supplier_cost=D("3.00"), deliberation=DELIB, added_by=None,
        )  # fmt: skip
    assert list(caught.value.errors) == ["valid_from"]
    assert caught.value.status_code == 409
    assert len(get_product(session, "MC-MAIL").price_versions) == 2


def test_an_open_ended_version_before_a_later_one_is_refused(session, mailbox):
    with pytest.raises(PriceVersionOverlap):
        add_price_version(
            session,
            "MC-MAIL",
            valid_from=date(2024, 1, 1),
            supplier_cost=D("3.00"),
            deliberation=DELIB,
            added_by=None,
        )


def test_a_version_starting_the_same_day_is_refused(session):
    product = make_product(session)
    with pytest.raises(Conflict, match="already starts on 2025-01-01"):
        add_price_version(
            session,
            product.sku,
            valid_from=date(2025, 1, 1),
            supplier_cost=D("1"),
            deliberation=DELIB,
            added_by=None,
        )


def test_a_resale_below_cost_is_refused(session):
    product = make_product(session)
    with pytest.raises(ValidationFailed) as caught:
        add_price_version(
            session, product.sku, valid_from=date(2026, 1, 1), supplier_cost=D("100.00"),
            sale_price=D("90.00"), deliberation=DELIB, added_by=None,
        )  # fmt: skip
    assert list(caught.value.errors) == ["sale_price"]
    assert len(product.price_versions) == 1
    assert product.price_versions[0].valid_to is None  # nothing closed either


def test_a_setup_fee_on_a_one_off_item_is_refused(session):
    product = make_product(session, billing="one_off")
    with pytest.raises(ValidationFailed) as caught:
        add_price_version(
            session, product.sku, valid_from=date(2026, 1, 1), supplier_cost=D("100.00"),
            setup_fee_cost=D("50.00"), deliberation=DELIB, added_by=None,
        )  # fmt: skip
    assert list(caught.value.errors) == ["setup_fee_cost"]


def test_adding_prices_to_an_unknown_product_is_refused(session):
    with pytest.raises(ProductNotFound):
        add_price_version(
            session,
            "NOPE",
            valid_from=date(2026, 1, 1),
            supplier_cost=D("1"),
            deliberation=DELIB,
            added_by=None,
        )
