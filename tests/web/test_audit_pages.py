"""Auditors search the audit trail: who changed what, when, before and after."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from purchasing.audit.models import AuditRecord
from purchasing.audit.services import record_change
from purchasing.ledger import services as ledger_services
from tests.factories import make_member, make_user


def _record(session, *, at: datetime, actor=None, **kw) -> AuditRecord:
    record = record_change(session, actor=actor, **kw)
    record.at = at  # set before it is written: the trail is insert-only
    session.commit()
    return record


@pytest.fixture
def trail(session):
    """Three changes by two users in March 2025, and one by the system."""
    alice, _ = make_user(session, role="purchasing", email="alice@centrale.example")
    bob, _ = make_user(session, role="finance", email="bob@centrale.example")
    _record(
        session,
        at=datetime(2025, 3, 2, 9, 30, tzinfo=UTC),
        actor=alice,
        action="adhesion.activated",
        entity="adhesion",
        entity_id=41,
        before={"status": "requested"},
        after={"status": "active"},
    )
    _record(
        session,
        at=datetime(2025, 3, 20, 23, 30, tzinfo=UTC),  # 21/03 at 00:30 in Paris
        actor=bob,
        action="invoice.issued",
        entity="invoice",
        entity_id=7,
        before={"status": "draft", "number": None},
        after={"status": "issued", "number": "FA-2026-000007"},
    )
    _record(
        session,
        at=datetime(2025, 3, 22, 8, 0, tzinfo=UTC),
        actor=bob,
        action="payment.recorded",
        entity="payment",
        entity_id=3,
        after={"amount": "288.00", "lines": [1, 2], "partial": False},
    )
    _record(
        session,
        at=datetime(2025, 3, 23, 6, 0, tzinfo=UTC),
        action="fiscal_year.opened",
        entity="fiscal_year",
        entity_id=2027,
        after={"status": "open"},
    )


def test_each_record_says_who_when_what_before_and_after(pages_as, trail):
    page = pages_as("auditor").get("/audit?entity=invoice")

    assert page.status_code == 200
    row = _row_of(page.text, "<code>invoice.issued</code>")
    assert "bob@centrale.example" in row
    assert "21/03/2025 à 00:30:00" in row  # read in Paris time
    assert "Facture n° 7" in row
    assert "<dt>number</dt><dd><del>—</del> → <ins>FA-2026-000007</ins></dd>" in row
    assert "<dt>status</dt><dd><del>draft</del> → <ins>issued</ins></dd>" in row


def test_a_creation_shows_its_values_and_the_system_as_author(pages_as, trail):
    page = pages_as("admin").get("/audit")

    payment = _row_of(page.text, "<code>payment.recorded</code>")
    assert "<dt>amount</dt><dd><ins>288.00</ins></dd>" in payment
    assert "<dt>lines</dt><dd><ins>[1, 2]</ins></dd>" in payment
    assert "<dt>partial</dt><dd><ins>non</ins></dd>" in payment
    assert "système" in _row_of(page.text, "<code>fiscal_year.opened</code>")


def test_records_are_newest_first_and_paginated(pages_as, trail):
    auditor = pages_as("auditor")
    march = "date_from=2025-03-01&date_to=2025-03-31&per_page=2"

    first = auditor.get(f"/audit?{march}")

    assert "4 résultats · page 1 sur 2" in first.text
    assert first.text.index("<code>fiscal_year.opened") < first.text.index("<code>payment.rec")
    assert "<code>invoice.issued</code>" not in first.text
    second = auditor.get(f"/audit?{march}&page=2")
    assert "<code>invoice.issued</code>" in second.text
    assert "<code>adhesion.activated</code>" in second.text


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("entity=adhesion&entity_id=41", {"adhesion.activated"}),
        ("entity=adhesion&entity_id=42", set()),
        ("action=payment.recorded", {"payment.recorded"}),
        ("actor=BOB@centrale.example", {"invoice.issued", "payment.recorded"}),
        # Days are Paris days, both ends included: 21/03 starts at 23:00 UTC on the 20th.
        ("date_from=2025-03-21&date_to=2025-03-22", {"invoice.issued", "payment.recorded"}),
        ("date_to=2025-03-20", {"adhesion.activated"}),
    ],
)
def test_the_trail_filters(pages_as, trail, query, found):
    page = pages_as("auditor").get(f"/audit?{query}")

    actions = {"adhesion.activated", "invoice.issued", "payment.recorded", "fiscal_year.opened"}
    assert {action for action in actions if f"<code>{action}</code>" in page.text} == found
    if not found:
        assert "Aucune trace ne correspond à ces critères." in page.text


def test_a_bad_user_is_named_and_the_other_filters_still_apply(pages_as, trail):
    page = pages_as("auditor").get("/audit?actor=bob&entity=payment")

    assert page.status_code == 200
    assert "Saisissez une adresse e-mail valide." in page.text
    assert 'value="bob"' in page.text  # what was typed stays in its box
    assert "<code>payment.recorded</code>" in page.text
    assert "<code>invoice.issued</code>" not in page.text


def test_days_in_the_wrong_order_are_named_on_the_end(pages_as, trail):
    page = pages_as("auditor").get("/audit?date_from=2025-03-22&date_to=2025-03-01")

    assert "La date de fin précède la date de début." in page.text
    assert 'value="2025-03-01"' in page.text
    # The start still applies: the records from 22/03 on.
    assert "<code>payment.recorded</code>" in page.text
    assert "<code>adhesion.activated</code>" not in page.text


def test_the_entity_filter_offers_french_names(pages_as, trail):
    page = pages_as("auditor").get("/audit?entity=invoice")
    assert '<option value="invoice" selected>Facture</option>' in page.text
    assert '<option value="fiscal_year">Exercice comptable</option>' in page.text


def test_a_real_change_is_found_by_its_entity(pages_as, session):
    """A fiscal year opened through its service appears in the trail."""
    finance, _ = make_user(session, role="finance", email="carla@centrale.example")
    ledger_services.open_fiscal_year(session, 2033, actor=finance)

    page = pages_as("auditor").get("/audit?entity=fiscal_year&entity_id=2033")

    row = _row_of(page.text, "<code>fiscal_year.opened</code>")
    assert "carla@centrale.example" in row
    assert "<dt>status</dt><dd><ins>open</ins></dd>" in row


@pytest.mark.parametrize("role", ["finance", "purchasing", "member"])
def test_other_roles_may_not_read_the_trail(pages_as, session, role):
    user = pages_as(role, member=make_member(session)) if role == "member" else pages_as(role)
    assert user.get("/audit").status_code == 403


def _row_of(html: str, marker: str) -> str:
    at = html.index(marker)
    return html[html.rindex("<tr", 0, at) : html.index("</tr>", at)]
