"""The adhesion lifecycle through the services, on a real database."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from purchasing.audit.models import AuditRecord
from purchasing.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from purchasing.members import services
from purchasing.members.models import Adhesion, AdhesionStatus
from purchasing.members.services import AdhesionNotActive
from tests.factories import make_member, make_user

CONVENTION = {
    "convention_number": "CONV-2023-014",
    "deliberation_reference": "DEL-2023-045",
    "deliberation_date": date(2023, 4, 11),
    "start_date": date(2023, 6, 1),
}


@pytest.fixture
def staff(session):
    return make_user(session, role="purchasing")[0]


def adhesion_audit(session, adhesion_id: int) -> list[AuditRecord]:
    query = (
        select(AuditRecord)
        .where(AuditRecord.entity == "adhesion", AuditRecord.entity_id == str(adhesion_id))
        .order_by(AuditRecord.id)
    )
    return list(session.scalars(query))


def stored_status(session, adhesion_id: int) -> AdhesionStatus:
    return session.scalar(select(Adhesion.status).where(Adhesion.id == adhesion_id))


def test_a_member_goes_through_the_whole_lifecycle(session, staff):
    member = make_member(session, adhesion_status=None)

    adhesion = services.request_adhesion(
        session, member.id, requested_on=date(2023, 3, 20), actor=staff
    )
    services.activate_adhesion(session, member.id, actor=staff, **CONVENTION)
    services.suspend_adhesion(session, member.id, reason="titres impayés 2024", actor=staff)
    services.activate_adhesion(session, member.id, actor=staff)
    services.withdraw_adhesion(
        session,
        member.id,
        end_date=date(2025, 12, 31),
        reason="délibération de retrait",
        actor=staff,
    )

    session.expire_all()
    assert (adhesion.status, adhesion.end_date) == (AdhesionStatus.WITHDRAWN, date(2025, 12, 31))
    assert adhesion.convention_number == "CONV-2023-014"
    records = adhesion_audit(session, adhesion.id)
    assert [r.action for r in records] == [
        "adhesion.requested",
        "adhesion.activated",
        "adhesion.suspended",
        "adhesion.reinstated",
        "adhesion.withdrawn",
    ]
    assert {r.actor_id for r in records} == {staff.id}
    assert records[2].before == {"status": "active", "status_reason": None}
    assert records[2].after == {"status": "suspended", "status_reason": "titres impayés 2024"}


def test_a_request_can_be_abandoned(session, staff):
    member = make_member(session, adhesion_status=AdhesionStatus.REQUESTED)
    adhesion = services.withdraw_adhesion(
        session, member.id, end_date=date(2023, 9, 1), reason="délibération rejetée", actor=staff
    )
    assert stored_status(session, adhesion.id) is AdhesionStatus.WITHDRAWN


def test_a_request_may_record_the_deliberation_used_at_activation(session, staff):
    member = make_member(session, adhesion_status=None)
    services.request_adhesion(
        session,
        member.id,
        requested_on=date(2023, 4, 12),
        deliberation_reference="DEL-2023-045",
        deliberation_date=date(2023, 4, 11),
        actor=staff,
    )
    adhesion = services.activate_adhesion(
        session,
        member.id,
        convention_number="CONV-2023-014",
        start_date=date(2023, 6, 1),
        actor=staff,
    )
    assert (adhesion.status, adhesion.deliberation_reference) == (
        AdhesionStatus.ACTIVE,
        "DEL-2023-045",
    )


ILLEGAL_MOVES = [
    (AdhesionStatus.REQUESTED, "suspend"),
    (AdhesionStatus.ACTIVE, "activate"),
    (AdhesionStatus.SUSPENDED, "suspend"),
    (AdhesionStatus.WITHDRAWN, "activate"),
    (AdhesionStatus.WITHDRAWN, "suspend"),
    (AdhesionStatus.WITHDRAWN, "withdraw"),
]


def perform(session, action: str, member_id: int, actor) -> None:
    match action:
        case "activate":
            services.activate_adhesion(session, member_id, actor=actor, **CONVENTION)
        case "suspend":
            services.suspend_adhesion(session, member_id, reason="contrôle", actor=actor)
        case "withdraw":
            services.withdraw_adhesion(session, member_id, end_date=date(2026, 1, 1), actor=actor)


@pytest.mark.parametrize(("status", "action"), ILLEGAL_MOVES)
def test_an_illegal_transition_is_refused_and_changes_nothing(session, staff, status, action):
    member = make_member(session, adhesion_status=status)
    adhesion = member.current_adhesion
    before = (adhesion.status, adhesion.end_date, adhesion.status_reason)

    with pytest.raises(InvalidTransition) as refused:
        perform(session, action, member.id, staff)

    assert refused.value.status_code == 409
    assert refused.value.current == status.value
    session.expire_all()
    assert (adhesion.status, adhesion.end_date, adhesion.status_reason) == before
    assert adhesion_audit(session, adhesion.id) == []


def test_activation_without_the_convention_is_refused_field_by_field(session, staff):
    member = make_member(session, adhesion_status=AdhesionStatus.REQUESTED)
    with pytest.raises(ValidationFailed) as refused:
        services.activate_adhesion(
            session, member.id, convention_number="CONV-2023-014", actor=staff
        )
    assert set(refused.value.errors) == {
        "deliberation_reference",
        "deliberation_date",
        "start_date",
    }
    session.expire_all()
    assert member.current_adhesion.status is AdhesionStatus.REQUESTED
    assert member.current_adhesion.convention_number is None


def test_a_withdrawal_before_the_start_is_refused(session, staff):
    member = make_member(session, adhesion_start=date(2023, 3, 1))
    with pytest.raises(ValidationFailed) as refused:
        services.withdraw_adhesion(session, member.id, end_date=date(2023, 2, 28), actor=staff)
    assert refused.value.errors == {"end_date": ["before the start of the adhesion (2023-03-01)"]}
    assert stored_status(session, member.current_adhesion.id) is AdhesionStatus.ACTIVE


def test_acting_on_a_member_without_adhesion_is_a_conflict(session, staff):
    member = make_member(session, adhesion_status=None)
    with pytest.raises(Conflict) as refused:
        services.suspend_adhesion(session, member.id, reason="contrôle", actor=staff)
    assert list(refused.value.errors) == ["adhesion"]


class TestOneLiveAdhesion:
    @pytest.mark.parametrize(
        "status", [AdhesionStatus.REQUESTED, AdhesionStatus.ACTIVE, AdhesionStatus.SUSPENDED]
    )
    def test_no_second_request_while_one_is_live(self, session, staff, status):
        member = make_member(session, adhesion_status=status)
        with pytest.raises(Conflict) as refused:
            services.request_adhesion(
                session, member.id, requested_on=date(2025, 1, 6), actor=staff
            )
        assert refused.value.errors == {
            "adhesion": [f"the member already has an adhesion {status.value}"]
        }
        assert len(services.list_adhesions(session, member.id, actor=staff)) == 1

    def test_after_a_withdrawal_the_member_may_request_again(self, session, staff):
        member = make_member(session, adhesion_status=AdhesionStatus.WITHDRAWN)
        renewed = services.request_adhesion(
            session, member.id, requested_on=date(2025, 1, 6), actor=staff
        )
        adhesions = services.list_adhesions(session, member.id, actor=staff)
        assert [a.status for a in adhesions] == [AdhesionStatus.WITHDRAWN, AdhesionStatus.REQUESTED]
        assert member.current_adhesion is renewed

    def test_the_database_refuses_a_second_live_adhesion(self, session):
        # What protects the rule when two requests race past the service's check.
        member = make_member(session, adhesion_status=AdhesionStatus.ACTIVE)
        session.add(Adhesion(member_id=member.id, status=AdhesionStatus.REQUESTED))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()

    def test_the_database_allows_many_withdrawn_adhesions(self, session):
        member = make_member(session, adhesion_status=AdhesionStatus.WITHDRAWN)
        session.add(
            Adhesion(
                member_id=member.id, status=AdhesionStatus.WITHDRAWN, end_date=date(2025, 1, 1)
            )
        )
        session.add(Adhesion(member_id=member.id, status=AdhesionStatus.REQUESTED))
        session.flush()
        stored = select(func.count()).where(Adhesion.member_id == member.id)
        assert session.scalar(stored) == 3


class TestEnsureMemberCanOrder:
    def test_an_active_member_can_order_from_its_start_date(self, session):
        member = make_member(session, adhesion_start=date(2025, 3, 1))
        assert services.ensure_member_can_order(session, member.id, date(2025, 3, 1)) is member
        with pytest.raises(AdhesionNotActive) as refused:
            services.ensure_member_can_order(session, member.id, date(2025, 2, 28))
        assert refused.value.message == (
            f"only an active member can order: {member.name}: its adhesion starts on 2025-03-01"
        )

    @pytest.mark.parametrize(
        ("status", "why"),
        [
            (None, "has no adhesion"),
            (AdhesionStatus.REQUESTED, "its adhesion is requested, not yet active"),
            (AdhesionStatus.SUSPENDED, "its adhesion is suspended"),
            (AdhesionStatus.WITHDRAWN, "its adhesion ended on 2024-12-31"),
        ],
    )
    def test_any_other_member_cannot(self, session, status, why):
        member = make_member(session, adhesion_status=status)
        with pytest.raises(AdhesionNotActive) as refused:
            services.ensure_member_can_order(session, member.id, date(2025, 6, 1))
        assert why in refused.value.message
        assert refused.value.message.startswith("only an active member can order")
        assert refused.value.member_id == member.id
        assert refused.value.status_code == 422
        assert list(refused.value.errors) == ["member_id"]

    def test_a_suspended_member_can_order_again_once_reinstated(self, session):
        member = make_member(session, adhesion_status=AdhesionStatus.SUSPENDED)
        services.activate_adhesion(session, member.id, actor=None)
        assert services.ensure_member_can_order(session, member.id, date(2025, 6, 1)) is member

    def test_an_unknown_member_is_not_found(self, session):
        with pytest.raises(NotFound):
            services.ensure_member_can_order(session, 999_999, date(2025, 6, 1))


def test_a_member_user_cannot_reach_another_members_adhesions(session):
    mine, theirs = make_member(session), make_member(session)
    agent, _ = make_user(session, role="member", member=mine)
    assert len(services.list_adhesions(session, mine.id, actor=agent)) == 1
    with pytest.raises(NotFound):
        services.list_adhesions(session, theirs.id, actor=agent)
    with pytest.raises(NotFound):
        services.suspend_adhesion(session, theirs.id, reason="x", actor=agent)
    count = select(func.count()).select_from(AuditRecord).where(AuditRecord.entity == "adhesion")
    assert session.scalar(count) == 0
