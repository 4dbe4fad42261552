"""Credit notes give the aid of the lines they credit back to the envelope: in proportion,
exactly once a line is wholly credited, never more than the line consumed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from purchasing.audit.models import AuditRecord
from purchasing.members.models import Member
from purchasing.subsidies import services
from purchasing.subsidies.models import SubsidyConsumption, SubsidyProgramme
from tests.factories import aid_request, make_draft_invoice, make_member, make_product
from tests.factories import make_programme as make_programme_
from tests.factories.subsidies import AID_DATE

D = Decimal
CREDIT_DATE = date(2026, 4, 1)


@pytest.fixture
def product(session):
    return make_product(session, subsidy_eligible=True)


@pytest.fixture
def commune(session):
    return make_member(session, population=611)


def make_programme(session, product, **kw):
    return make_programme_(session, products=[product], **kw)


def issue(session, member, lines):
    invoice = make_draft_invoice(session, member)
    allocation = services.allocate_aid(
        session, invoice_id=invoice.id, member_id=member.id, on=AID_DATE, lines=lines
    )
    session.commit()
    return invoice, allocation


def give_back(session, invoice, credited, *, on=CREDIT_DATE):
    member = session.get(Member, invoice.member_id)
    note = make_draft_invoice(session, member, corrects=invoice)
    grants = services.give_back_aid(
        session,
        credit_note_id=note.id,
        corrected_invoice_id=invoice.id,
        credited=[(key, D(amount)) for key, amount in credited],
        on=on,
    )
    session.commit()
    return note, grants


def consumed(session, programme):
    session.expire_all()
    return session.get(SubsidyProgramme, programme.id).consumed


def test_crediting_a_whole_line_gives_its_aid_back(session, product, commune):
    programme = make_programme(session, product)
    invoice, _ = issue(
        session, commune, [aid_request(1, product, "120.00"), aid_request(2, product, "30.00")]
    )
    assert consumed(session, programme) == D("75.00")

    note, grants = give_back(session, invoice, [(1, "120.00")])

    assert grants == [
        services.AidGrant(
            key=1, programme_id=programme.id, label=programme.aid_label, amount=D("60.00")
        )
    ]
    assert consumed(session, programme) == D("15.00")
    row = session.scalar(select(SubsidyConsumption).where(SubsidyConsumption.invoice_id == note.id))
    assert (row.amount, row.line_amount, row.consumed_on, row.member_id) == (
        D("-60.00"),
        D("120.00"),
        CREDIT_DATE,
        commune.id,
    )
    record = session.scalar(
        select(AuditRecord).where(AuditRecord.action == "subsidy_programme.aid_given_back")
    )
    assert record.before == {"consumed": "75.00"}
    assert record.after == {
        "consumed": "15.00",
        "credit_note_id": note.id,
        "invoice_id": invoice.id,
    }


def test_credits_in_parts_give_back_exactly_the_aid_of_the_line(session, product, commune):
    programme = make_programme(session, product)
    invoice, _ = issue(session, commune, [aid_request(1, product, "100.01")])  # aid 50.01

    backs = [give_back(session, invoice, [(1, part)])[1][0].amount for part in ("33.33",) * 3]
    backs.append(give_back(session, invoice, [(1, "0.02")])[1][0].amount)

    # 50.01 x 33.33 / 100.01 = 16.667...: each part is rounded on the total credited so far.
    assert backs == [D("16.67"), D("16.66"), D("16.67"), D("0.01")]
    assert sum(backs) == D("50.01")
    assert consumed(session, programme) == D("0.00")


def test_a_credit_whose_share_of_aid_rounds_to_nothing_still_counts(session, product, commune):
    programme = make_programme(session, product, aid_rate=D("0.0100"))
    invoice, _ = issue(session, commune, [aid_request(1, product, "100.00")])  # aid 1.00

    _note, grants = give_back(session, invoice, [(1, "0.40")])
    assert grants == []
    assert consumed(session, programme) == D("1.00")
    _note, grants = give_back(session, invoice, [(1, "99.60")])
    assert [grant.amount for grant in grants] == [D("1.00")]
    assert consumed(session, programme) == D("0.00")


def test_never_more_than_the_line_consumed(session, product, commune):
    programme = make_programme(session, product)
    invoice, _ = issue(session, commune, [aid_request(1, product, "120.00")])
    give_back(session, invoice, [(1, "100.00")])

    with pytest.raises(services.CreditExceedsAidedLine) as refused:
        give_back(session, invoice, [(1, "20.01")])

    assert list(refused.value.errors) == ["credited"]
    session.rollback()
    assert consumed(session, programme) == D("10.00")


def test_the_aid_of_a_reduced_price_is_given_back_against_the_reduced_amount(
    session, product, commune
):
    programme = make_programme(session, product, aid_in_vat_base=False)
    invoice, _ = issue(session, commune, [aid_request(1, product, "120.00")])
    # The invoice line is 60.00 excl. VAT after the aid: that is what a credit note credits.
    _note, grants = give_back(session, invoice, [(1, "30.00")])
    assert [grant.amount for grant in grants] == [D("30.00")]
    _note, grants = give_back(session, invoice, [(1, "30.00")])
    assert [grant.amount for grant in grants] == [D("30.00")]
    assert consumed(session, programme) == D("0.00")


def test_lines_without_aid_give_nothing_back(session, product, commune):
    make_programme(session, product)
    other = make_product(session)
    invoice, _ = issue(
        session, commune, [aid_request(1, other, "50.00"), aid_request(2, product, "10.00")]
    )
    _note, grants = give_back(session, invoice, [(1, "50.00")])
    assert grants == []
    assert session.scalar(select(SubsidyConsumption).where(SubsidyConsumption.amount < 0)) is None


def test_an_exhausted_envelope_given_back_aids_the_next_invoices(session, product, commune):
    programme = make_programme(session, product, envelope="10.00")
    invoice, allocation = issue(session, commune, [aid_request(1, product, "40.00")])
    assert allocation.exhausted == [programme.code]

    give_back(session, invoice, [(1, "40.00")])
    _invoice, allocation = issue(session, commune, [aid_request(1, product, "8.00")])

    assert [grant.amount for grant in allocation.grants] == [D("4.00")]
    assert consumed(session, programme) == D("4.00")


def test_a_credit_note_moves_the_envelope_once(session, product, commune):
    make_programme(session, product)
    invoice, _ = issue(session, commune, [aid_request(1, product, "120.00")])
    note, _ = give_back(session, invoice, [(1, "20.00")])
    with pytest.raises(services.AidAlreadyAllocated):
        services.give_back_aid(
            session,
            credit_note_id=note.id,
            corrected_invoice_id=invoice.id,
            credited=[(1, D("20.00"))],
            on=CREDIT_DATE,
        )
