"""Deliberated tariffs: a price version is put in force only with the deliberation that set
it, and every order line keeps that deliberation for the documents that cite it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from purchasing.audit.models import AuditRecord
from purchasing.catalog.deliberations import Deliberation, NotADeliberation, date_clashes
from purchasing.catalog.models import PriceVersion, PriceVersionStatus
from purchasing.catalog.services import (
    DeliberationDateClash,
    DeliberationRequired,
    NoPriceInForce,
    PriceVersionOverlap,
    activate_price_version,
    add_price_version,
    price_on,
)
from purchasing.errors import Conflict, NotFound
from tests.factories import make_order, make_product, make_user
from tests.factories.catalog import TARIFF_DELIBERATION

D = Decimal
VOTE_2026 = Deliberation("2025-38", date(2025, 12, 9))


@pytest.fixture
def buyer(session):
    return make_user(session, role="purchasing")[0]


@pytest.fixture
def mailbox(session):
    """3.20 from 2025-01-01, open-ended, in force by the factory's deliberation."""
    return make_product(session, sku="MC-MAIL", cost="3.20")


def versions(session) -> int:
    return session.scalar(select(func.count()).select_from(PriceVersion))


# --- the value --------------------------------------------------------------------------


def test_a_deliberation_is_cited_as_french_acts_cite_it():
    deliberation = Deliberation.parse("  2024-17 du 12/03/2024 ")
    assert deliberation == Deliberation("2024-17", date(2024, 3, 12))
    assert str(deliberation) == "2024-17 du 12/03/2024"
    assert Deliberation.parse("CS 2024/17 bis du 1/3/2024").reference == "CS 2024/17 bis"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2024-17", 'write the reference, then " du " and the date'),
        ("2024-17 du 2024-03-12", 'write the reference, then " du " and the date'),
        ("2024-17 du 30/02/2024", "no such date: 30/02/2024"),
        (" du 12/03/2024", 'write the reference, then " du " and the date'),
    ],
)
def test_a_deliberation_not_cited_so_is_refused_saying_how(text, message):
    with pytest.raises(NotADeliberation, match=message):
        Deliberation.parse(text)


def test_one_reference_with_two_dates_is_a_clash():
    clashes = date_clashes(
        [VOTE_2026, Deliberation("2025-38", date(2025, 12, 10)), TARIFF_DELIBERATION]
    )
    assert clashes == {"2025-38": {date(2025, 12, 9), date(2025, 12, 10)}}


# --- prices in force only with their deliberation -----------------------------------------


def test_prices_without_their_deliberation_are_not_put_in_force(session, mailbox):
    before = versions(session)
    with pytest.raises(DeliberationRequired) as refused:
        add_price_version(
            session, "MC-MAIL", valid_from=date(2026, 1, 1), supplier_cost=D("3.40"),
            added_by=None,
        )  # fmt: skip
    assert list(refused.value.errors) == ["deliberation"]
    assert "required to put prices in force" in refused.value.message
    assert versions(session) == before
    assert mailbox.price_versions[0].valid_to is None  # the current version is not closed


def test_a_draft_prices_nothing_until_it_is_activated(session, buyer, mailbox):
    draft = add_price_version(
        session, "MC-MAIL", valid_from=date(2026, 1, 1), supplier_cost=D("3.40"), draft=True,
        added_by=buyer,
    )  # fmt: skip

    assert (draft.status, draft.deliberation) == (PriceVersionStatus.DRAFT, None)
    assert mailbox.price_versions[0].valid_to is None
    assert price_on(session, mailbox.id, date(2026, 6, 1)).supplier_cost == D("3.20")

    activated = activate_price_version(
        session, draft.id, deliberation=VOTE_2026, activated_by=buyer
    )

    assert (activated.status, activated.deliberation) == (PriceVersionStatus.ACTIVE, VOTE_2026)
    assert mailbox.price_versions[0].valid_to == date(2025, 12, 31)
    quote = price_on(session, mailbox.id, date(2026, 6, 1))
    assert (quote.supplier_cost, quote.deliberation) == (D("3.40"), VOTE_2026)
    record = session.scalars(
        select(AuditRecord).where(
            AuditRecord.action == "price_version.activated", AuditRecord.entity_id == str(draft.id)
        )
    ).one()
    assert (record.actor_id, record.before, record.after) == (
        buyer.id,
        {"status": "draft", "deliberation_reference": None, "deliberation_date": None},
        {
            "status": "active",
            "deliberation_reference": "2025-38",
            "deliberation_date": "2025-12-09",
        },
    )


def test_a_draft_without_a_deliberation_cannot_be_activated(session, mailbox):
    draft = add_price_version(
        session, "MC-MAIL", valid_from=date(2026, 1, 1), supplier_cost=D("3.40"), draft=True,
        added_by=None,
    )  # fmt: skip
    with pytest.raises(DeliberationRequired) as refused:
        activate_price_version(session, draft.id, activated_by=None)
    assert list(refused.value.errors) == ["deliberation"]
    session.expire_all()
    assert session.get(PriceVersion, draft.id).status is PriceVersionStatus.DRAFT
    # Still the 2025 prices in 2026: the current version was not closed either.
    assert price_on(session, mailbox.id, date(2026, 6, 1)).supplier_cost == D("3.20")


def test_a_product_whose_only_version_is_a_draft_has_no_price(session):
    product = make_product(session, price_status="draft", deliberation=None)
    with pytest.raises(NoPriceInForce):
        price_on(session, product.id, date(2025, 6, 1))


def test_a_draft_recorded_with_its_deliberation_is_activated_as_is(session, mailbox):
    draft = add_price_version(
        session, "MC-MAIL", valid_from=date(2026, 1, 1), supplier_cost=D("3.40"), draft=True,
        deliberation=VOTE_2026, added_by=None,
    )  # fmt: skip
    assert activate_price_version(session, draft.id, activated_by=None).deliberation == VOTE_2026


def test_activation_follows_the_rules_of_prices_in_force(session, mailbox):
    closed = add_price_version(
        session, "MC-MAIL", valid_from=date(2026, 1, 1), supplier_cost=D("3.40"),
        deliberation=VOTE_2026, added_by=None,
    )  # fmt: skip
    inside = add_price_version(
        session, "MC-MAIL", valid_from=date(2025, 6, 1), valid_to=date(2025, 6, 30),
        supplier_cost=D("3.00"), draft=True, added_by=None,
    )  # fmt: skip
    with pytest.raises(PriceVersionOverlap):
        activate_price_version(session, inside.id, deliberation=VOTE_2026, activated_by=None)
    with pytest.raises(Conflict, match="already in force") as twice:
        activate_price_version(session, closed.id, activated_by=None)
    assert list(twice.value.errors) == ["status"]
    with pytest.raises(NotFound):
        activate_price_version(session, 999_999, deliberation=VOTE_2026, activated_by=None)


def test_a_reference_recorded_with_another_date_is_refused(session, mailbox):
    misdated = Deliberation(TARIFF_DELIBERATION.reference, date(2024, 12, 11))
    with pytest.raises(DeliberationDateClash) as refused:
        add_price_version(
            session, "MC-MAIL", valid_from=date(2026, 1, 1), supplier_cost=D("3.40"),
            deliberation=misdated, added_by=None,
        )  # fmt: skip
    assert refused.value.errors == {
        "deliberation": [
            "deliberation T-2024-50 is recorded as adopted on 2024-12-10, not 2024-12-11"
        ]
    }


def test_the_database_refuses_a_version_in_force_without_deliberation(session, mailbox):
    version = mailbox.price_versions[0]
    version.deliberation = None
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


# --- the deliberation travels with the order line -----------------------------------------


def test_an_order_line_keeps_the_deliberation_of_its_prices(session, mailbox):
    add_price_version(
        session, "MC-MAIL", valid_from=date(2026, 1, 1), supplier_cost=D("3.40"),
        deliberation=VOTE_2026, added_by=None,
    )  # fmt: skip
    old = make_order(session, lines=[mailbox], order_date=date(2025, 11, 3))
    new = make_order(session, lines=[mailbox], order_date=date(2026, 1, 15))

    assert old.lines[0].deliberation == TARIFF_DELIBERATION
    assert (new.lines[0].deliberation_reference, new.lines[0].deliberation_date) == (
        "2025-38", date(2025, 12, 9),
    )  # fmt: skip
    assert str(new.lines[0].deliberation) == "2025-38 du 09/12/2025"
