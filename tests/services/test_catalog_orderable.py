"""Orders read their products from a cache kept under the catalogue's version: an order
is refused or priced by what the catalogue says when it is placed, never by what it said
when the cache was filled."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event

from purchasing.catalog.orderable import orderable_products
from purchasing.errors import ValidationFailed
from purchasing.orders import services
from purchasing.orders.services import LineInput
from tests.factories import make_member, make_product, make_user

D = Decimal
ORDER_DATE = date(2026, 1, 15)


@pytest.fixture
def buyer(session):
    return make_user(session, role="purchasing", email="achats@centrale.example")[0]


@pytest.fixture
def member(session):
    return make_member(session, name="Commune de Wissant")


@contextmanager
def statements(session) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = session.get_bind()

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def place(session, buyer, member, sku: str):
    return services.create_order(
        session,
        actor=buyer,
        member_id=member.id,
        order_date=ORDER_DATE,
        lines=[LineInput(sku=sku, quantity=Decimal(1))],
    )


def refusal(session, buyer, member, sku: str) -> dict:
    with pytest.raises(ValidationFailed) as refused:
        place(session, buyer, member, sku)
    return refused.value.errors


def test_products_asked_for_again_cost_one_query_of_the_catalogue_version(session):
    product = make_product(session, sku="MC-MAIL", name="Messagerie", cost="3.20")
    session.commit()
    first = orderable_products(session, ["MC-MAIL", "NOPE"], ORDER_DATE)
    with statements(session) as seen:
        again = orderable_products(session, ["MC-MAIL", "NOPE"], ORDER_DATE)
    assert again == first
    assert list(first) == ["MC-MAIL"]  # an unknown SKU is left out, and kept as unknown
    [item] = first.values()
    assert (item.product_id, item.name, item.active) == (product.id, "Messagerie", True)
    assert item.service_domain is product.family.service_domain
    assert (item.quote.supplier_cost, item.lot.reference) == (D("3.20"), product.lot.reference)
    assert len(seen) == 1 and "catalog_state" in seen[0]


def test_each_catalogue_change_is_seen_by_the_next_order(session, buyer, member):
    product = make_product(session, sku="MC-MAIL", cost="3.20")
    session.commit()
    assert place(session, buyer, member, "MC-MAIL").lines[0].supplier_cost == D("3.20")

    product.active = False
    session.commit()
    assert refusal(session, buyer, member, "MC-MAIL") == {
        "lines[0].sku": ["MC-MAIL is no longer offered"]
    }

    product.active = True
    market = product.lot.market
    market.end_date = date(2026, 1, 10)
    session.commit()
    [message] = refusal(session, buyer, member, "MC-MAIL")["lines[0].sku"]
    assert message.endswith(f"to 2026-01-10, not on {ORDER_DATE.isoformat()}")

    market.end_date = date(2030, 12, 31)
    product.name = "Messagerie renommée"
    session.commit()
    assert place(session, buyer, member, "MC-MAIL").lines[0].designation == ("Messagerie renommée")

    # A SKU asked for before its product existed.
    assert refusal(session, buyer, member, "MC-NEW") == {"lines[0].sku": ["no product 'MC-NEW'"]}
    make_product(session, sku="MC-NEW", cost="7.00")
    session.commit()
    assert place(session, buyer, member, "MC-NEW").lines[0].supplier_cost == D("7.00")


def test_a_catalogue_change_rolled_back_leaves_what_it_replaced(session):
    product = make_product(session, sku="MC-MAIL", name="Messagerie")
    session.commit()
    assert orderable_products(session, ["MC-MAIL"], ORDER_DATE)["MC-MAIL"].name == "Messagerie"
    product.name = "Jamais votée"
    session.flush()
    assert orderable_products(session, ["MC-MAIL"], ORDER_DATE)["MC-MAIL"].name == "Jamais votée"
    session.rollback()
    assert orderable_products(session, ["MC-MAIL"], ORDER_DATE)["MC-MAIL"].name == "Messagerie"


def test_an_order_line_cites_its_market_lot_as_the_catalogue_does(session, buyer, member):
    product = make_product(session, sku="MC-MAIL")
    session.commit()
    order = place(session, buyer, member, "MC-MAIL")
    assert order.lines[0].market_reference == product.lot.reference
    session.expire_all()
    assert services.get_order(session, order.id, actor=buyer).lines[0].market_reference == (
        product.lot.reference
    )
