"""The programme statement (figures and French PDF), and the programme file of the real
FEDER programme loaded by ``centrale subsidies load``, idempotently."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from pypdf import PdfReader
from sqlalchemy import func, select

from purchasing.audit.models import AuditRecord
from purchasing.catalog.loader import load_catalog
from purchasing.cli import main
from purchasing.config import PROJECT_ROOT, load_config
from purchasing.errors import Conflict, ImportRefused
from purchasing.subsidies import services
from purchasing.subsidies.loader import read_programme_file
from purchasing.subsidies.models import SubsidyProgramme, SubsidyReceipt
from tests.factories import (
    aid_request,
    make_draft_invoice,
    make_member,
    make_product,
    make_programme,
)

D = Decimal
FEDER_FILE = PROJECT_ROOT / "demo" / "feder.yaml"
NNBSP = "\u202f"  # the French thousands separator
NBSP = "\u00a0"  # between an amount and its currency


def french(amount: str) -> str:
    """'577013.94' as the PDF prints it: '577 013,94 €'."""
    units, cents = amount.split(".")
    groups = []
    while units:
        units, groups = units[:-3], [units[-3:], *groups]
    return f"{NNBSP.join(groups)},{cents}{NBSP}€"


@pytest.fixture
def catalogue(session):
    load_catalog(session, PROJECT_ROOT / "catalog", loaded_by=None)


@pytest.fixture
def feder(session, catalogue):
    services.load_programme(session, read_programme_file(FEDER_FILE), loaded_by=None)
    return session.scalar(select(SubsidyProgramme).where(SubsidyProgramme.code == "FEDER-MC-2024"))


class TestTheRealProgramme:
    def test_its_2024_figures(self, session, feder):
        statement = services.programme_statement(session, feder.id, as_of=date(2024, 12, 31))

        assert feder.eligible_skus == [
            "MC-DEMARCHES",
            "MC-DOMAINE",
            "MC-LEGALITE",
            "MC-MESSAGERIE",
            "MC-SITE",
        ]
        assert (statement.grant_total, statement.envelope, statement.partners_total) == (
            D("577013.94"),
            D("370835.54"),
            D("206178.40"),
        )
        assert (statement.received, statement.to_receive) == (D("384440.40"), D("192573.54"))
        assert (statement.reversed, statement.retained) == (D("206178.40"), D("178262.00"))
        assert (statement.consumed, statement.remaining) == (D("0.00"), D("370835.54"))
        assert [(p.code, p.share, p.reversed, p.left) for p in statement.partners] == [
            ("CDG59", D("103089.20"), D("103089.20"), D("0.00")),
            ("CDG62", D("103089.20"), D("103089.20"), D("0.00")),
        ]

    def test_before_the_second_tranche_only_the_advance_is_counted(self, session, feder):
        statement = services.programme_statement(session, feder.id, as_of=date(2024, 6, 30))
        assert [(r.received_on, r.amount) for r in statement.receipts] == [
            (date(2024, 3, 15), D("173104.18"))
        ]
        assert (statement.received, statement.reversed) == (D("173104.18"), D("0.00"))

    def test_loading_the_file_again_changes_nothing(self, session, feder):
        audit_records = session.scalar(select(func.count()).select_from(AuditRecord))

        summary = services.load_programme(session, read_programme_file(FEDER_FILE), loaded_by=None)

        assert summary == services.LoadSummary(
            code="FEDER-MC-2024",
            programme="unchanged",
            receipts_unchanged=2,
            reversals_unchanged=2,
        )
        assert session.scalar(select(func.count()).select_from(AuditRecord)) == audit_records

    def test_a_recorded_receipt_changed_in_the_file_is_refused(self, session, feder, tmp_path):
        changed = tmp_path / "feder.yaml"
        changed.write_text(
            FEDER_FILE.read_text(encoding="utf-8").replace("211336.22", "211336.23"),
            encoding="utf-8",
        )
        with pytest.raises(Conflict) as refused:
            services.load_programme(session, read_programme_file(changed), loaded_by=None)
        assert list(refused.value.errors) == ["receipts[2]"]
        session.rollback()
        assert session.scalar(select(func.sum(SubsidyReceipt.amount))) == D("384440.40")

    def test_a_faulty_file_is_refused_whole_with_each_field_named(self, tmp_path):
        faulty = tmp_path / "feder.yaml"
        faulty.write_text(
            FEDER_FILE.read_text(encoding="utf-8")
            .replace("grant_total: 577013.94", "grant_total: 577013.945")
            .replace("aid_kind: rate", "aid_kind: rebate"),
            encoding="utf-8",
        )
        with pytest.raises(ImportRefused) as refused:
            read_programme_file(faulty)
        assert refused.value.problems == [
            "grant_total: at most 2 decimal places",
            "aid_kind: Must be one of: rate, fixed_per_unit.",
        ]

    def test_the_operator_command_loads_it_and_prints_the_statement(self, app, session, catalogue):
        runner = CliRunner()
        info = ScriptInfo(create_app=lambda: app)
        with app.app_context():
            loaded = runner.invoke(main, ["subsidies", "load", str(FEDER_FILE)], obj=info)
            again = runner.invoke(main, ["subsidies", "load", str(FEDER_FILE)], obj=info)
            shown = runner.invoke(
                main, ["subsidies", "statement", "FEDER-MC-2024", "--as-of", "2024-12-31"], obj=info
            )
            unknown = runner.invoke(main, ["subsidies", "statement", "FEDER-XX"], obj=info)

        assert loaded.exit_code == 0, loaded.output
        assert loaded.output.splitlines() == [
            "programme FEDER-MC-2024: created",
            "receipts: 2 recorded, 0 already recorded",
            "reversals: 2 recorded, 0 already recorded",
        ]
        assert "programme FEDER-MC-2024: unchanged" in again.output
        figures = [line.split() for line in shown.output.splitlines()]
        assert ["received", "384440.40"] in figures
        assert ["remaining", "370835.54"] in figures
        assert "partner CDG62: share 103089.20, reversed 103089.20, left 0.00" in shown.output
        assert unknown.exit_code == 1
        assert "error: code: no subsidy programme FEDER-XX" in unknown.output


class TestStatement:
    def test_aid_per_member_as_of_a_day(self, session):
        product = make_product(session, subsidy_eligible=True)
        programme = make_programme(session, products=[product])
        small = make_member(session, name="Commune d'Audresselles", population=611)
        smaller = make_member(session, name="Commune de Bazinghen", population=410)

        def aid(member, gross, on):
            invoice = make_draft_invoice(session, member)
            services.allocate_aid(
                session,
                invoice_id=invoice.id,
                member_id=member.id,
                on=on,
                lines=[aid_request(1, product, gross)],
            )
            session.commit()
            return invoice

        invoice = aid(small, "120.00", date(2026, 2, 2))
        aid(smaller, "30.00", date(2026, 3, 2))
        note = make_draft_invoice(session, small, corrects=invoice)
        services.give_back_aid(
            session,
            credit_note_id=note.id,
            corrected_invoice_id=invoice.id,
            credited=[(1, D("40.00"))],
            on=date(2026, 3, 10),
        )
        aid(smaller, "500.00", date(2026, 5, 4))  # after the day of the statement
        session.commit()

        statement = services.programme_statement(session, programme.id, as_of=date(2026, 3, 31))

        assert [
            (m.member_name, m.granted, m.given_back, m.consumed) for m in statement.members
        ] == [
            ("Commune d'Audresselles", D("60.00"), D("20.00"), D("40.00")),
            ("Commune de Bazinghen", D("15.00"), D("0.00"), D("15.00")),
        ]
        assert (statement.granted, statement.given_back) == (D("75.00"), D("20.00"))
        assert (statement.consumed, statement.remaining) == (D("55.00"), D("545.00"))
        # Today, the running total on the programme is the sum of every movement.
        today = services.programme_statement(session, programme.id, as_of=date(2026, 12, 31))
        assert today.consumed == programme.consumed == D("305.00")

    def test_the_pdf_shows_the_figures_in_french(self, session, feder):
        statement = services.programme_statement(session, feder.id, as_of=date(2024, 12, 31))

        pdf = services.render_statement_pdf(statement, seller=load_config()["SELLER"])

        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
        assert "État de la subvention" in text
        assert "FEDER-MC-2024" in text
        assert "Situation au 31/12/2024" in text
        assert f"Subvention attribuée {french('577013.94')}" in text
        assert f"Part du syndicat (enveloppe) {french('370835.54')}" in text
        assert f"Enveloppe restante {french('370835.54')}" in text
        assert f"Subvention perçue {french('384440.40')}" in text
        assert f"Reversée aux partenaires {french('206178.40')}" in text
        assert f"15/03/2024 FEDER-MC-2024 avance 30 % {french('173104.18')}" in text
        assert f"CDG59\n{french('103089.20')} {french('103089.20')} {french('0.00')}" in text
        assert "compris dans la base de la TVA" in text
