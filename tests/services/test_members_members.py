"""Registering, changing, finding and listing members, on a real database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from purchasing.audit.models import AuditRecord
from purchasing.errors import Conflict, NotFound, ValidationFailed
from purchasing.members import services
from purchasing.members.models import AdhesionStatus, Member, MemberKind
from purchasing.members.services import MemberFilters
from tests.factories import make_member, make_user
from tests.factories.members import siret_for

ARRAS = {
    "name": "Commune d'Arras",
    "kind": MemberKind.COMMUNE,
    "siret": "21620041000019",
    "insee_code": "62041",
    "population": 41555,
    "departement_code": "62",
    "address_line1": "Hôtel de Ville",
    "address_line2": "Place des Héros",
    "postal_code": "62000",
    "city": "Arras",
    "billing_email": "factures@ville-arras.fr",
    "chorus_service_code": "FINANCES",
    "chorus_engagement_required": True,
    "vat_number": None,
}


@pytest.fixture
def staff(session):
    user, _token = make_user(session, role="purchasing", email="achats@centrale.example")
    return user


def audit_of(session, entity: str, entity_id: int) -> list[AuditRecord]:
    query = (
        select(AuditRecord)
        .where(AuditRecord.entity == entity, AuditRecord.entity_id == str(entity_id))
        .order_by(AuditRecord.id)
    )
    return list(session.scalars(query))


def count_members(session) -> int:
    return session.scalar(select(func.count()).select_from(Member))


class TestCreate:
    def test_registers_the_member_and_audits_it(self, session, staff):
        member = services.create_member(session, ARRAS, actor=staff)

        stored = session.get(Member, member.id)
        assert stored.siret == "21620041000019"
        assert stored.siren == "216200410"
        assert stored.current_adhesion is None
        [record] = audit_of(session, "member", member.id)
        assert (record.action, record.actor_id, record.before) == ("member.created", staff.id, None)
        assert record.after["siret"] == "21620041000019"
        assert record.after["kind"] == "commune"

    def test_normalises_identifiers_given_loosely(self, session, staff):
        member = services.create_member(
            session,
            {**ARRAS, "siret": "216 200 410 00019", "vat_number": "fr 72 216 200 410"},
            actor=staff,
        )
        assert (member.siret, member.vat_number) == ("21620041000019", "FR72216200410")

    def test_a_siret_already_registered_is_a_conflict(self, session, staff):
        services.create_member(session, ARRAS, actor=staff)
        with pytest.raises(Conflict) as refused:
            services.create_member(session, {**ARRAS, "name": "Doublon"}, actor=staff)
        assert list(refused.value.errors) == ["siret"]
        assert count_members(session) == 1

    @pytest.mark.parametrize(
        ("changes", "field", "message"),
        [
            ({"siret": "21620041000018"}, "siret", "invalid SIRET (checksum)"),
            ({"insee_code": None}, "insee_code", "required for a commune"),
            ({"departement_code": "59"}, "insee_code", "not a commune of département 59"),
            ({"vat_number": "FR2520005374"}, "vat_number", "invalid VAT number (length)"),
            (
                {"vat_number": "FR25200053742"},
                "vat_number",
                "a French VAT number must carry the SIREN 216200410",
            ),
            ({"population": -3}, "population", "a whole number, 0 or more"),
        ],
    )
    def test_refuses_inconsistent_data_naming_the_field(
        self, session, staff, changes, field, message
    ):
        with pytest.raises(ValidationFailed) as refused:
            services.create_member(session, {**ARRAS, **changes}, actor=staff)
        assert refused.value.errors[field] == [message]
        assert count_members(session) == 0
        assert (
            session.scalar(
                select(func.count()).select_from(AuditRecord).where(AuditRecord.entity == "member")
            )
            == 0
        )


class TestUpdate:
    def test_changes_fields_and_audits_only_what_changed(self, session, staff):
        member = make_member(session, population=1200, chorus_service_code=None)

        services.update_member(
            session,
            member.id,
            {"population": 1250, "chorus_service_code": "MAIRIE", "city": member.city},
            actor=staff,
        )

        session.expire_all()
        assert (member.population, member.chorus_service_code) == (1250, "MAIRIE")
        [record] = audit_of(session, "member", member.id)
        assert record.action == "member.updated"
        assert record.before == {"population": 1200, "chorus_service_code": None}
        assert record.after == {"population": 1250, "chorus_service_code": "MAIRIE"}

    def test_a_change_breaking_a_rule_changes_nothing(self, session, staff):
        member = make_member(session, kind=MemberKind.EPCI, population=20000)
        with pytest.raises(ValidationFailed) as refused:
            services.update_member(
                session, member.id, {"kind": MemberKind.COMMUNE, "population": 1}, actor=staff
            )
        assert refused.value.errors == {"insee_code": ["required for a commune"]}
        session.expire_all()
        assert (member.kind, member.population) == (MemberKind.EPCI, 20000)
        assert audit_of(session, "member", member.id) == []

    def test_taking_another_members_siret_is_a_conflict(self, session, staff):
        first, second = make_member(session), make_member(session)
        with pytest.raises(Conflict) as refused:
            services.update_member(session, second.id, {"siret": first.siret}, actor=staff)
        assert refused.value.errors == {"siret": [f"already the SIRET of member {first.id}"]}
        session.expire_all()
        assert second.siret != first.siret

    def test_an_unchanged_member_leaves_no_audit_record(self, session, staff):
        member = make_member(session)
        services.update_member(session, member.id, {"name": member.name}, actor=staff)
        assert audit_of(session, "member", member.id) == []

    def test_an_unknown_member_is_not_found(self, session, staff):
        with pytest.raises(NotFound):
            services.update_member(session, 999_999, {"population": 1}, actor=staff)


class TestVisibility:
    def test_a_member_user_sees_its_own_member(self, session):
        mine = make_member(session)
        agent, _ = make_user(session, role="member", member=mine)
        assert services.get_member(session, mine.id, actor=agent) is mine

    def test_another_members_id_is_not_found_for_a_member_user(self, session):
        mine, theirs = make_member(session), make_member(session)
        agent, _ = make_user(session, role="member", member=mine)
        with pytest.raises(NotFound) as hidden:
            services.get_member(session, theirs.id, actor=agent)
        with pytest.raises(NotFound) as missing:
            services.get_member(session, 999_999, actor=make_user(session, role="finance")[0])
        # The same answer as for an id that does not exist: nothing to learn from it.
        assert hidden.value.message == f"no member with id {theirs.id}"
        assert missing.value.message == "no member with id 999999"

    def test_a_member_user_lists_only_itself(self, session):
        mine = make_member(session)
        make_member(session)
        agent, _ = make_user(session, role="member", member=mine)
        page = services.list_members(session, actor=agent)
        assert (page.items, page.total) == ([mine], 1)


class TestList:
    @pytest.fixture
    def members(self, session):
        return {
            "arras": make_member(
                session,
                name="Commune d'Arras",
                departement_code="62",
                insee_code="62041",
                city="Arras",
                siret=siret_for(9101),
            ),
            "bailleul": make_member(
                session,
                name="Commune de Bailleul",
                insee_code="59043",
                city="Bailleul",
                adhesion_status=AdhesionStatus.SUSPENDED,
            ),
            "ccfi": make_member(
                session,
                name="CC de Flandre Intérieure",
                kind=MemberKind.EPCI,
                city="Hazebrouck",
                adhesion_status=AdhesionStatus.REQUESTED,
            ),
            "former": make_member(
                session,
                name="Syndicat dissous",
                kind=MemberKind.SYNDICAT,
                adhesion_status=AdhesionStatus.WITHDRAWN,
            ),
            "never": make_member(session, name="Commune sans adhésion", adhesion_status=None),
        }

    def names(self, session, **filters) -> list[str]:
        page = services.list_members(session, actor=None, filters=MemberFilters(**filters))
        return [member.name for member in page.items]

    def test_lists_every_member_by_name(self, session, members):
        assert self.names(session) == sorted(m.name for m in members.values())

    def test_filters_by_kind_and_departement(self, session, members):
        assert self.names(session, kind=MemberKind.EPCI) == ["CC de Flandre Intérieure"]
        assert self.names(session, departement_code="62") == ["Commune d'Arras"]

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            (AdhesionStatus.ACTIVE, ["Commune d'Arras"]),
            (AdhesionStatus.SUSPENDED, ["Commune de Bailleul"]),
            (AdhesionStatus.REQUESTED, ["CC de Flandre Intérieure"]),
            (AdhesionStatus.WITHDRAWN, ["Syndicat dissous"]),
        ],
    )
    def test_filters_by_current_adhesion_status(self, session, members, status, expected):
        assert self.names(session, adhesion_status=status) == expected

    def test_a_member_that_rejoined_is_no_longer_withdrawn(self, session, members):
        services.request_adhesion(
            session,
            members["former"].id,
            requested_on=members["former"].adhesions[0].end_date,
            actor=None,
        )
        assert self.names(session, adhesion_status=AdhesionStatus.WITHDRAWN) == []
        assert "Syndicat dissous" in self.names(session, adhesion_status=AdhesionStatus.REQUESTED)

    @pytest.mark.parametrize(
        ("q", "expected"),
        [
            ("bailleul", ["Commune de Bailleul"]),
            ("hazebrouck", ["CC de Flandre Intérieure"]),
            ("62041", ["Commune d'Arras"]),
            (siret_for(9101)[:9], ["Commune d'Arras"]),
            ("100%", []),
        ],
    )
    def test_searches_name_city_siret_and_insee_code(self, session, members, q, expected):
        assert self.names(session, q=q) == expected

    def test_paginates_and_counts_every_match(self, session, members):
        page = services.list_members(session, actor=None, page=2, per_page=2)
        assert page.total == 5
        assert [m.name for m in page.items] == sorted(m.name for m in members.values())[2:4]
