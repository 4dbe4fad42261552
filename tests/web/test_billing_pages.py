"""Invoices from the pages: a member's own invoices and files; finance's invoices, drafts,
credit notes, payments, receivables and billing runs."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from purchasing import create_app, formats
from purchasing.billing import run, services
from purchasing.billing.dispatch import wait_for_billing_run
from purchasing.billing.models import (
    BillingRun,
    BillingRunStatus,
    DocumentKind,
    Invoice,
    InvoiceDocumentFile,
    InvoiceStatus,
    Payment,
    PaymentStatus,
)
from purchasing.catalog.pricing import Billing
from purchasing.fields import today_in_paris
from purchasing.members.models import MemberKind
from purchasing.messages_fr import french_message
from tests.documents import pdf_text
from tests.factories import make_member, make_order, make_product, make_user
from tests.factories.billing import billing_settings, make_issued_invoice
from tests.factories.subsidies import make_programme
from tests.services.conftest import committed  # noqa: F401  (a fixture)
from tests.web.conftest import PageClient

D = Decimal


def fr(amount: str) -> str:
    """An amount as the pages print it: "1 234,56 €" with French spaces."""
    return formats.euros(D(amount))


def count(session, model, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions))


@pytest.fixture
def member(session):
    return make_member(session, name="Commune de Wimille")


@pytest.fixture
def invoice(session, member):
    """FA-2026-000001 of 02/03/2026, due 01/04/2026: 2 x 120,00 € HT + 20 % = 288,00 €."""
    return make_issued_invoice(session, member=member)


@pytest.fixture
def finance(pages_as):
    return pages_as("finance")


def make_draft(session, member) -> Invoice:
    """A draft invoice of a monthly service commissioned on 2026-02-01, for February, built
    as the billing run builds one before issuing it."""
    make_order(session, member=member, lines=[make_product(session)], status="delivered")
    ((_engagement, lines),) = run.pending_lines(
        session, member.id, run.periods.month(2026, 2)
    ).items()
    draft = Invoice(kind=DocumentKind.INVOICE, series="FA", member_id=member.id)
    for position, line in enumerate(lines, start=1):
        line.position = position
        draft.lines.append(line)
    session.add(draft)
    session.commit()
    return draft


# --- A member's invoices ----------------------------------------------------------------


def test_a_member_lists_its_own_invoices_in_french(pages_as, session, member, invoice):
    other = make_issued_invoice(session, member=make_member(session, name="Commune voisine"))

    page = pages_as("member", member=member).get("/my-invoices")

    assert page.status_code == 200
    assert invoice.number in page.text and other.number not in page.text
    assert fr("288.00") in page.text  # total incl. VAT
    assert "02/03/2026" in page.text and "01/04/2026" in page.text  # issued, due
    assert "01/02/2026" in page.text  # the day delivered: the period served
    assert "À payer" in page.text


def test_a_members_invoice_list_filters_and_paginates(pages_as, session, member, invoice):
    later = make_issued_invoice(session, member=member, issue_date=date(2026, 5, 4))
    browser = pages_as("member", member=member)

    first = browser.get("/my-invoices?per_page=1")
    assert "2 résultats · page 1 sur 2" in first.text
    assert later.number in first.text and invoice.number not in first.text
    assert invoice.number in browser.get("/my-invoices?per_page=1&page=2").text

    # Both were delivered on 2026-02-01: both serve February, none serves March.
    assert "2 résultats" in browser.get("/my-invoices?period=2026-02").text
    assert "Aucune facture" in browser.get("/my-invoices?period=2026-03").text
    assert later.number not in browser.get("/my-invoices?kind=credit_note").text


def test_a_bad_filter_is_named_in_french_and_the_list_still_shows(pages_as, member, invoice):
    page = pages_as("member", member=member).get("/my-invoices?period=2026-13")

    assert page.status_code == 200
    assert "Saisissez un mois (AAAA-MM)." in page.text
    assert invoice.number in page.text


def test_a_member_reads_its_invoice_lines_vat_and_payments(pages_as, session, member, invoice):
    services.record_payment(
        session,
        invoice.id,
        amount=D("100.00"),
        paid_on=date(2026, 3, 20),
        reference="Mandat 412",
        recorded_by=None,
    )

    page = pages_as("member", member=member).get(f"/my-invoices/{invoice.id}")

    assert page.status_code == 200
    assert f"Facture {invoice.number}" in page.text
    assert invoice.lines[0].designation in page.text
    assert fr("240.00") in page.text and fr("48.00") in page.text  # net, VAT at 20 %
    assert "Mandat 412" in page.text and fr("188.00") in page.text  # paid, still due
    assert "Émettre un avoir" not in page.text  # finance's actions are not the member's


def test_a_member_downloads_the_pdf_and_xml_exactly_as_stored(pages_as, member, invoice):
    browser = pages_as("member", member=member)

    pdf = browser.get(f"/invoices/{invoice.id}/pdf")
    xml = browser.get(f"/invoices/{invoice.id}/xml")

    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"] == f"attachment; filename={invoice.number}.pdf"
    assert hashlib.sha256(pdf.data).hexdigest() == invoice.document.pdf_sha256
    assert invoice.number in pdf_text(pdf.data)
    assert xml.mimetype == "application/xml" and xml.data == invoice.document.xml


def test_a_member_gets_404_for_another_members_invoice_and_files(pages_as, session, member):
    theirs = make_issued_invoice(session)
    browser = pages_as("member", member=member)

    for path in (
        f"/my-invoices/{theirs.id}",
        f"/invoices/{theirs.id}/pdf",
        f"/invoices/{theirs.id}/xml",
    ):
        assert browser.get(path).status_code == 404, path


def test_an_altered_stored_pdf_is_not_served(pages_as, session, member, invoice):
    # Behind the application's back: the model refuses any change to an issued document.
    session.execute(
        update(InvoiceDocumentFile.__table__)
        .where(InvoiceDocumentFile.invoice_id == invoice.id)
        .values(pdf=b"%PDF-1.7 altered")
    )

    answer = pages_as("member", member=member).get(f"/invoices/{invoice.id}/pdf")

    assert answer.status_code == 500
    assert answer.mimetype == "text/html"
    assert "ne correspond plus à celui émis" in answer.text


def test_invoice_pages_keep_to_their_roles(pages_as, session, member, invoice):
    member_browser = pages_as("member", member=member)
    for path in ("/invoices", f"/invoices/{invoice.id}", "/receivables", "/billing-runs"):
        assert member_browser.get(path).status_code == 403, path
    assert member_browser.post(f"/invoices/{invoice.id}/payments/new", {}).status_code == 403
    assert pages_as("finance").get("/my-invoices").status_code == 403
    for role in ("purchasing", "auditor"):
        browser = pages_as(role)
        for path in ("/invoices", f"/invoices/{invoice.id}/pdf", "/receivables", "/billing-runs"):
            assert browser.get(path).status_code == 403, (role, path)


# --- Finance: invoices and drafts -------------------------------------------------------


def test_finance_filters_invoices_by_member_status_series_and_period(
    finance, session, member, invoice
):
    other = make_issued_invoice(
        session,
        member=make_member(session, name="Commune d'Ambleteuse"),
        issue_date=date(2026, 3, 3),
    )
    note = services.create_credit_note(
        session,
        other.id,
        reason="Erreur de quantité",
        settings=billing_settings(),
        issued_by=None,
        issue_date=date(2026, 3, 4),
    )

    everything = finance.get("/invoices")
    assert all(n in everything.text for n in (invoice.number, other.number, note.number))
    assert "Commune de Wimille" in everything.text

    by_member = finance.get(f"/invoices?member_id={member.id}")
    assert invoice.number in by_member.text and other.number not in by_member.text

    paid = finance.get("/invoices?status=paid")  # credited whole, so nothing is owed
    assert other.number in paid.text and invoice.number not in paid.text

    credit_notes = finance.get("/invoices?series=AV")
    assert note.number in credit_notes.text and invoice.number not in credit_notes.text

    assert "Aucun document" in finance.get("/invoices?period=2026-04").text
    assert "3 résultats · page 1 sur 2" in finance.get("/invoices?per_page=2").text


def test_finance_reads_an_aided_invoice(finance, session):
    commune = make_member(session, kind=MemberKind.COMMUNE, population=611, name="Ochtezeele")
    product = make_product(session, billing=Billing.ONE_OFF, price="120.00", subsidy_eligible=True)
    make_programme(session, products=[product], envelope="1000.00", aid_label="FEDER-T Mairie")
    invoice = make_issued_invoice_of(session, commune, product)

    page = finance.get(f"/invoices/{invoice.id}")

    assert page.status_code == 200
    assert "Aide FEDER versée par le fonds" in page.text
    assert "dont aide FEDER-T Mairie" in page.text
    assert fr("120.00") in page.text  # the aid: half of 240,00 €
    assert fr("168.00") in page.text  # 288,00 € less the aid


def make_issued_invoice_of(session, member, product):
    make_order(session, member=member, lines=[(product, 2)], status="delivered")
    (invoice,) = run.invoice_member(
        session,
        member.id,
        run.periods.month(2026, 3),
        settings=billing_settings(),
        issued_by=None,
        issue_date=date(2026, 3, 2),
    )
    return invoice


def test_finance_lists_drafts_and_issues_one(finance, session, member):
    draft = make_draft(session, member)

    drafts = finance.get("/invoices?status=draft")
    assert f"Brouillon n° {draft.id}" in drafts.text
    page = finance.get(f"/invoices/{draft.id}")
    assert "Émettre la facture" in page.text

    answer = finance.post(f"/invoices/{draft.id}/issue", {"issue_date": "2026-03-02"})

    assert answer.status_code == 302
    session.refresh(draft)
    assert draft.status is InvoiceStatus.ISSUED and draft.issue_date == date(2026, 3, 2)
    assert draft.number.startswith("FA-2026-")
    assert f"Facture {draft.number} émise." in finance.get(answer.location).text


def test_a_draft_issued_before_the_series_latest_date_is_refused_next_to_the_date(
    finance, session, member, invoice
):
    draft = make_draft(session, member)

    answer = finance.post(f"/invoices/{draft.id}/issue", {"issue_date": "2026-03-01"})

    assert answer.status_code == 422
    assert 'id="issue_date-error"' in answer.text
    assert "sont émis jusqu&#39;au 02/03/2026" in answer.text
    assert 'value="2026-03-01"' in answer.text
    session.refresh(draft)
    assert draft.status is InvoiceStatus.DRAFT and draft.number is None


def test_a_member_never_sees_a_draft(pages_as, session, member):
    draft = make_draft(session, member)
    browser = pages_as("member", member=member)

    assert browser.get(f"/my-invoices/{draft.id}").status_code == 404
    assert "Aucune facture" in browser.get("/my-invoices?status=draft").text


# --- Finance: credit notes --------------------------------------------------------------


def test_finance_credits_a_whole_invoice(finance, session, invoice):
    answer = finance.post(
        f"/invoices/{invoice.id}/credit-notes/new",
        {"reason": "Commande annulée", "scope": "whole"},
    )

    assert answer.status_code == 302
    note = session.scalars(select(Invoice).where(Invoice.corrected_invoice_id == invoice.id)).one()
    assert note.number.startswith("AV-2026-") and note.amount_due == D("288.00")
    session.refresh(invoice)
    assert invoice.payment_status is PaymentStatus.PAID
    page = finance.get(answer.location)
    assert f"Avoir {note.number} émis sur la facture {invoice.number}." in page.text
    assert "Commande annulée" in page.text


def test_finance_credits_part_of_a_line_typed_the_french_way(finance, session, invoice):
    (line,) = invoice.lines

    answer = finance.post(
        f"/invoices/{invoice.id}/credit-notes/new",
        {
            "reason": "Remise commerciale",
            "scope": "lines",
            f"line_{line.id}": "on",
            f"amount_{line.id}": "10,50",
        },
    )

    assert answer.status_code == 302
    note = session.scalars(select(Invoice).where(Invoice.corrected_invoice_id == invoice.id)).one()
    assert [credit.net_amount for credit in note.lines] == [D("10.50")]
    assert note.amount_due == D("12.60")  # 10,50 € + 20 % VAT
    page = finance.get(f"/invoices/{invoice.id}/credit-notes/new")
    assert fr("229.50") in page.text  # what is left to credit on the line


def test_a_credit_beyond_the_line_is_refused_next_to_its_amount(finance, session, invoice):
    (line,) = invoice.lines

    answer = finance.post(
        f"/invoices/{invoice.id}/credit-notes/new",
        {
            "reason": "Remise",
            "scope": "lines",
            f"line_{line.id}": "on",
            f"amount_{line.id}": "240,01",
        },
    )

    assert answer.status_code == 422
    assert f'id="amount_{line.id}-error"' in answer.text
    assert f"Au plus {fr('240.00')} HT peuvent encore être crédités sur la ligne 1." in answer.text
    assert 'value="240,01"' in answer.text and "Remise</textarea>" in answer.text
    assert count(session, Invoice, Invoice.kind == DocumentKind.CREDIT_NOTE) == 0


def test_a_credit_note_needs_a_reason_and_a_chosen_line(finance, session, invoice):
    (line,) = invoice.lines

    answer = finance.post(
        f"/invoices/{invoice.id}/credit-notes/new",
        {"reason": "  ", "scope": "lines", f"amount_{line.id}": "5"},
    )

    assert answer.status_code == 422
    assert 'id="reason-error"' in answer.text and "Ce champ est obligatoire." in answer.text
    assert "Cochez au moins une ligne à créditer." in answer.text
    assert "Cochez la ligne pour créditer ce montant." in answer.text
    assert count(session, Invoice, Invoice.kind == DocumentKind.CREDIT_NOTE) == 0


def test_a_credit_note_of_a_credit_note_is_refused_above_the_form(finance, session, invoice):
    note = services.create_credit_note(
        session,
        invoice.id,
        reason="Annulée",
        settings=billing_settings(),
        issued_by=None,
        issue_date=date(2026, 3, 3),
    )

    answer = finance.post(
        f"/invoices/{note.id}/credit-notes/new", {"reason": "Encore", "scope": "whole"}
    )

    assert answer.status_code == 422
    assert f"{note.number} est un avoir : seule une facture se corrige par un avoir." in answer.text
    assert count(session, Invoice, Invoice.kind == DocumentKind.CREDIT_NOTE) == 1


# --- Finance: payments ------------------------------------------------------------------


def test_finance_records_a_payment(finance, session, invoice):
    answer = finance.post(
        f"/invoices/{invoice.id}/payments/new",
        {"paid_on": "2026-03-20", "amount": "100,00", "reference": "Mandat 412"},
    )

    assert answer.status_code == 302
    session.refresh(invoice)
    assert invoice.amount_paid == D("100.00")
    assert invoice.payment_status is PaymentStatus.PARTLY_PAID
    page = finance.get(answer.location)
    assert f"Paiement de {fr('100.00')} enregistré sur {invoice.number}." in page.text
    assert "Payée en partie" in page.text and fr("188.00") in page.text


def test_a_payment_beyond_what_is_due_is_refused_next_to_the_amount(finance, session, invoice):
    answer = finance.post(
        f"/invoices/{invoice.id}/payments/new",
        {"paid_on": "2026-03-20", "amount": "288,01", "reference": "Mandat 412"},
    )

    assert answer.status_code == 422
    assert 'id="amount-error"' in answer.text
    assert f"Plus que les {fr('288.00')} restant dus sur {invoice.number}." in answer.text
    assert 'value="288,01"' in answer.text and 'value="Mandat 412"' in answer.text
    assert count(session, Payment) == 0


def test_a_payment_dated_in_the_future_or_unreadable_is_refused_per_field(
    finance, session, invoice
):
    tomorrow = today_in_paris() + timedelta(days=1)

    future = finance.post(
        f"/invoices/{invoice.id}/payments/new", {"paid_on": tomorrow.isoformat(), "amount": "10"}
    )
    garbled = finance.post(
        f"/invoices/{invoice.id}/payments/new", {"paid_on": "2026-03-20", "amount": "dix euros"}
    )

    assert future.status_code == 422 and 'id="paid_on-error"' in future.text
    assert "Ne peut pas être dans le futur." in future.text
    assert garbled.status_code == 422 and "Saisissez un nombre." in garbled.text
    assert count(session, Payment) == 0


# --- Finance: receivables ---------------------------------------------------------------


def test_receivables_by_age_on_a_day(finance, session, member, invoice):
    late = make_issued_invoice(
        session,
        member=make_member(session, name="Commune d'Audresselles"),
        issue_date=date(2026, 6, 15),
        price="50.00",
        quantity=1,
    )

    page = finance.get("/receivables?as_of=2026-07-31")

    assert page.status_code == 200
    assert "Créances au 31/07/2026" in page.text
    assert invoice.number in page.text and late.number in page.text
    assert fr("288.00") in page.text  # due 01/04: more than 90 days late
    assert fr("60.00") in page.text  # due 15/07: 16 days late
    assert fr("348.00") in page.text  # the total
    assert "Plus de 90 jours" in page.text

    one = finance.get(f"/receivables?as_of=2026-07-31&member_id={member.id}")
    assert invoice.number in one.text and late.number not in one.text
    before = finance.get("/receivables?as_of=2026-03-01")
    assert "Aucune créance à cette date." in before.text


def test_receivables_paginate_and_keep_the_totals_over_every_item(
    finance, session, member, invoice
):
    late = make_issued_invoice(
        session,
        member=make_member(session, name="Commune d'Audresselles"),
        issue_date=date(2026, 6, 15),
        price="50.00",
        quantity=1,
    )

    first = finance.get("/receivables?as_of=2026-07-31&per_page=1")
    second = finance.get("/receivables?as_of=2026-07-31&per_page=1&page=2")

    assert first.status_code == second.status_code == 200
    shown = [(invoice.number in p.text, late.number in p.text) for p in (first, second)]
    assert sorted(shown) == [(False, True), (True, False)]  # one item per page, none twice
    for page in (first, second):
        assert "2 résultats · page" in page.text
        assert fr("348.00") in page.text  # the total of both, on each page
        assert "Total (2 factures)" in page.text
    assert 'rel="next"' in first.text and 'rel="prev"' in second.text


def test_a_bad_receivables_date_is_named_and_today_shown(finance, invoice):
    page = finance.get("/receivables?as_of=31-07-2026")
    assert page.status_code == 200
    assert "Saisissez une date (jj/mm/aaaa)." in page.text
    assert f"Créances au {today_in_paris():%d/%m/%Y}" in page.text


# --- Finance: billing runs --------------------------------------------------------------


@pytest.fixture
def committing_app(request, database_url):
    """The application with its own sessions, which commit for real: a billing run started
    from a page works in a thread of its own, on a connection of its own. What the test
    commits is removed afterwards (``committed``)."""
    request.getfixturevalue("committed")
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "SESSION_COOKIE_SECURE": False,
        }
    )


def test_finance_starts_the_run_of_a_month_and_follows_it_to_its_invoices(committing_app):
    with committing_app.app_context():
        session = committing_app.extensions["centrale.sessionmaker"]()
        member = make_member(session, name="Commune de Tilques")
        make_order(session, member=member, status="delivered")  # delivered on 2026-02-01
        user, _token = make_user(session, role="finance")
        session.commit()
    finance = PageClient(committing_app.test_client(), user)

    answer = finance.post("/billing-runs", {"period": "2026-02", "issue_date": "2026-02-28"})

    assert answer.status_code == 302
    run_id = int(answer.location.rsplit("/", 1)[1])
    assert wait_for_billing_run(run_id, timeout=120)
    (issued,) = session.scalars(select(Invoice).where(Invoice.billing_run_id == run_id))
    assert issued.issue_date == date(2026, 2, 28) and issued.member_id == member.id
    page = finance.get(answer.location)
    assert "Facturation 2026-02" in page.text and "Terminée" in page.text
    assert f'href="/invoices/{issued.id}"' in page.text and issued.number in page.text
    assert "data-refresh" not in page.text
    assert f'href="/billing-runs/{run_id}"' in finance.get("/billing-runs").text

    # Issued on a day before the series' latest: the run stops and its page says why.
    make_order(session, member=member, status="delivered", delivered_on=date(2026, 3, 2))
    again = finance.post("/billing-runs", {"period": "2026-03", "issue_date": "2026-02-27"})
    assert wait_for_billing_run(int(again.location.rsplit("/", 1)[1]), timeout=120)
    failed = finance.get(again.location)
    assert "Échouée" in failed.text
    assert "sont émis jusqu&#39;au 28/02/2026" in failed.text
    session.close()


def test_a_bad_month_is_refused_next_to_the_box_and_nothing_runs(finance, session):
    answer = finance.post("/billing-runs", {"period": "2026-13"})

    assert answer.status_code == 422
    assert 'id="period-error"' in answer.text and "Saisissez un mois (AAAA-MM)." in answer.text
    assert 'value="2026-13"' in answer.text
    assert count(session, BillingRun) == 0


def test_a_running_billing_run_page_shows_its_progress_and_refreshes_itself(finance, session):
    running = BillingRun(
        period="2026-05", status=BillingRunStatus.RUNNING, members_total=10, members_done=4
    )
    session.add(running)
    session.commit()

    page = finance.get(f"/billing-runs/{running.id}")

    assert page.status_code == 200
    assert 'data-refresh="3"' in page.text and "Facturation en cours" in page.text
    assert '<progress value="4" max="10">' in page.text
    assert "4 membres sur 10 traités." in page.text
    assert finance.get("/billing-runs/999999").status_code == 404


def test_a_failed_billing_run_says_why_and_how_to_finish_it(finance, session):
    failed = BillingRun(
        period="2026-06",
        status=BillingRunStatus.FAILED,
        members_total=10,
        members_done=4,
        error="le rendu du PDF a échoué",
    )
    session.add(failed)
    session.commit()

    page = finance.get(f"/billing-runs/{failed.id}")

    assert "Échouée" in page.text and "le rendu du PDF a échoué" in page.text
    assert "relancez le mois" in page.text and "data-refresh" not in page.text


# --- Wording ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "french"),
    [
        ("must be more than 0", "Saisissez un montant supérieur à 0."),
        (
            "at most 12.50 can still be credited on line 2",
            f"Au plus {formats.euros(D('12.50'))} HT peuvent encore être crédités sur la ligne 2.",
        ),
        ("something new", "Opération refusée : vérifiez les données et réessayez."),
    ],
)
def test_service_refusals_read_in_french(message, french):
    assert french_message(message) == french
