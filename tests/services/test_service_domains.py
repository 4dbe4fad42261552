"""Service domains à la carte: a member joins the domains it wants, each by a deliberation of
its council and from its own date, and orders only in the domains it has joined."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from purchasing.audit.models import AuditRecord
from purchasing.catalog.models import ServiceDomain
from purchasing.errors import Conflict, NotFound, ValidationFailed
from purchasing.fields import today_in_paris
from purchasing.members import services as members
from purchasing.members.models import AdhesionStatus
from purchasing.members.services import ServiceDomainNotJoined
from purchasing.orders import services
from purchasing.orders.models import OrderStatus
from purchasing.orders.services import LineInput
from tests.factories import catalog_family, make_member, make_order, make_product, make_user

D = Decimal
VIDEO = ServiceDomain.VIDEO_PROTECTION
MAIRIE = ServiceDomain.MAIRIE_CONNECTEE
TODAY = today_in_paris()
pytestmark = pytest.mark.usefixtures("fresh_today")


@pytest.fixture
def buyer(session):
    return make_user(session, role="purchasing")[0]


@pytest.fixture
def member(session):
    """An active member that joined Mairie Connectée only."""
    return make_member(session, name="Commune d'Esquelbecq", service_domains=[MAIRIE])


@pytest.fixture
def camera(session):
    return make_product(
        session,
        sku="VID-CAM",
        family=catalog_family(session, "video_protection"),
        billing="one_off",
    )


def join(session, member, domain=VIDEO, start=date(2026, 1, 1), actor=None, **kw):
    return members.join_service_domain(
        session,
        member.id,
        domain=domain,
        start_date=start,
        deliberation_reference=kw.pop("reference", "DEL-2025-088"),
        deliberation_date=kw.pop("deliberation_date", date(2025, 12, 15)),
        actor=actor,
    )


# --- joining and leaving ------------------------------------------------------------------


def test_a_member_joins_a_domain_by_its_councils_deliberation(session, buyer, member):
    row = join(session, member, actor=buyer)

    assert (row.domain, row.start_date, str(row.deliberation)) == (
        VIDEO, date(2026, 1, 1), "DEL-2025-088 du 15/12/2025",
    )  # fmt: skip
    assert member.has_joined(VIDEO, date(2026, 1, 1))
    assert not member.has_joined(VIDEO, date(2025, 12, 31))
    assert [r.domain for r in members.list_service_domains(session, member.id, actor=buyer)] == [
        MAIRIE,
        VIDEO,
    ]
    record = session.scalars(
        select(AuditRecord).where(AuditRecord.action == "service_domain.joined")
    ).one()
    assert (record.entity_id, record.actor_id) == (str(row.id), buyer.id)


def test_a_domain_already_joined_is_refused(session, member):
    with pytest.raises(Conflict) as refused:
        join(session, member, domain=MAIRIE)
    assert list(refused.value.errors) == ["domain"]
    assert "already in mairie_connectee since 2023-03-01" in refused.value.message


def test_a_start_before_the_deliberation_is_refused(session, member):
    with pytest.raises(ValidationFailed) as refused:
        join(session, member, start=date(2025, 12, 1))
    assert refused.value.errors == {
        "start_date": ["before the deliberation joining the domain (2025-12-15)"]
    }
    assert not member.has_joined(VIDEO, date(2026, 6, 1))


def test_a_member_without_a_live_adhesion_joins_no_domain(session):
    withdrawn = make_member(session, adhesion_status=AdhesionStatus.WITHDRAWN, service_domains=[])
    never = make_member(session, adhesion_status=None, service_domains=[])
    for outsider in (withdrawn, never):
        with pytest.raises(Conflict) as refused:
            join(session, outsider)
        assert list(refused.value.errors) == ["domain"]
        assert "does not adhere to the centre" in refused.value.message
        assert outsider.service_domains == []


def test_a_member_leaves_a_domain_and_may_join_it_again_later(session, buyer, member):
    left = members.leave_service_domain(
        session, member.id, MAIRIE, end_date=date(2026, 3, 31), reason="reprise en régie",
        actor=buyer,
    )  # fmt: skip
    assert (left.end_date, left.end_reason) == (date(2026, 3, 31), "reprise en régie")
    assert member.has_joined(MAIRIE, date(2026, 3, 31))
    assert not member.has_joined(MAIRIE, date(2026, 4, 1))

    with pytest.raises(ValidationFailed) as refused:
        join(session, member, domain=MAIRIE, start=date(2026, 3, 31))
    assert list(refused.value.errors) == ["start_date"]

    again = join(session, member, domain=MAIRIE, start=date(2026, 9, 1))
    assert member.service_domain(MAIRIE) is again
    assert not member.has_joined(MAIRIE, date(2026, 6, 1))
    assert member.has_joined(MAIRIE, date(2026, 9, 1))


def test_leaving_is_refused_when_not_in_the_domain_or_before_joining(session, member):
    with pytest.raises(Conflict) as never:
        members.leave_service_domain(session, member.id, VIDEO, end_date=TODAY, actor=None)
    assert never.value.errors == {"domain": ["Commune d'Esquelbecq never joined video_protection"]}

    with pytest.raises(ValidationFailed) as early:
        members.leave_service_domain(
            session, member.id, MAIRIE, end_date=date(2023, 2, 28), actor=None
        )
    assert list(early.value.errors) == ["end_date"]

    members.leave_service_domain(session, member.id, MAIRIE, end_date=TODAY, actor=None)
    with pytest.raises(Conflict, match="already left"):
        members.leave_service_domain(session, member.id, MAIRIE, end_date=TODAY, actor=None)


def test_a_member_user_sees_its_own_domains_only(session, member):
    agent, _ = make_user(session, role="member", member=member)
    other = make_member(session)
    assert len(members.list_service_domains(session, member.id, actor=agent)) == 1
    with pytest.raises(NotFound):
        members.list_service_domains(session, other.id, actor=agent)


# --- ordering within the domains joined -----------------------------------------------------


def test_a_line_of_a_domain_not_joined_is_refused_on_the_product(session, member, camera):
    order = make_order(session, member=member, lines=[])

    with pytest.raises(ServiceDomainNotJoined) as refused:
        services.add_order_line(session, order.id, sku="VID-CAM", quantity=D(2), actor=None)

    assert refused.value.errors == {
        "sku": [
            "Commune d'Esquelbecq may not order in the Vidéoprotection domain "
            "(video_protection) on 2026-01-15: it has not joined it"
        ]
    }
    session.expire_all()
    assert order.lines == []


def test_a_new_order_names_the_line_outside_the_domains(session, member, camera):
    mailbox = make_product(
        session, sku="MC-MAIL", family=catalog_family(session, "mairie_connectee")
    )
    with pytest.raises(ValidationFailed) as refused:
        services.create_order(
            session,
            actor=None,
            member_id=member.id,
            order_date=date(2026, 1, 15),
            lines=[LineInput(mailbox.sku, D(1)), LineInput("VID-CAM", D(1))],
        )
    assert list(refused.value.errors) == ["lines[1].sku"]


def test_a_line_dated_before_the_member_joined_is_refused(session, member, camera):
    join(session, member, start=date(2026, 2, 1))
    order = make_order(session, member=member, lines=[], order_date=date(2026, 1, 31))
    with pytest.raises(ServiceDomainNotJoined, match="it joined it from 2026-02-01"):
        services.add_order_line(session, order.id, sku="VID-CAM", quantity=D(1), actor=None)
    later = make_order(session, member=member, lines=[camera], order_date=date(2026, 2, 1))
    assert [line.sku for line in later.lines] == ["VID-CAM"]


def test_a_member_that_left_the_domain_cannot_submit_its_draft(session, buyer, member, camera):
    join(session, member)
    order = make_order(session, member=member, lines=[camera], order_date=date(2026, 1, 15))
    members.leave_service_domain(session, member.id, VIDEO, end_date=date(2026, 2, 28), actor=buyer)

    with pytest.raises(ValidationFailed) as refused:
        services.submit_order(session, order.id, actor=None)

    assert refused.value.errors == {
        "lines": [
            "VID-CAM: Commune d'Esquelbecq may not order in the Vidéoprotection domain "
            f"(video_protection) on {TODAY.isoformat()}: it left it on 2026-02-28"
        ]
    }
    session.expire_all()
    assert order.status is OrderStatus.DRAFT


def test_a_member_of_every_domain_orders_anything(session, camera):
    everywhere = make_member(session)  # factory members join every domain
    order = make_order(session, member=everywhere, lines=[camera], status=OrderStatus.APPROVED)
    assert order.status is OrderStatus.APPROVED
