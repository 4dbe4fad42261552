"""Grant money: tranches received from the funder (never beyond the grant) and reversals
to partners (never beyond a partner's share, nor beyond what was received)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from purchasing.audit.models import AuditRecord
from purchasing.errors import Conflict, ValidationFailed
from purchasing.events import DomainEvent
from purchasing.subsidies import services
from purchasing.subsidies.models import SubsidyReceipt, SubsidyReversal
from tests.factories import make_programme, make_user

D = Decimal


@pytest.fixture
def programme(session):
    # Grant 1 000.00: envelope 600.00, CDG59 and CDG62 200.00 each.
    return make_programme(session)


def receive(session, programme, amount, *, on=date(2026, 3, 1), reference=None, by=None):
    return services.record_receipt(
        session,
        programme.id,
        received_on=on,
        amount=D(amount),
        reference=reference or f"VIR-{on.isoformat()}-{amount}",
        recorded_by=by,
    )


def reverse(session, programme, amount, *, partner="CDG59", on=date(2026, 4, 1), reference=None):
    return services.record_reversal(
        session,
        programme.id,
        partner=partner,
        reversed_on=on,
        amount=D(amount),
        reference=reference or f"MANDAT-{partner}-{on.isoformat()}-{amount}",
        recorded_by=None,
    )


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


class TestReceipts:
    def test_a_tranche_is_recorded_with_its_event_and_audit(self, session, programme):
        finance, _token = make_user(session, role="finance")

        receipt = receive(session, programme, "400.00", reference="FEDER avance", by=finance)

        assert (receipt.received_on, receipt.amount, receipt.reference) == (
            date(2026, 3, 1),
            D("400.00"),
            "FEDER avance",
        )
        assert receipt.recorded_by_id == finance.id
        event = session.scalar(select(DomainEvent).where(DomainEvent.kind == "subsidy.received"))
        assert event.payload == {
            "programme_id": programme.id,
            "programme_code": programme.code,
            "funder": "Union européenne - FEDER",
            "received_on": "2026-03-01",
            "amount": "400.00",
            "reference": "FEDER avance",
        }
        record = session.scalar(
            select(AuditRecord).where(AuditRecord.action == "subsidy_receipt.recorded")
        )
        assert (record.entity, record.entity_id, record.actor_id) == (
            "subsidy_programme",
            str(programme.id),
            finance.id,
        )

    def test_receipts_add_up_to_the_grant_and_no_further(self, session, programme):
        receive(session, programme, "600.00")
        receive(session, programme, "400.00", on=date(2026, 9, 1))

        with pytest.raises(services.ReceiptExceedsGrant) as refused:
            receive(session, programme, "0.01", on=date(2026, 10, 1))

        assert refused.value.status_code == 422
        assert refused.value.errors == {
            "amount": [
                f"at most 0.00 can still be received on {programme.code}: the grant is "
                "1000.00, 1000.00 received so far"
            ]
        }
        assert count(session, SubsidyReceipt) == 2

    def test_a_reference_is_recorded_once(self, session, programme):
        receive(session, programme, "100.00", reference="VIR-1")
        with pytest.raises(Conflict) as refused:
            receive(session, programme, "100.00", reference="VIR-1")
        assert list(refused.value.errors) == ["reference"]

    @pytest.mark.parametrize(
        ("amount", "message"),
        [("0", "must be more than 0"), ("-5", "must be more than 0"), ("1.005", "at most 2 ")],
    )
    def test_an_amount_is_positive_in_cents(self, session, programme, amount, message):
        with pytest.raises(ValidationFailed) as refused:
            receive(session, programme, amount)
        (text,) = refused.value.errors["amount"]
        assert text.startswith(message)


class TestReversals:
    def test_a_reversal_passes_on_received_money_to_a_partner(self, session, programme):
        receive(session, programme, "500.00")

        reversal = reverse(session, programme, "200.00", reference="MANDAT-2026-1187")

        assert (reversal.partner.code, reversal.amount) == ("CDG59", D("200.00"))
        event = session.scalar(select(DomainEvent).where(DomainEvent.kind == "subsidy.reversed"))
        assert event.payload == {
            "programme_id": programme.id,
            "programme_code": programme.code,
            "partner_code": "CDG59",
            "partner_name": "Centre de gestion du Nord",
            "reversed_on": "2026-04-01",
            "amount": "200.00",
            "reference": "MANDAT-2026-1187",
        }
        assert session.scalar(
            select(AuditRecord.after).where(AuditRecord.action == "subsidy_reversal.recorded")
        )["partner"] == ("CDG59")

    def test_cumulative_reversals_never_exceed_the_partners_share(self, session, programme):
        receive(session, programme, "1000.00")
        reverse(session, programme, "150.00")
        reverse(session, programme, "50.00", on=date(2026, 5, 1))

        with pytest.raises(services.ReversalExceedsShare) as refused:
            reverse(session, programme, "0.01", on=date(2026, 6, 1))

        assert refused.value.errors == {
            "amount": [
                "at most 0.00 can still be reversed to CDG59: its share is 200.00, "
                "200.00 reversed so far"
            ]
        }
        assert count(session, SubsidyReversal) == 2
        # The other partner's share is its own.
        reverse(session, programme, "200.00", partner="CDG62", on=date(2026, 6, 1))

    def test_no_more_is_passed_on_than_was_received(self, session, programme):
        receive(session, programme, "250.00", on=date(2026, 3, 1))
        reverse(session, programme, "200.00", partner="CDG59", on=date(2026, 4, 1))

        with pytest.raises(services.ReversalExceedsReceipts) as refused:
            reverse(session, programme, "50.01", partner="CDG62", on=date(2026, 4, 2))

        assert list(refused.value.errors) == ["amount"]
        assert "at most 50.00 can be passed on on 2026-04-02" in refused.value.message
        reverse(session, programme, "50.00", partner="CDG62", on=date(2026, 4, 2))

    def test_a_reversal_before_the_money_came_is_refused(self, session, programme):
        receive(session, programme, "500.00", on=date(2026, 3, 1))
        with pytest.raises(services.ReversalExceedsReceipts):
            reverse(session, programme, "100.00", on=date(2026, 2, 28))
        assert count(session, SubsidyReversal) == 0

    def test_an_unknown_partner_is_named(self, session, programme):
        receive(session, programme, "500.00")
        with pytest.raises(ValidationFailed) as refused:
            reverse(session, programme, "10.00", partner="CDG80")
        assert refused.value.errors == {
            "partner": [f"no partner CDG80 in {programme.code} (partners: CDG59, CDG62)"]
        }
