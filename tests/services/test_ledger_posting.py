"""Posting events into the books: one balanced entry per event, right accounts, once only."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from purchasing.audit.models import AuditRecord
from purchasing.billing import services as billing
from purchasing.catalog.pricing import Billing
from purchasing.events import DomainEvent
from purchasing.ledger import services
from purchasing.ledger.models import (
    JournalCode,
    JournalEntry,
    JournalLine,
    LedgerIsAppendOnly,
    UnbalancedEntry,
)
from tests.factories import (
    invoice_in_full,
    make_member,
    make_order,
    make_product,
    make_supplier,
    make_user,
)
from tests.factories.billing import billing_settings, make_issued_invoice
from tests.factories.catalog import make_account
from tests.factories.ledger import (
    balances,
    entry_for,
    ledger_settings,
    lines_of,
    make_ledger_accounts,
    post_all,
    publish_event,
    subsidy_received,
    subsidy_reversed,
)

D = Decimal


def _event(session, kind: str) -> DomainEvent:
    return session.scalars(
        select(DomainEvent).where(DomainEvent.kind == kind).order_by(DomainEvent.id.desc())
    ).first()


def _pending(session) -> int:
    return session.scalar(
        select(func.count()).select_from(services.pending_events(session).subquery())
    )


class TestEachEventKind:
    def test_an_invoice_debits_the_member_and_credits_sales_and_vat(self, session):
        member = make_member(session, name="Commune de Bergues")
        invoice = make_issued_invoice(session, member=member, price="120.00", quantity=2)

        result = post_all(session)

        assert (result.posted, result.refused, result.pending) == (1, (), 0)
        entry = entry_for(session, _event(session, "invoice.issued"))
        aux = f"M{member.id:05d}"
        assert lines_of(entry) == [
            ("4111", aux, D("288.00"), D("0.00")),
            ("7062", None, D("0.00"), D("240.00")),
            ("44571", None, D("0.00"), D("48.00")),
        ]
        assert entry.lines[0].auxiliary_label == "Commune de Bergues"
        assert (entry.journal, entry.document_reference, entry.entry_date) == (
            JournalCode.SALES,
            invoice.number,
            invoice.issue_date,
        )
        assert entry.number == f"EC-{invoice.issue_date.year}-000001"
        assert entry.total == D("288.00")
        assert entry.label == f"Facture {invoice.number} - Commune de Bergues"
        assert entry.source_kind == "invoice.issued"

    def test_a_credit_note_reverses_the_invoice(self, session):
        invoice = make_issued_invoice(session, price="120.00", quantity=2)
        note = billing.create_credit_note(
            session,
            invoice.id,
            reason="erreur de quantité",
            settings=billing_settings(),
            issued_by=None,
            issue_date=invoice.issue_date,
        )

        assert post_all(session).posted == 2

        entry = entry_for(session, _event(session, "credit_note.issued"))
        aux = f"M{invoice.member_id:05d}"
        assert lines_of(entry) == [
            ("4111", aux, D("0.00"), D("288.00")),
            ("7062", None, D("240.00"), D("0.00")),
            ("44571", None, D("48.00"), D("0.00")),
        ]
        assert entry.document_reference == note.number
        assert entry.label.startswith(f"Avoir {note.number}")
        assert balances(session) == {"4111": D(0), "7062": D(0), "44571": D(0)}

    def test_a_credit_note_on_an_earlier_years_invoice_goes_to_cancelled_titles(self, session):
        invoice = make_issued_invoice(
            session,
            order_date=date(2025, 11, 3),
            delivered_on=date(2025, 11, 20),
            issue_date=date(2025, 12, 1),
        )
        billing.create_credit_note(
            session,
            invoice.id,
            reason="annulation",
            settings=billing_settings(),
            issued_by=None,
            issue_date=date(2026, 1, 10),
        )

        post_all(session)

        entry = entry_for(session, _event(session, "credit_note.issued"))
        assert [(a, d, c) for a, _aux, d, c in lines_of(entry)] == [
            ("4111", D("0.00"), D("288.00")),
            ("673", D("240.00"), D("0.00")),
            ("44571", D("48.00"), D("0.00")),
        ]
        assert entry.fiscal_year == 2026

    def test_a_supplier_invoice_debits_purchases_and_vat_and_credits_the_supplier(self, session):
        supplier = make_supplier(session, code="VIGIE", name="Vigie Systèmes")
        camera = make_product(
            session,
            supplier=supplier,
            billing=Billing.ONE_OFF,
            cost="480.00",
            purchase_account="6071",
            sales_account="7071",
        )
        order = make_order(session, lines=[(camera, 10)], status="ordered")
        supplier_invoice = invoice_in_full(session, order.purchase_orders[0], number="VS-77")

        post_all(session)

        entry = entry_for(session, _event(session, "purchase.recorded"))
        assert lines_of(entry) == [
            ("6071", None, D("4800.00"), D("0.00")),
            ("44566", None, D("960.00"), D("0.00")),
            ("4011", "VIGIE", D("0.00"), D("5760.00")),
        ]
        assert entry.lines[2].auxiliary_label == "Vigie Systèmes"
        assert entry.lines[0].family_code == camera.family.code
        assert (entry.journal, entry.document_reference, entry.entry_date) == (
            JournalCode.PURCHASES,
            "VS-77",
            supplier_invoice.invoice_date,
        )

    def test_a_payment_debits_the_treasury_and_credits_the_member(self, session):
        invoice = make_issued_invoice(session)
        billing.record_payment(
            session,
            invoice.id,
            amount=D("100.00"),
            paid_on=date(2026, 3, 20),
            reference="VIR-2026-0042",
            recorded_by=None,
        )

        post_all(session)

        entry = entry_for(session, _event(session, "payment.received"))
        aux = f"M{invoice.member_id:05d}"
        assert lines_of(entry) == [
            ("515", None, D("100.00"), D("0.00")),
            ("4111", aux, D("0.00"), D("100.00")),
        ]
        assert (entry.journal, entry.document_reference, entry.entry_date) == (
            JournalCode.TREASURY,
            "VIR-2026-0042",
            date(2026, 3, 20),
        )
        assert balances(session)["4111"] == D("188.00")

    def test_a_grant_received_clears_the_programmes_receivable(self, session):
        event = subsidy_received(session, amount="384440.40")

        post_all(session)

        entry = entry_for(session, event)
        assert lines_of(entry) == [
            ("515", None, D("384440.40"), D("0.00")),
            ("441", "FEDER-2024", D("0.00"), D("384440.40")),
        ]
        assert (entry.journal, entry.document_reference) == (JournalCode.TREASURY, "VIR-0001")

    def test_a_reversal_to_a_partner_is_a_subsidy_passed_on(self, session):
        event = subsidy_reversed(session, amount="206178.40", partner_code="CDG62")

        post_all(session)

        assert lines_of(entry_for(session, event)) == [
            ("6573", "CDG62", D("206178.40"), D("0.00")),
            ("515", None, D("0.00"), D("206178.40")),
            ("441", "FEDER-2024", D("206178.40"), D("0.00")),
            ("7477", None, D("0.00"), D("206178.40")),
        ]


class TestFederAid:
    """The aid paid by a programme: in the invoice's entry, receivable on the programme."""

    @pytest.fixture(autouse=True)
    def _sales_account(self, session):
        make_account(session, "7062")

    def _invoice_payload(self, member, **overrides):
        payload = {
            "kind": "invoice",
            "number": "FA-2026-000900",
            "issue_date": "2026-04-01",
            "member_id": member.id,
            "corrected_invoice_id": None,
            "sales": [{"account": "7062", "family_code": "mairie_connectee", "amount": "100.00"}],
            "vat": [{"rate": "0.2000", "base": "100.00", "amount": "20.00"}],
            "total_gross": "120.00",
            "total_aid": "80.00",
            "amount_due": "40.00",
        }
        return payload | overrides

    def test_an_aid_completing_the_price_is_owed_by_the_programme(self, session):
        member = make_member(session)
        make_ledger_accounts(session)
        event = publish_event(
            session,
            "invoice.issued",
            self._invoice_payload(
                member, aid_by_programme=[{"programme_code": "FEDER-2024", "amount": "80.00"}]
            ),
        )

        post_all(session)

        assert lines_of(entry_for(session, event)) == [
            ("4111", f"M{member.id:05d}", D("40.00"), D("0.00")),
            ("441", "FEDER-2024", D("80.00"), D("0.00")),
            ("7062", None, D("0.00"), D("100.00")),
            ("44571", None, D("0.00"), D("20.00")),
        ]

    def test_an_aid_reducing_the_price_is_an_operating_subsidy(self, session):
        member = make_member(session)
        event = publish_event(
            session, "invoice.issued", self._invoice_payload(member, amount_due="120.00")
        )

        post_all(session)

        assert lines_of(entry_for(session, event)) == [
            ("4111", f"M{member.id:05d}", D("120.00"), D("0.00")),
            ("7062", None, D("0.00"), D("100.00")),
            ("44571", None, D("0.00"), D("20.00")),
            ("441", None, D("80.00"), D("0.00")),
            ("7477", None, D("0.00"), D("80.00")),
        ]

    def test_a_programme_settled_in_full_leaves_nothing_on_its_receivable(self, session):
        member = make_member(session)
        publish_event(
            session,
            "invoice.issued",
            self._invoice_payload(
                member, aid_by_programme=[{"programme_code": "FEDER-2024", "amount": "80.00"}]
            ),
        )
        subsidy_received(session, amount="480.00")
        subsidy_reversed(session, amount="400.00")

        post_all(session)

        totals = balances(session)
        assert totals["441"] == D(0)
        assert totals["7477"] == D("-400.00")  # credit: the partners' share, received
        assert totals["6573"] == D("400.00")  # and passed on
        assert totals["515"] == D("80.00")

    def test_a_payload_whose_parts_do_not_add_up_is_refused_and_stays_pending(self, session):
        member = make_member(session)
        event = publish_event(
            session, "invoice.issued", self._invoice_payload(member, total_gross="121.00")
        )

        result = post_all(session)

        (refusal,) = result.refused
        assert refusal.event_id == event.id
        assert "total_gross" in refusal.errors
        assert result.pending == 1
        assert entry_for(session, event) is None

    def test_a_family_code_longer_than_a_line_keeps_refuses_that_event_alone(self, session):
        member = make_member(session)
        sales = [{"account": "7062", "family_code": "f" * 41, "amount": "100.00"}]
        event = publish_event(session, "invoice.issued", self._invoice_payload(member, sales=sales))
        fine = subsidy_received(session)

        result = post_all(session)

        (refusal,) = result.refused
        assert refusal.event_id == event.id
        assert refusal.errors == {"sales[0].family_code": ["Longer than maximum length 40."]}
        assert entry_for(session, event) is None
        assert entry_for(session, fine) is not None


class TestOnceOnly:
    def test_posting_twice_posts_nothing_twice(self, session):
        make_issued_invoice(session)
        subsidy_received(session)

        first = post_all(session)
        second = post_all(session)

        assert (first.posted, second.posted, second.pending) == (2, 0, 0)
        assert session.scalar(select(func.count()).select_from(JournalEntry)) == 2
        consumed = session.scalars(select(DomainEvent.consumed_at)).all()
        assert all(at is not None for at in consumed if at is not None)

    def test_an_interrupted_run_resumes_where_it_stopped(self, session):
        for amount in ("10.00", "20.00", "30.00"):
            subsidy_received(session, amount=amount)

        first = post_all(session, limit=2)
        assert (first.posted, first.pending) == (2, 1)
        second = post_all(session)
        assert (second.posted, second.pending) == (1, 0)
        sequences = session.scalars(
            select(JournalEntry.sequence).order_by(JournalEntry.source_event_id)
        ).all()
        assert sequences == [1, 2, 3]

    def test_an_event_already_posted_is_never_posted_again(self, session):
        event = subsidy_received(session)
        post_all(session)
        event.consumed_at = None  # as if its consumption had been lost
        session.commit()

        result = post_all(session)

        assert result.posted == 0
        assert session.scalar(select(func.count()).select_from(JournalEntry)) == 1

    def test_each_posting_leaves_an_audit_record_naming_who_posted(self, session):
        poster = make_user(session, role="finance")[0]
        make_ledger_accounts(session)
        subsidy_received(session)

        services.post_pending_events(session, settings=ledger_settings(), posted_by=poster)

        entry = session.scalars(select(JournalEntry)).one()
        records = session.scalars(select(AuditRecord).order_by(AuditRecord.id)).all()
        posted = [r for r in records if r.action == "journal_entry.posted"]
        assert [(r.entity_id, r.actor_id) for r in posted] == [(str(entry.id), poster.id)]
        assert posted[0].after["number"] == entry.number
        assert "fiscal_year.opened" in [r.action for r in records]

    def test_events_of_other_kinds_are_left_alone(self, session):
        other = publish_event(session, "order.line_delivered", {"anything": 1})

        result = post_all(session)

        assert (result.posted, result.pending) == (0, 0)
        assert session.get(DomainEvent, other.id).consumed_at is None

    def test_an_event_with_nothing_to_post_is_consumed_without_an_entry(self, session):
        event = subsidy_received(session, amount="0.00")

        result = post_all(session)

        assert (result.posted, result.empty, result.pending) == (0, 1, 0)
        assert session.get(DomainEvent, event.id).consumed_at is not None
        assert entry_for(session, event) is None

    def test_the_books_refuse_any_change(self, session):
        subsidy_received(session)
        post_all(session)
        entry = session.scalars(select(JournalEntry)).one()
        entry.label = "changed"
        with pytest.raises(LedgerIsAppendOnly):
            session.flush()
        session.rollback()
        line = session.scalars(select(JournalLine)).first()
        session.delete(line)
        with pytest.raises(LedgerIsAppendOnly):
            session.flush()


class TestChart:
    def test_an_account_missing_from_the_chart_leaves_the_event_pending(self, session):
        event = subsidy_received(session)

        result = services.post_pending_events(session, settings=ledger_settings(), posted_by=None)

        (refusal,) = result.refused
        assert refusal.event_id == event.id
        assert "account 515 is not in the chart of accounts" in refusal.message
        assert result.pending == 1

    def test_the_whole_books_balance_and_have_no_gap(self, session):
        make_issued_invoice(session)
        subsidy_received(session)
        subsidy_reversed(session)
        post_all(session)

        check = services.verify_ledger(session)

        assert check.ok
        assert (check.entries, check.lines) == (3, 9)
        assert check.total_debit == check.total_credit == D("288.00") + D("1000.00") + D("800.00")


class TestBalanceGuards:
    def _unbalanced_entry(self, session):
        event = subsidy_received(session)
        make_ledger_accounts(session)
        services.open_fiscal_year(session, 2026, actor=None)
        return JournalEntry(
            fiscal_year=2026,
            sequence=1,
            entry_date=date(2026, 6, 1),
            journal=JournalCode.TREASURY,
            document_reference="X",
            label="unbalanced",
            source_event_id=event.id,
            source_kind=event.kind,
            total=D("10.00"),
            lines=[
                JournalLine(position=1, account_number="515", debit=D("10.00")),
                JournalLine(position=2, account_number="441", credit=D("9.99")),
            ],
        )

    def test_an_unbalanced_entry_never_reaches_the_database(self, session):
        session.add(self._unbalanced_entry(session))
        with pytest.raises(UnbalancedEntry, match=r"debits 10\.00, credits 9\.99"):
            session.flush()

    @pytest.mark.postgres
    def test_postgresql_refuses_an_unbalanced_entry_at_commit(self, session):
        entry = self._unbalanced_entry(session)
        connection = session.connection()
        entry_id = connection.execute(
            insert(JournalEntry.__table__)
            .values({k: getattr(entry, k) for k in _ENTRY_COLUMNS})
            .returning(JournalEntry.__table__.c.id)
        ).scalar_one()
        connection.execute(
            insert(JournalLine.__table__).values(
                [
                    {
                        "entry_id": entry_id,
                        "position": 1,
                        "account_number": "515",
                        "debit": D("10.00"),
                        "credit": D(0),
                    },
                    {
                        "entry_id": entry_id,
                        "position": 2,
                        "account_number": "441",
                        "debit": D(0),
                        "credit": D("9.99"),
                    },
                ]
            )
        )
        # What COMMIT would check, checked now (the test's transaction is never committed).
        with pytest.raises(IntegrityError, match="does not balance"):
            connection.execute(text("SET CONSTRAINTS journal_lines_balance IMMEDIATE"))


_ENTRY_COLUMNS = (
    "fiscal_year",
    "sequence",
    "entry_date",
    "journal",
    "document_reference",
    "label",
    "source_event_id",
    "source_kind",
    "total",
)


class TestBatches:
    """Events are posted many to a transaction, each in its own savepoint."""

    def test_a_refused_event_inside_a_batch_leaves_the_others_posted_and_no_gap(
        self, session, monkeypatch
    ):
        monkeypatch.setattr(services, "POSTING_BATCH", 2)
        member = make_member(session)
        events = [subsidy_received(session, amount="10.00"), subsidy_received(session)]
        bad = publish_event(
            session, "invoice.issued", TestFederAid()._invoice_payload(member, total_gross="121.00")
        )
        events += [subsidy_received(session, amount="30.00"), subsidy_received(session)]
        progress: list[tuple[int, int]] = []

        result = post_all(session, progress=lambda done, total: progress.append((done, total)))

        assert [refusal.event_id for refusal in result.refused] == [bad.id]
        assert (result.posted, result.pending) == (4, 1)
        assert entry_for(session, bad) is None
        numbers = [entry_for(session, event).sequence for event in events]
        assert numbers == [1, 2, 3, 4]  # the refused event's number was given back
        assert progress == [(n, 5) for n in range(1, 6)]
        assert session.get(DomainEvent, bad.id).consumed_at is None

    def test_a_run_of_more_events_than_a_batch_posts_each_once(self, session, monkeypatch):
        monkeypatch.setattr(services, "POSTING_BATCH", 3)
        events = [subsidy_received(session, amount=f"{n}.00") for n in range(1, 8)]

        first = post_all(session)
        second = post_all(session)

        assert (first.posted, second.posted, second.pending) == (7, 0, 0)
        assert [entry_for(session, event).sequence for event in events] == list(range(1, 8))
        audited = session.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .where(AuditRecord.action == "journal_entry.posted")
        )
        assert audited == 7


class _ScriptedStop:
    """A stop signal that publishes an event each time the follower waits on an empty
    outbox, and is set at the second wait: as an issuer publishing beside the follower."""

    def __init__(self, session) -> None:
        self.session = session
        self.waits = 0
        self.set_ = False

    def is_set(self) -> bool:
        return self.set_

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        subsidy_received(self.session, amount=f"{self.waits}00.00")
        self.set_ = self.waits == 2
        return self.set_


def test_following_posts_what_is_published_until_the_stop_and_what_came_before_it(session):
    make_ledger_accounts(session)
    subsidy_received(session)
    stop = _ScriptedStop(session)
    passes = []

    result = services.follow_pending_events(
        session, settings=ledger_settings(), posted_by=None, stop=stop, progress=passes.append
    )

    # Posted at once, then after each wait: the second event published with the stop.
    assert (result.posted, result.empty, result.pending, result.refused) == (3, 0, 0, ())
    assert [each.posted for each in passes] == [1, 1, 1]
    assert stop.waits == 2  # waited only on an empty outbox
    amounts = session.scalars(
        select(JournalEntry.total).where(JournalEntry.source_kind == "subsidy.received")
    ).all()
    assert sorted(amounts) == [Decimal("100.00"), Decimal("200.00"), Decimal("1000.00")]
