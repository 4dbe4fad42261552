"""Defining a programme: the grant split to the cent, eligible products, VAT treatment,
and money settings frozen once money moved."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from purchasing.audit.models import AuditRecord
from purchasing.errors import Conflict, ValidationFailed
from purchasing.subsidies import services
from purchasing.subsidies.models import SubsidyPartner, SubsidyProgramme
from tests.factories import make_product, make_programme

D = Decimal


def test_a_programme_keeps_its_rules_partners_and_products(session):
    domain = make_product(session, sku="MC-DOMAINE", subsidy_eligible=True)
    site = make_product(session, sku="MC-SITE", subsidy_eligible=True)

    programme = make_programme(
        session, products=[site, domain], code="FEDER-MC-2024", aid_cap_per_unit=D("100.00")
    )

    assert programme.eligible_skus == ["MC-DOMAINE", "MC-SITE"]
    assert [(p.code, p.share) for p in programme.partners] == [
        ("CDG59", D("200.00")),
        ("CDG62", D("200.00")),
    ]
    assert (programme.grant_total, programme.envelope) == (D("1000.00"), D("600.00"))
    assert (programme.consumed, programme.remaining) == (D("0.00"), D("600.00"))
    assert programme.aid_in_vat_base is True
    assert programme.member_kinds == ["commune"]
    record = session.scalar(
        select(AuditRecord).where(AuditRecord.action == "subsidy_programme.created")
    )
    assert record.entity_id == str(programme.id)
    assert record.after["products"] == ["MC-DOMAINE", "MC-SITE"]
    assert record.after["partners"][0] == {
        "code": "CDG59",
        "name": "Centre de gestion du Nord",
        "share": "200.00",
    }


def test_the_aid_label_defaults_to_the_code(session):
    programme = make_programme(session, code="FEDER-X", aid_label=None)
    assert programme.aid_label == "FEDER-X"


def test_envelope_and_partner_shares_must_add_up_to_the_grant(session):
    with pytest.raises(ValidationFailed) as refused:
        make_programme(session, grant_total=D("1000.01"))
    assert refused.value.errors == {
        "partners": [
            "the envelope (600.00) and the partners' shares (400.00) must add up to the grant "
            "(1000.01); they add up to 1000.00"
        ]
    }
    assert session.scalar(select(func.count()).select_from(SubsidyProgramme)) == 0


def test_products_must_exist_and_be_marked_eligible(session):
    plain = make_product(session, sku="MC-VISIO", subsidy_eligible=False)
    with pytest.raises(ValidationFailed) as refused:
        make_programme(session, products=[plain], code="FEDER-Y")
    assert refused.value.errors == {
        "products": ["MC-VISIO is not marked subsidy_eligible in the catalogue"]
    }
    with pytest.raises(ValidationFailed) as refused:
        make_programme(session, products=[], code="FEDER-Y")
    assert refused.value.errors == {"products": ["at least one eligible product"]}


def test_an_incomplete_aid_rule_is_refused_by_field(session):
    with pytest.raises(ValidationFailed) as refused:
        make_programme(session, aid_rate=None, aid_cap_per_line=D(0))
    assert set(refused.value.errors) == {"aid_rate", "aid_cap_per_line"}


def test_a_code_is_taken_once(session):
    make_programme(session, code="FEDER-MC-2024")
    with pytest.raises(Conflict) as refused:
        make_programme(session, code="FEDER-MC-2024")
    assert refused.value.errors == {"code": ["a programme FEDER-MC-2024 already exists"]}


def test_programmes_in_force_together_share_their_vat_treatment(session):
    make_programme(session, code="FEDER-A")
    with pytest.raises(ValidationFailed) as refused:
        make_programme(session, code="FEDER-B", aid_in_vat_base=False)
    assert list(refused.value.errors) == ["aid_in_vat_base"]
    assert "FEDER-A, in force at the same time" in refused.value.message
    # Not at the same time: each its own treatment.
    later = make_programme(
        session,
        code="FEDER-C",
        aid_in_vat_base=False,
        period_start=date(2027, 1, 1),
        period_end=date(2027, 12, 31),
    )
    assert later.aid_in_vat_base is False


class TestUpdate:
    def test_before_any_money_moved_everything_but_the_code_may_change(self, session):
        programme = make_programme(session)
        other = make_product(session, subsidy_eligible=True)

        services.update_programme(
            session,
            programme.id,
            {
                "envelope": D("700.00"),
                "grant_total": D("1100.00"),
                "aid_rate": D("0.4000"),
                "products": [other.sku],
                "partners": [
                    {"code": "CDG59", "name": "CDG du Nord", "share": D("250.00")},
                    {"code": "CDG80", "name": "CDG de la Somme", "share": D("150.00")},
                ],
            },
            actor=None,
        )

        session.expire_all()
        programme = session.get(SubsidyProgramme, programme.id)
        assert (programme.envelope, programme.aid_rate) == (D("700.00"), D("0.4000"))
        assert programme.eligible_skus == [other.sku]
        assert [(p.code, p.name, p.share) for p in programme.partners] == [
            ("CDG59", "CDG du Nord", D("250.00")),
            ("CDG80", "CDG de la Somme", D("150.00")),
        ]
        assert session.scalar(select(func.count()).select_from(SubsidyPartner)) == 2
        record = session.scalar(
            select(AuditRecord).where(AuditRecord.action == "subsidy_programme.updated")
        )
        assert record.before["envelope"] == "600.00"
        assert record.after["envelope"] == "700.00"

    def test_once_money_moved_the_money_settings_are_frozen(self, session):
        programme = make_programme(session)
        services.record_receipt(
            session,
            programme.id,
            received_on=date(2026, 3, 1),
            amount=D("100.00"),
            reference="AVANCE",
            recorded_by=None,
        )
        changes = {
            "envelope": D("500.00"),
            "partners": [
                {"code": "CDG59", "name": "CDG du Nord", "share": D("300.00")},
                {"code": "CDG62", "name": "CDG du Pas-de-Calais", "share": D("200.00")},
            ],
        }
        with pytest.raises(Conflict) as refused:
            services.update_programme(session, programme.id, changes, actor=None)
        assert set(refused.value.errors) == {"envelope", "partners"}
        session.expire_all()
        assert session.get(SubsidyProgramme, programme.id).envelope == D("600.00")

    def test_once_money_moved_names_period_and_eligibility_may_still_change(self, session):
        programme = make_programme(session)
        services.record_receipt(
            session,
            programme.id,
            received_on=date(2026, 3, 1),
            amount=D("100.00"),
            reference="AVANCE",
            recorded_by=None,
        )
        services.update_programme(
            session,
            programme.id,
            {
                "name": "Programme prolongé",
                "period_end": date(2027, 6, 30),
                "max_population": 5000,
                "partners": [
                    {"code": "CDG59", "name": "CDG du Nord (renommé)", "share": D("200.00")},
                    {"code": "CDG62", "name": "CDG du Pas-de-Calais", "share": D("200.00")},
                ],
            },
            actor=None,
        )
        assert programme.period_end == date(2027, 6, 30)
        assert programme.partners[0].name == "CDG du Nord (renommé)"

    def test_a_change_that_breaks_the_split_is_refused(self, session):
        programme = make_programme(session)
        with pytest.raises(ValidationFailed) as refused:
            services.update_programme(session, programme.id, {"envelope": D("650.00")}, actor=None)
        assert list(refused.value.errors) == ["partners"]

    def test_the_code_never_changes(self, session):
        programme = make_programme(session)
        with pytest.raises(ValueError, match="not programme fields: code"):
            services.update_programme(session, programme.id, {"code": "OTHER"}, actor=None)
