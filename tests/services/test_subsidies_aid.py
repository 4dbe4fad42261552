"""The aid billing asks for while it issues an invoice: who is eligible, how much, out of
an envelope that is never overspent, and finance told when it runs out."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from purchasing.audit.models import AuditRecord
from purchasing.events import DomainEvent
from purchasing.members.models import MemberKind
from purchasing.subsidies import services
from purchasing.subsidies.models import SubsidyConsumption, SubsidyProgramme
from tests.factories import (
    aid_request,
    make_draft_invoice,
    make_member,
    make_product,
    make_programme,
)
from tests.factories.subsidies import AID_DATE, PERIOD_END, PERIOD_START

D = Decimal


@pytest.fixture
def product(session):
    return make_product(session, sku="MC-SITE", subsidy_eligible=True)


@pytest.fixture
def programme(session, product):
    return make_programme(session, products=[product], code="FEDER-MC-2026")


@pytest.fixture
def commune(session):
    return make_member(session, name="Commune d'Audresselles", population=611)


def allocate(session, member, lines, *, on=AID_DATE):
    invoice = make_draft_invoice(session, member)
    allocation = services.allocate_aid(
        session, invoice_id=invoice.id, member_id=member.id, on=on, lines=lines
    )
    session.commit()
    return invoice, allocation


def consumed(session, programme):
    session.expire_all()
    return session.get(SubsidyProgramme, programme.id).consumed


class TestEligibility:
    def test_an_eligible_line_of_a_small_commune_gets_the_rate(
        self, session, programme, product, commune
    ):
        invoice, allocation = allocate(session, commune, [aid_request(1, product, "120.00")])

        assert allocation == services.AidAllocation(
            grants=[
                services.AidGrant(
                    key=1,
                    programme_id=programme.id,
                    label="FEDER-MC-2026 Mairie connectée",
                    amount=D("60.00"),
                )
            ],
            aid_in_vat_base=True,
            exhausted=[],
        )
        (row,) = session.scalars(select(SubsidyConsumption))
        assert (row.programme_id, row.invoice_id, row.line_key, row.member_id) == (
            programme.id,
            invoice.id,
            1,
            commune.id,
        )
        assert (row.amount, row.line_amount, row.consumed_on) == (
            D("60.00"),
            D("120.00"),
            AID_DATE,
        )
        assert consumed(session, programme) == D("60.00")
        record = session.scalar(
            select(AuditRecord).where(AuditRecord.action == "subsidy_programme.aid_granted")
        )
        assert record.before == {"consumed": "0.00"}
        assert record.after == {"consumed": "60.00", "invoice_id": invoice.id}

    @pytest.mark.parametrize(
        "member_values",
        [
            {"kind": MemberKind.EPCI, "population": 611},
            {"population": 3500},  # "fewer than 3 500": 3 499 at most
        ],
    )
    def test_a_member_outside_the_rule_pays_full_price(
        self, session, programme, product, member_values
    ):
        member = make_member(session, **member_values)
        _invoice, allocation = allocate(session, member, [aid_request(1, product, "120.00")])
        assert allocation.grants == []
        assert consumed(session, programme) == D("0.00")

    def test_the_population_threshold_is_inclusive(self, session, programme, product):
        member = make_member(session, population=3499)
        _invoice, allocation = allocate(session, member, [aid_request(1, product, "120.00")])
        assert [grant.amount for grant in allocation.grants] == [D("60.00")]

    def test_a_product_outside_the_programme_or_not_eligible_pays_full_price(
        self, session, programme, product, commune
    ):
        other = make_product(session, subsidy_eligible=True)
        _invoice, allocation = allocate(
            session,
            commune,
            [
                aid_request(1, other, "120.00"),
                # Frozen as not eligible on the order line: the catalogue said so then.
                aid_request(2, product, "120.00", subsidy_eligible=False),
                aid_request(3, None, "120.00"),
                aid_request(4, product, "30.00"),
            ],
        )
        assert [(grant.key, grant.amount) for grant in allocation.grants] == [(4, D("15.00"))]

    @pytest.mark.parametrize("day", [date(2025, 12, 31), date(2027, 1, 1)])
    def test_an_invoice_outside_the_period_pays_full_price(
        self, session, programme, product, commune, day
    ):
        _invoice, allocation = allocate(
            session, commune, [aid_request(1, product, "120.00")], on=day
        )
        assert allocation.grants == []

    def test_the_first_and_last_days_of_the_period_are_in_it(
        self, session, programme, product, commune
    ):
        for day in (PERIOD_START, PERIOD_END):
            _invoice, allocation = allocate(
                session, commune, [aid_request(1, product, "10.00")], on=day
            )
            assert [grant.amount for grant in allocation.grants] == [D("5.00")]


class TestRule:
    def test_the_cap_per_unit_applies(self, session, product, commune):
        make_programme(session, products=[product], aid_cap_per_unit=D("100.00"))
        # 3 set-up fees of 305.60: 50 % is 458.40, capped at 3 x 100.00.
        _invoice, allocation = allocate(
            session, commune, [aid_request(1, product, "916.80", quantity=3)]
        )
        assert [grant.amount for grant in allocation.grants] == [D("300.00")]

    def test_the_rate_is_rounded_half_up_per_line(self, session, programme, product, commune):
        _invoice, allocation = allocate(
            session,
            commune,
            [aid_request(1, product, "10.01"), aid_request(2, product, "0.03")],
        )
        assert [grant.amount for grant in allocation.grants] == [D("5.01"), D("0.02")]

    def test_a_price_reduction_records_the_reduced_line_amount(self, session, product, commune):
        make_programme(session, products=[product], aid_in_vat_base=False)
        _invoice, allocation = allocate(session, commune, [aid_request(1, product, "120.00")])
        assert allocation.aid_in_vat_base is False
        assert session.scalar(select(SubsidyConsumption.line_amount)) == D("60.00")


class TestExhaustion:
    def test_the_line_that_exhausts_the_envelope_gets_the_rest_then_full_price(
        self, session, product, commune
    ):
        programme = make_programme(session, products=[product], envelope="10.00")
        lines = [aid_request(key, product, "12.00") for key in (1, 2, 3)]

        _invoice, allocation = allocate(session, commune, lines)

        assert [(grant.key, grant.amount) for grant in allocation.grants] == [
            (1, D("6.00")),
            (2, D("4.00")),
        ]
        assert allocation.exhausted == [programme.code]
        assert consumed(session, programme) == D("10.00")
        (event,) = session.scalars(
            select(DomainEvent).where(DomainEvent.kind == "subsidy.envelope_exhausted")
        )
        assert event.entity_id == str(programme.id)
        assert event.payload["programme_code"] == programme.code
        assert event.payload["envelope"] == "10.00"
        assert session.scalar(
            select(func.count()).where(AuditRecord.action == "subsidy_programme.envelope_exhausted")
        )

    def test_once_exhausted_invoices_pay_full_price_and_finance_is_told_once(
        self, session, product, commune
    ):
        programme = make_programme(session, products=[product], envelope="6.00")
        allocate(session, commune, [aid_request(1, product, "12.00")])

        _invoice, allocation = allocate(session, commune, [aid_request(1, product, "12.00")])

        assert allocation == services.AidAllocation(grants=[], aid_in_vat_base=True, exhausted=[])
        assert consumed(session, programme) == D("6.00")
        assert (
            session.scalar(
                select(func.count()).where(DomainEvent.kind == "subsidy.envelope_exhausted")
            )
            == 1
        )

    def test_a_second_programme_takes_over_when_the_first_runs_out(self, session, product, commune):
        first = make_programme(session, products=[product], envelope="6.00", code="FEDER-A")
        second = make_programme(session, products=[product], code="FEDER-B")
        _invoice, allocation = allocate(
            session, commune, [aid_request(1, product, "12.00"), aid_request(2, product, "12.00")]
        )
        assert [(g.key, g.programme_id, g.amount) for g in allocation.grants] == [
            (1, first.id, D("6.00")),
            (2, second.id, D("6.00")),
        ]
        assert allocation.exhausted == ["FEDER-A"]

    def test_the_database_refuses_consumption_beyond_the_envelope(self, session, programme):
        # The row lock keeps the code from trying; the CHECK constraint is the last word.
        with pytest.raises(Exception, match=r"consumed_within_envelope|CHECK constraint"):
            session.execute(
                update(SubsidyProgramme)
                .where(SubsidyProgramme.id == programme.id)
                .values(consumed=SubsidyProgramme.envelope + D("0.01"))
            )
        session.rollback()
        with pytest.raises(Exception, match=r"consumed_within_envelope|CHECK constraint"):
            session.execute(
                update(SubsidyProgramme)
                .where(SubsidyProgramme.id == programme.id)
                .values(consumed=D("-0.01"))
            )


class TestCallerMistakes:
    def test_an_invoice_moves_the_envelope_once(self, session, programme, product, commune):
        invoice, _allocation = allocate(session, commune, [aid_request(1, product, "12.00")])
        with pytest.raises(services.AidAlreadyAllocated):
            services.allocate_aid(
                session,
                invoice_id=invoice.id,
                member_id=commune.id,
                on=AID_DATE,
                lines=[aid_request(1, product, "12.00")],
            )

    def test_line_keys_are_unique(self, session, programme, product, commune):
        invoice = make_draft_invoice(session, commune)
        with pytest.raises(ValueError, match="line keys repeat"):
            services.allocate_aid(
                session,
                invoice_id=invoice.id,
                member_id=commune.id,
                on=AID_DATE,
                lines=[aid_request(1, product, "12.00"), aid_request(1, product, "1.00")],
            )

    def test_line_amounts_come_rounded_to_the_cent(self, session, programme, product, commune):
        invoice = make_draft_invoice(session, commune)
        with pytest.raises(ValueError, match="not rounded to the cent"):
            services.allocate_aid(
                session,
                invoice_id=invoice.id,
                member_id=commune.id,
                on=AID_DATE,
                lines=[aid_request(1, product, "12.005")],
            )
