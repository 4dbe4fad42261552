"""Importing members from CSV: the service and the ``centrale members import`` command."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from purchasing.audit.models import AuditRecord
from purchasing.config import PROJECT_ROOT
from purchasing.errors import ImportRefused
from purchasing.members import services
from purchasing.members.cli import members as members_command
from purchasing.members.models import Adhesion, AdhesionStatus, Member, MemberKind
from tests.factories import make_member

DEMO_FILE = PROJECT_ROOT / "demo" / "members.csv"
HEADER = (
    "name;kind;siret;insee_code;population;departement_code;address_line1;postal_code;city;"
    "billing_email;adhesion_status;convention_number;deliberation_reference;"
    "deliberation_date;adhesion_start_date"
)
ARRAS = (
    "Commune d'Arras;commune;21620041000019;62041;41555;62;Hôtel de Ville;62000;Arras;"
    "factures@ville-arras.fr;active;CONV-2023-001;DEL-2023-017;2023-02-20;2023-04-01"
)
BAILLEUL = (
    "Commune de Bailleul;commune;21590043200018;59043;14803;59;1 Grand'Place;59270;Bailleul;"
    "comptabilite@ville-bailleul.fr;;;;;"
)


def csv_text(*rows: str) -> str:
    return "\n".join((HEADER, *rows)) + "\n"


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def refusal(session, content: str | bytes) -> list[str]:
    with pytest.raises(ImportRefused) as refused:
        services.import_members_csv(session, content, source_name="members.csv", imported_by=None)
    assert count(session, Member) == 0, "a refused file imports nothing"
    assert refused.value.errors == {"file": refused.value.problems}
    return refused.value.problems


def test_the_demo_file_imports_every_member_with_its_adhesion(session):
    imported = services.import_members_csv(
        session, DEMO_FILE.read_bytes(), source_name="members.csv", imported_by=None
    )

    members = session.scalars(select(Member)).all()
    assert imported == len(members) == 12
    assert {m.kind for m in members} == set(MemberKind)
    assert {m.departement_code for m in members} == {"59", "62"}
    assert any(m.kind is MemberKind.COMMUNE and m.population < 1000 for m in members)
    assert any(m.kind is MemberKind.COMMUNE and 1000 <= m.population < 3500 for m in members)
    assert all(m.current_adhesion.status is AdhesionStatus.ACTIVE for m in members)
    assert any(m.chorus_engagement_required and m.chorus_service_code for m in members)
    region = next(m for m in members if m.kind is MemberKind.REGION)
    assert region.vat_number == "FR25200053742"


def test_imported_members_and_adhesions_are_audited(session):
    services.import_members_csv(
        session, csv_text(ARRAS, BAILLEUL), source_name="2023.csv", imported_by=None
    )
    records = session.scalars(select(AuditRecord).order_by(AuditRecord.id)).all()
    assert [r.action for r in records] == [
        "member.imported",
        "adhesion.imported",
        "member.imported",
    ]
    assert records[0].after["imported_from"] == "2023.csv"
    assert records[0].actor_label == "system"
    assert records[1].after["convention_number"] == "CONV-2023-001"


def test_reads_what_a_french_spreadsheet_saves(session):
    # Byte-order mark, commas, columns in another order, French dates, thousands spaces.
    content = (
        "\ufeffsiret,name,kind,insee_code,population,departement_code,address_line1,"
        "postal_code,city,billing_email,chorus_engagement_required,adhesion_status,"
        "convention_number,deliberation_reference,deliberation_date,adhesion_start_date\r\n"
        '216 200 410 00019,"Commune d\'Arras, Pas-de-Calais",commune,62041,41 555,62,'
        "Hôtel de Ville,62000,Arras,factures@ville-arras.fr,Oui,active,CONV-2023-001,"
        "DEL-2023-017,20/02/2023,01/04/2023\r\n"
    ).encode()
    assert services.import_members_csv(session, content, source_name="x", imported_by=None) == 1

    member = session.scalar(select(Member))
    assert (member.name, member.siret, member.population) == (
        "Commune d'Arras, Pas-de-Calais",
        "21620041000019",
        41555,
    )
    assert member.chorus_engagement_required is True
    adhesion = member.current_adhesion
    assert (adhesion.deliberation_date, adhesion.start_date) == (
        date(2023, 2, 20),
        date(2023, 4, 1),
    )
    assert adhesion.requested_on is None  # not known for members of an earlier register


def test_a_member_without_adhesion_columns_is_imported_without_adhesion(session):
    services.import_members_csv(session, csv_text(BAILLEUL), source_name="x", imported_by=None)
    assert count(session, Member) == 1
    assert count(session, Adhesion) == 0


def test_every_problem_is_reported_with_its_line_and_column(session):
    content = csv_text(
        ARRAS,
        # line 3: bad SIRET checksum and an e-mail that is not one
        BAILLEUL.replace("21590043200018", "21590043200019").replace("@", " at "),
        # line 4: a commune without INSEE code, a negative population
        "Commune X;commune;21590209900013;;-5;59;Mairie;59470;Esquelbecq;m@esquelbecq.fr;;;;;",
        # line 5: an active adhesion lacking its convention, starting before its deliberation
        "Commune Y;commune;21620054300017;62054;611;62;Mairie;62164;Audresselles;"
        "m@audresselles.fr;active;;DEL-1;2023-04-11;2023-04-10",
        # line 6: an unknown kind and a département that does not exist
        "Z;mairie;20004094700018;;10;96;Rue;59190;Hazebrouck;f@cc.fr;;;;;",
        # line 7: adhesion columns filled without saying the adhesion is active
        "CC;epci;24620036400015;;22416;62;Rue;62250;Marquise;f@cc.fr;;CONV-1;DEL-1;;",
    )
    assert refusal(session, content) == [
        "line 3: siret: invalid SIRET (checksum)",
        "line 3: billing_email: Not a valid email address.",
        "line 4: insee_code: required for a commune",
        "line 4: population: Must be greater than or equal to 0.",
        "line 5: convention_number: required to activate an adhesion",
        "line 5: adhesion_start_date: before the deliberation approving the adhesion (2023-04-11)",
        "line 6: kind: Must be one of: commune, epci, departement, region, syndicat, "
        "etablissement_public, other.",
        "line 6: departement_code: unknown département code (like 59, 2A or 974)",
        "line 7: adhesion_status: 'active' when the adhesion columns are filled",
    ]


def test_a_siret_twice_in_the_file_or_already_a_members_is_refused(session):
    existing = make_member(session, siret="21590043200018")
    before = count(session, Member)
    content = csv_text(
        ARRAS,
        BAILLEUL,
        ARRAS.replace("Commune d'Arras", "Ville d'Arras").replace(
            "21620041000019", "216 200 410 00019"
        ),
        # A row with another fault still counts in the search for duplicates.
        ARRAS.replace("62041", "62XYZ"),
    )
    with pytest.raises(ImportRefused) as refused:
        services.import_members_csv(session, content, source_name="x", imported_by=None)
    assert refused.value.problems == [
        f"line 3: siret: already the SIRET of member {existing.id}",
        "line 4: siret: duplicate of line 2",
        "line 5: insee_code: invalid INSEE code (2 digits or 2A/2B, then 3 digits)",
        "line 5: siret: duplicate of line 2",
    ]
    assert count(session, Member) == before


def test_the_header_is_checked_before_any_row(session):
    content = "name;kind;siret;colour;siret\nA;commune;1;blue;1\n"
    assert refusal(session, content) == [
        "line 1: header: repeated column(s) siret",
        "line 1: header: unknown column(s) colour",
        "line 1: header: missing column(s) population, departement_code, address_line1, "
        "postal_code, city, billing_email",
    ]


def test_rows_with_a_wrong_number_of_cells_are_located_even_after_a_multiline_cell(session):
    content = csv_text(
        ARRAS.replace("Hôtel de Ville", '"Hôtel de Ville\nPlace des Héros"'),
        BAILLEUL + ";extra",
    )
    # Arras spans lines 2-3, so Bailleul is on line 4.
    assert refusal(session, content) == ["line 4: 16 cells for 15 columns"]


def test_a_file_that_is_not_utf8_is_refused_with_the_line(session):
    content = csv_text(ARRAS, BAILLEUL).encode("cp1252")
    assert refusal(session, content) == ["line 2: not UTF-8 text; save the file as CSV UTF-8"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "line 1: header: the first line must name the columns"),
        (HEADER + "\n\n", "line 2: no member rows after the header"),
    ],
)
def test_an_empty_file_is_refused(session, content, problem):
    assert refusal(session, content) == [problem]


class TestCommand:
    def test_imports_a_file_and_says_how_many(self, app, session, tmp_path):
        path = tmp_path / "members.csv"
        path.write_text(csv_text(ARRAS, BAILLEUL), encoding="utf-8")
        result = app.test_cli_runner().invoke(members_command, ["import", str(path)])
        assert result.exit_code == 0, result.output
        assert result.stdout == "2 members imported\n"
        assert count(session, Member) == 2

    def test_prints_every_problem_and_fails(self, app, session, tmp_path):
        path = tmp_path / "members.csv"
        path.write_text(csv_text(ARRAS, ARRAS), encoding="utf-8")
        result = app.test_cli_runner().invoke(members_command, ["import", str(path)])
        assert result.exit_code == 1
        assert result.stderr.splitlines() == [
            f"error: {path}: 1 problem(s), nothing imported",
            "error: file: line 3: siret: duplicate of line 2",
        ]
        assert count(session, Member) == 0

    def test_lists_members(self, app, session):
        member = make_member(session, name="Commune de Wimille", kind=MemberKind.COMMUNE)
        result = app.test_cli_runner().invoke(members_command, ["list", "--kind", "commune"])
        assert result.exit_code == 0, result.output
        assert f"{member.siret}  commune" in result.stdout
        assert result.stdout.rstrip().endswith("active     Commune de Wimille")
