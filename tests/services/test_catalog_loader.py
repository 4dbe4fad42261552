"""Loading the catalogue from YAML: the shipped files, idempotence, and refusals that
name the file, the entry and the field while leaving the database as it was."""

from __future__ import annotations

import shutil
import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from purchasing.audit.models import AuditRecord
from purchasing.catalog import services
from purchasing.catalog.cli import catalog as catalog_command
from purchasing.catalog.deliberations import Deliberation
from purchasing.catalog.loader import load_catalog
from purchasing.catalog.models import (
    Account,
    Market,
    MarketLot,
    PriceVersion,
    PriceVersionStatus,
    Product,
    ProductFamily,
    ServiceDomain,
    Supplier,
)
from purchasing.catalog.pricing import PurchaseMode
from purchasing.config import PROJECT_ROOT
from purchasing.errors import ImportRefused

SHIPPED = PROJECT_ROOT / "catalog"
TABLES = (Account, ProductFamily, Supplier, Market, MarketLot, Product, PriceVersion, AuditRecord)

#: Every family and module DESIGN.md names, as SKUs of the shipped catalogue.
DESIGN_MODULES = {
    "telecom": [
        "TEL-FTTH-1G", "TEL-FTTO-100M", "TEL-FTTO-1G", "TEL-SDSL-4M", "TEL-4G-SECOURS",
        "TEL-INTERCO-1G", "TEL-SIP-10", "TEL-POSTE-IP", "TEL-MOBILE-20G", "TEL-WIFI-BORNE",
        "TEL-WIFI-PUBLIC", "TEL-SDWAN", "TEL-CABLAGE-RJ45",
    ],
    "video_protection": [
        "VID-ETUDE", "VID-AMO-JOUR", "VID-CAM-DOME", "VID-CAM-TUBE", "VID-CAM-LAPI",
        "VID-POSE-CAMERA", "VID-MAINTENANCE",
    ],
    "mairie_connectee": [
        "MC-DOMAINE", "MC-MESSAGERIE", "MC-SITE", "MC-DEMARCHES", "MC-VISIO", "MC-PARTAGE",
        "MC-PROFIL-ACHETEUR", "MC-LEGALITE", "MC-CERTIFICAT", "MC-PARAPHEUR", "MC-SAUVEGARDE",
        "MC-ARCHIVAGE", "MC-RGPD", "MC-ANTIVIRUS", "MC-MOTS-DE-PASSE", "MC-NAS", "MC-EDR",
        "MC-MACHINE-VIRTUELLE", "MC-HEBERGEMENT",
    ],
    "iot": [
        "IOT-CONNECTIVITE", "IOT-CAPTEUR-EAU", "IOT-ECLAIRAGE", "IOT-CAPTEUR-AIR",
        "IOT-CAPTEUR-PARKING", "IOT-PLATEFORME",
    ],
    "cybersecurity": [
        "CYB-DIAGNOSTIC", "CYB-AUDIT-TECHNIQUE", "CYB-FORMATION", "CYB-ASTREINTE-INCIDENT",
        "CYB-INTERVENTION-INCIDENT",
    ],
}  # fmt: skip


def _counts(session: Session) -> dict[str, int]:
    return {t.__name__: session.scalar(select(func.count()).select_from(t)) for t in TABLES}


# --- a small catalogue to break -------------------------------------------------------

FILES = {
    "accounts.yaml": """\
        accounts:
          - {number: "706", label: Prestations de services}
          - {number: "7062", label: Prestations - services numériques}
          - {number: "6042", label: Achats - services numériques}
        """,
    "families.yaml": """\
        families:
          - code: digital
            name: Services numériques
            purchase_mode: wholesaler
            margin_rate: 0.0538
            sales_account: "7062"
            purchase_account: "6042"
            service_domain: mairie_connectee
            margin_deliberation: "2024-17 du 12/03/2024"
          - code: telecom
            name: Télécommunications
            purchase_mode: intermediary
            margin_rate: 0
            service_domain: telecom
            margin_deliberation: "2024-17 du 12/03/2024"
        """,
    "suppliers.yaml": """\
        suppliers:
          - code: HPN
            name: Hébergeur Public Numérique
            siret: "88460513000126"
            address: 3 rue des Serveurs
            postal_code: "59300"
            city: Valenciennes
            email: contact@hpn.example
        """,
    "markets.yaml": """\
        markets:
          - number: MAR-2024-02
            title: Mairie Connectée
            start_date: 2024-09-01
            end_date: 2028-08-31
            lots:
              - number: "1"
                title: Présence en ligne
                supplier: HPN
                yearly_ceiling: 150000.00
              - number: "2"
                title: Collaboration
                supplier: HPN
        """,
    "products/digital.yaml": """\
        products:
          - sku: MC-MAIL
            name: Boîte de messagerie
            family: digital
            supplier: HPN
            market_reference: MAR-2024-02 lot 1
            unit: boîte
            billing: monthly
            vat_rate: 0.2000
            subsidy_eligible: true
            prices:
              - valid_from: 2025-01-01
                valid_to: 2025-12-31
                supplier_cost: 3.20
                deliberation: "2024-41 du 10/12/2024"
              - valid_from: 2026-01-01
                supplier_cost: 3.40
                deliberation: "2025-38 du 09/12/2025"
        """,
}


def _write(directory: Path, name: str, text: str) -> None:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        _write(tmp_path, name, text)
    return tmp_path


def _edit(directory: Path, name: str, old: str, new: str) -> None:
    path = directory / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _refusal(session: Session, directory: Path) -> list[str]:
    """Load ``directory``, expect a refusal, check the database is untouched."""
    before = _counts(session)
    with pytest.raises(ImportRefused) as caught:
        load_catalog(session, directory, loaded_by=None)
    assert _counts(session) == before
    return caught.value.problems


# --- the shipped catalogue ------------------------------------------------------------


def test_the_shipped_catalogue_loads_and_covers_every_family_and_module(session):
    summary = load_catalog(session, SHIPPED, loaded_by=None)

    assert summary.counts["families"].created == 5
    assert summary.counts["products"].created >= 60
    skus_by_family = {
        code: set(session.scalars(select(Product.sku).join(Product.family).where(
            ProductFamily.code == code
        )))
        for code in DESIGN_MODULES
    }  # fmt: skip
    for code, skus in DESIGN_MODULES.items():
        assert set(skus) <= skus_by_family[code], code
    # Every product can be priced today and on the first day of the sample prices.
    for product in session.scalars(select(Product)):
        services.price_on(session, product.id, date(2025, 1, 1))
    assert session.scalar(select(func.count()).select_from(AuditRecord)) == summary.changes


def test_the_shipped_catalogue_follows_the_design_purchase_modes(session):
    load_catalog(session, SHIPPED, loaded_by=None)
    modes = {f.code: f.purchase_mode for f in session.scalars(select(ProductFamily))}
    assert modes["video_protection"] is PurchaseMode.WHOLESALER
    assert modes["mairie_connectee"] is PurchaseMode.WHOLESALER
    assert modes["telecom"] is PurchaseMode.INTERMEDIARY
    video = session.scalar(select(ProductFamily).where(ProductFamily.code == "video_protection"))
    assert video.margin_rate == Decimal("0.0162")
    assert (video.sales_account.number, video.purchase_account.number) == ("7061", "6041")
    camera = services.price_on(
        session, services.get_product(session, "VID-CAM-DOME").id, date(2025, 6, 1)
    )
    assert (camera.sales_account, camera.purchase_account) == ("7071", "6071")
    assert camera.sale_price == Decimal("487.78")  # 480.00 x 1.0162


def test_loading_twice_changes_nothing_the_second_time(session):
    first = load_catalog(session, SHIPPED, loaded_by=None)
    after_first = _counts(session)

    second = load_catalog(session, SHIPPED, loaded_by=None)

    assert first.changes > 0
    assert second.changes == 0
    assert second.counts["price_versions"].unchanged == first.counts["price_versions"].created
    assert _counts(session) == after_first  # no audit record either


def test_the_cli_prints_the_summary(app, session):
    result = app.test_cli_runner().invoke(catalog_command, ["load", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    assert "change(s)" in result.output.splitlines()[-1]
    assert session.scalar(select(func.count()).select_from(ProductFamily)) == 5


def test_the_cli_reports_each_problem_and_exits_non_zero(app, session, catalog_dir):
    _edit(catalog_dir, "products/digital.yaml", "    unit: boîte\n", "")
    result = app.test_cli_runner().invoke(catalog_command, ["load", str(catalog_dir)])
    assert result.exit_code == 1
    assert "error: file: products/digital.yaml: MC-MAIL: unit: Missing data" in result.output
    assert session.scalar(select(func.count()).select_from(Product)) == 0


# --- updates --------------------------------------------------------------------------


def test_closing_a_version_in_force_updates_it_and_leaves_an_audit_record(session, catalog_dir):
    load_catalog(session, catalog_dir, loaded_by=None)
    _edit(catalog_dir, "products/digital.yaml", "- valid_from: 2026-01-01\n",
          "- valid_from: 2026-01-01\n        valid_to: 2026-12-31\n")  # fmt: skip

    summary = load_catalog(session, catalog_dir, loaded_by=None)

    assert summary.changes == 1
    assert summary.counts["price_versions"].updated == 1
    record = session.scalars(
        select(AuditRecord).where(AuditRecord.action == "price_version.updated")
    ).one()
    assert (record.before, record.after) == ({"valid_to": None}, {"valid_to": "2026-12-31"})
    assert record.actor_label == "system"


def test_the_prices_and_deliberation_of_a_version_in_force_never_change(session, catalog_dir):
    load_catalog(session, catalog_dir, loaded_by=None)
    before = _counts(session)
    _edit(catalog_dir, "products/digital.yaml", "supplier_cost: 3.40", "supplier_cost: 3.50")
    _edit(catalog_dir, "products/digital.yaml", "2024-41 du 10/12/2024", "2025-02 du 11/02/2025")

    assert _refusal(session, catalog_dir) == [
        "products/digital.yaml: MC-MAIL: prices[1].deliberation: the version in force from "
        "2025-01-01 has 2024-41 du 10/12/2024: prices in force and their deliberation never "
        "change; add a version from the day the new prices apply",
        "products/digital.yaml: MC-MAIL: prices[2].supplier_cost: the version in force from "
        "2026-01-01 has 3.40: prices in force and their deliberation never change; add a "
        "version from the day the new prices apply",
    ]
    assert _counts(session) == before
    mail = services.get_product(session, "MC-MAIL")
    assert [(v.supplier_cost, v.deliberation.reference) for v in mail.price_versions] == [
        (Decimal("3.20"), "2024-41"),
        (Decimal("3.40"), "2025-38"),
    ]


def test_an_explicit_sale_price_added_to_a_version_in_force_is_refused(session, catalog_dir):
    load_catalog(session, catalog_dir, loaded_by=None)
    _edit(catalog_dir, "products/digital.yaml", "supplier_cost: 3.40\n",
          "supplier_cost: 3.40\n        sale_price: 3.70\n")  # fmt: skip

    [problem] = _refusal(session, catalog_dir)

    assert problem.startswith(
        "products/digital.yaml: MC-MAIL: prices[2].sale_price: the version in force from "
        "2026-01-01 has none: "
    )


def _add_2027_version(directory: Path) -> None:
    """Close the 2026 version at the end of 2026 and add a version from 2027, at 3.40."""
    _edit(directory, "products/digital.yaml", "- valid_from: 2026-01-01\n",
          "- valid_from: 2026-01-01\n        valid_to: 2026-12-31\n")  # fmt: skip
    _edit(directory, "products/digital.yaml", '2025-38 du 09/12/2025"\n',
          '2025-38 du 09/12/2025"\n      - valid_from: 2027-01-01\n        supplier_cost: 3.40\n'
          '        deliberation: "2026-40 du 08/12/2026"\n')  # fmt: skip


def test_a_margin_change_reprices_new_versions_only_and_warns(session, catalog_dir):
    load_catalog(session, catalog_dir, loaded_by=None)
    mail = services.get_product(session, "MC-MAIL")
    _edit(catalog_dir, "families.yaml", "margin_rate: 0.0538", "margin_rate: 0.1000")
    _add_2027_version(catalog_dir)

    summary = load_catalog(session, catalog_dir, loaded_by=None)

    assert "margin rate 0.0538 -> 0.1000" in summary.warnings[0]
    assert services.price_on(session, mail.id, date(2026, 6, 1)).sale_price == Decimal("3.58")
    assert services.price_on(session, mail.id, date(2027, 6, 1)).sale_price == Decimal("3.74")


def test_a_new_rate_and_its_deliberation_leave_recorded_versions_theirs(session, catalog_dir):
    load_catalog(session, catalog_dir, loaded_by=None)
    _edit(catalog_dir, "families.yaml", "margin_rate: 0.0538", "margin_rate: 0.1000")
    _edit(catalog_dir, "families.yaml", "2024-17 du 12/03/2024", "2026-39 du 08/12/2026")
    _add_2027_version(catalog_dir)

    load_catalog(session, catalog_dir, loaded_by=None)

    mail = services.get_product(session, "MC-MAIL")
    assert [(v.margin_rate, str(v.margin_deliberation)) for v in mail.price_versions] == [
        (Decimal("0.0538"), "2024-17 du 12/03/2024"),
        (Decimal("0.0538"), "2024-17 du 12/03/2024"),
        (Decimal("0.1000"), "2026-39 du 08/12/2026"),
    ]
    assert str(mail.family.margin_deliberation) == "2026-39 du 08/12/2026"


def test_a_directory_with_only_products_may_refer_to_recorded_families(session, catalog_dir):
    load_catalog(session, catalog_dir, loaded_by=None)
    for name in ("accounts.yaml", "families.yaml", "suppliers.yaml", "markets.yaml"):
        (catalog_dir / name).unlink()
    _edit(catalog_dir, "products/digital.yaml", "name: Boîte de messagerie", "name: Messagerie")

    summary = load_catalog(session, catalog_dir, loaded_by=None)

    assert summary.counts["products"].updated == 1
    assert services.get_product(session, "MC-MAIL").name == "Messagerie"


def test_a_dry_run_counts_the_changes_and_writes_nothing(session, catalog_dir):
    before = _counts(session)
    summary = load_catalog(session, catalog_dir, loaded_by=None, dry_run=True)
    assert summary.dry_run
    assert summary.counts["products"].created == 1
    assert _counts(session) == before


# --- refusals -------------------------------------------------------------------------


def test_a_missing_field_is_refused_with_file_entry_and_field(session, catalog_dir):
    _edit(catalog_dir, "products/digital.yaml", "    market_reference: MAR-2024-02 lot 1\n", "")
    assert _refusal(session, catalog_dir) == [
        "products/digital.yaml: MC-MAIL: market_reference: Missing data for required field."
    ]


def test_an_unknown_family_is_refused(session, catalog_dir):
    _edit(catalog_dir, "products/digital.yaml", "family: digital", "family: numerique")
    assert _refusal(session, catalog_dir) == [
        "products/digital.yaml: MC-MAIL: family: "
        "no family 'numerique' in families.yaml nor in the database"
    ]


def test_an_unknown_supplier_and_account_are_refused(session, catalog_dir):
    _edit(catalog_dir, "products/digital.yaml", "supplier: HPN", "supplier: HNP")
    _edit(catalog_dir, "families.yaml", 'sales_account: "7062"', 'sales_account: "7069"')
    assert _refusal(session, catalog_dir) == [
        "families.yaml: digital: sales_account: no account 7069 in accounts.yaml nor in the "
        "database",
        "products/digital.yaml: MC-MAIL: supplier: "
        "no supplier 'HNP' in suppliers.yaml nor in the database",
    ]


def test_an_account_of_the_wrong_kind_or_a_heading_is_refused(session, catalog_dir):
    _edit(catalog_dir, "families.yaml", 'sales_account: "7062"', 'sales_account: "706"')
    _edit(catalog_dir, "families.yaml", 'purchase_account: "6042"', 'purchase_account: "7062"')
    assert _refusal(session, catalog_dir) == [
        "families.yaml: digital: sales_account: "
        "account 706 is a heading: use one of its sub-accounts",
        "families.yaml: digital: purchase_account: "
        "account 7062 is a revenue account; expense needed",
    ]


def test_a_bad_siret_is_refused(session, catalog_dir):
    _edit(catalog_dir, "suppliers.yaml", '"88460513000126"', '"88460513000127"')
    [problem] = _refusal(session, catalog_dir)
    assert problem.startswith("suppliers.yaml: HPN: siret: not a valid SIRET")


def test_a_siret_already_held_by_another_supplier_is_refused(session, catalog_dir):
    load_catalog(session, catalog_dir, loaded_by=None)
    _edit(catalog_dir, "suppliers.yaml", "code: HPN", "code: HPN-BIS")
    _edit(catalog_dir, "products/digital.yaml", "supplier: HPN", "supplier: HPN-BIS")
    _edit(catalog_dir, "markets.yaml", "supplier: HPN", "supplier: HPN-BIS")
    assert _refusal(session, catalog_dir) == [
        "suppliers.yaml: HPN-BIS: siret: also the SIRET of supplier HPN"
    ]


def test_a_bad_vat_rate_is_refused(session, catalog_dir):
    _edit(catalog_dir, "products/digital.yaml", "vat_rate: 0.2000", "vat_rate: 0.196")
    [problem] = _refusal(session, catalog_dir)
    assert problem.startswith("products/digital.yaml: MC-MAIL: vat_rate: not a French VAT rate")


def test_overlapping_versions_are_refused(session, catalog_dir):
    _edit(catalog_dir, "products/digital.yaml", "valid_to: 2025-12-31", "valid_to: 2026-01-01")
    assert _refusal(session, catalog_dir) == [
        "products/digital.yaml: MC-MAIL: prices[2].valid_from: "
        "overlaps prices[1] (from 2025-01-01 to 2026-01-01)"
    ]


def test_two_versions_starting_the_same_day_are_refused(session, catalog_dir):
    _edit(catalog_dir, "products/digital.yaml", "valid_from: 2026-01-01", "valid_from: 2025-01-01")
    problems = _refusal(session, catalog_dir)
    assert problems == [
        "products/digital.yaml: MC-MAIL: prices[2].valid_from: same start as prices[1]"
    ]


def test_a_version_overlapping_one_recorded_since_is_refused(session, catalog_dir):
    _write(
        catalog_dir,
        "products/digital.yaml",
        FILES["products/digital.yaml"].split("                valid_to: 2025-12-31\n")[0]
        + "                supplier_cost: 3.20\n"
        + '                deliberation: "2024-41 du 10/12/2024"\n',
    )
    load_catalog(session, catalog_dir, loaded_by=None)
    # Staff add a 2026 price through the API: the open 2025 version is closed on 2025-12-31.
    services.add_price_version(
        session,
        "MC-MAIL",
        valid_from=date(2026, 1, 1),
        supplier_cost=Decimal("3.40"),
        deliberation=Deliberation("2025-38", date(2025, 12, 9)),
        added_by=None,
    )

    # Reloading the unchanged file would reopen the 2025 version over the 2026 one.
    assert _refusal(session, catalog_dir) == [
        "products/digital.yaml: MC-MAIL: prices[1].valid_to: "
        "overlaps the version recorded in the database (from 2026-01-01, open-ended)"
    ]


def test_a_resale_below_cost_is_refused_for_a_wholesaler(session, catalog_dir):
    _edit(catalog_dir, "products/digital.yaml", "supplier_cost: 3.20",
          "supplier_cost: 3.20\n        sale_price: 3.00")  # fmt: skip
    assert _refusal(session, catalog_dir) == [
        "products/digital.yaml: MC-MAIL: prices[1].sale_price: "
        "3.00 is below the supplier_cost 3.20: a wholesaler family never resells at a loss"
    ]


def test_a_yaml_syntax_error_is_located_by_line(session, catalog_dir):
    _edit(catalog_dir, "suppliers.yaml", "    city: Valenciennes", "    city: [Valenciennes")
    [problem] = _refusal(session, catalog_dir)
    assert problem.startswith("suppliers.yaml: line 8, column ")


def test_a_duplicated_key_is_refused(session, catalog_dir):
    _edit(catalog_dir, "products/digital.yaml", "    unit: boîte\n",
          "    unit: boîte\n    unit: licence\n")  # fmt: skip
    assert _refusal(session, catalog_dir) == [
        "products/digital.yaml: line 8, column 5: key 'unit' appears twice"
    ]


def test_an_unknown_key_is_refused(session, catalog_dir):
    _edit(
        catalog_dir,
        "products/digital.yaml",
        "    unit: boîte\n",
        "    unit: boîte\n    colour: blue\n",
    )
    assert _refusal(session, catalog_dir) == [
        "products/digital.yaml: MC-MAIL: colour: Unknown field."
    ]


def test_entries_without_an_id_are_named_by_position(session, catalog_dir):
    _edit(catalog_dir, "suppliers.yaml", "  - code: HPN\n    name", "  - name")
    [problem, *_] = _refusal(session, catalog_dir)
    assert problem == "suppliers.yaml: entry 1: code: Missing data for required field."


def test_every_problem_of_every_file_is_reported_at_once(session, catalog_dir):
    _edit(catalog_dir, "suppliers.yaml", "email: contact@hpn.example", "email: not-an-email")
    _edit(catalog_dir, "products/digital.yaml", "billing: monthly", "billing: weekly")
    _edit(catalog_dir, "products/digital.yaml", "supplier_cost: 3.40", "supplier_cost: -3.40")
    _write(
        catalog_dir,
        "products/extra.yaml",
        FILES["products/digital.yaml"]
        .replace("MC-MAIL", "MC-VISIO")
        .replace("supplier: HPN", "supplier: OTHER"),
    )
    assert _refusal(session, catalog_dir) == [
        "suppliers.yaml: HPN: email: Not a valid email address.",
        "products/digital.yaml: MC-MAIL: billing: Must be one of: one_off, monthly, yearly.",
        "products/digital.yaml: MC-MAIL: prices[2].supplier_cost: "
        "must be from 0 to 999999999999.99",
        "products/extra.yaml: MC-VISIO: supplier: "
        "no supplier 'OTHER' in suppliers.yaml nor in the database",
    ]


def test_a_duplicate_sku_across_files_is_refused(session, catalog_dir):
    shutil.copy(catalog_dir / "products/digital.yaml", catalog_dir / "products/copy.yaml")
    assert _refusal(session, catalog_dir) == [
        "products/digital.yaml: MC-MAIL: sku: duplicate: already in products/copy.yaml"
    ]


def test_an_unexpected_file_is_refused(session, catalog_dir):
    _write(catalog_dir, "produits.yaml", "products: []\n")
    assert _refusal(session, catalog_dir) == [
        "produits.yaml: unexpected file: expected accounts.yaml, families.yaml, "
        "suppliers.yaml, markets.yaml or products/*.yaml"
    ]


def test_a_file_without_its_top_level_key_is_refused(session, catalog_dir):
    _write(catalog_dir, "families.yaml", "- code: digital\n")
    assert _refusal(session, catalog_dir) == [
        "families.yaml: expected a single top-level key 'families:' holding a list"
    ]


def test_a_failure_while_writing_leaves_nothing_behind(session, catalog_dir, monkeypatch):
    from purchasing.catalog import loader

    calls = []

    def failing_record_change(*args, **kwargs):
        calls.append(kwargs["action"])
        if len(calls) == 6:
            raise RuntimeError("disk full")

    monkeypatch.setattr(loader, "record_change", failing_record_change)
    before = _counts(session)
    with pytest.raises(RuntimeError, match="disk full"):
        load_catalog(session, catalog_dir, loaded_by=None)
    assert calls[:3] == ["account.created"] * 3  # rows were written before the failure
    assert _counts(session) == before


def test_a_missing_directory_is_refused(session, tmp_path):
    with pytest.raises(ImportRefused, match="nothing imported"):
        load_catalog(session, tmp_path / "nowhere", loaded_by=None)


# --- markets, lots and deliberations ----------------------------------------------------


def test_the_shipped_catalogue_buys_every_product_under_a_lot_of_its_supplier(session):
    load_catalog(session, SHIPPED, loaded_by=None)

    products = session.scalars(select(Product)).all()
    assert all(p.lot is not None and p.lot.supplier_id == p.supplier_id for p in products)
    assert all(p.market_reference == p.lot.reference for p in products)
    markets = {m.number: m for m in session.scalars(select(Market))}
    assert len(markets) == 5
    assert session.scalar(select(func.count()).select_from(MarketLot)) == 12
    # Every sample price is in force on some day of its market.
    assert all(p.lot.market.start_date <= date(2025, 1, 1) for p in products)


def test_the_shipped_tariffs_carry_their_deliberations(session):
    load_catalog(session, SHIPPED, loaded_by=None)

    families = session.scalars(select(ProductFamily)).all()
    assert {f.code: f.service_domain.value for f in families} == {
        code: code for code in ServiceDomain
    }
    assert {f.margin_deliberation for f in families} == {Deliberation("2024-17", date(2024, 3, 12))}
    versions = session.scalars(select(PriceVersion)).all()
    assert {v.status for v in versions} == {PriceVersionStatus.ACTIVE}
    assert {(v.valid_from, str(v.deliberation)) for v in versions} == {
        (date(2025, 1, 1), "2024-41 du 10/12/2024"),
        (date(2026, 1, 1), "2025-38 du 09/12/2025"),
    }
    # The rate each version took is the families', set by their own deliberation.
    assert {str(v.margin_deliberation) for v in versions} == {"2024-17 du 12/03/2024"}


def test_a_loaded_product_is_attached_to_its_lot_and_its_prices_are_in_force(session, catalog_dir):
    load_catalog(session, catalog_dir, loaded_by=None)

    mail = services.get_product(session, "MC-MAIL")
    assert (mail.lot.reference, mail.lot.yearly_ceiling) == (
        "MAR-2024-02 lot 1",
        Decimal("150000.00"),
    )
    assert mail.lot.market.end_date == date(2028, 8, 31)
    quote = services.price_on(session, mail.id, date(2026, 3, 1))
    assert (quote.deliberation, quote.lot_id) == (
        Deliberation("2025-38", date(2025, 12, 9)),
        mail.lot_id,
    )


def test_a_price_without_its_deliberation_is_refused(session, catalog_dir):
    _edit(
        catalog_dir,
        "products/digital.yaml",
        '        deliberation: "2025-38 du 09/12/2025"\n',
        "",
    )
    assert _refusal(session, catalog_dir) == [
        "products/digital.yaml: MC-MAIL: prices[2].deliberation: required: the deliberation "
        'that set these prices, "2024-17 du 12/03/2024"'
    ]


def test_a_family_without_its_domain_or_margin_deliberation_is_refused(session, catalog_dir):
    _edit(catalog_dir, "families.yaml", "    service_domain: mairie_connectee\n", "")
    _edit(
        catalog_dir,
        "families.yaml",
        '    margin_deliberation: "2024-17 du 12/03/2024"\n',
        "",
    )
    assert _refusal(session, catalog_dir) == [
        "families.yaml: digital: service_domain: "
        "required: the service domain a member joins to order the family's items",
        "families.yaml: digital: margin_deliberation: "
        'required: the deliberation setting the margin rate, "2024-17 du 12/03/2024"',
    ]


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ('"2024-17 12/03/2024"', 'write the reference, then " du " and the date'),
        ('"2024-17 du 31/02/2024"', "no such date: 31/02/2024"),
        ("{reference: 2024-17}", "a deliberation:"),
    ],
)
def test_a_deliberation_not_cited_as_acts_are_is_refused(session, catalog_dir, written, message):
    _edit(catalog_dir, "families.yaml", '"2024-17 du 12/03/2024"', written)
    [problem] = _refusal(session, catalog_dir)
    assert problem.startswith("families.yaml: digital: margin_deliberation: ")
    assert message in problem


def test_a_deliberation_cited_with_two_dates_is_refused(session, catalog_dir):
    _edit(catalog_dir, "products/digital.yaml", "2025-38 du 09/12/2025", "2024-41 du 11/12/2024")
    assert _refusal(session, catalog_dir) == [
        "products/digital.yaml: MC-MAIL: prices[1].deliberation: deliberation 2024-41: "
        "cited in the files with different dates (2024-12-10, 2024-12-11)",
        "products/digital.yaml: MC-MAIL: prices[2].deliberation: deliberation 2024-41: "
        "cited in the files with different dates (2024-12-10, 2024-12-11)",
    ]


def test_a_deliberation_recorded_with_another_date_is_refused(session, catalog_dir):
    load_catalog(session, catalog_dir, loaded_by=None)
    for _family in ("digital", "telecom"):
        _edit(catalog_dir, "families.yaml", '"2024-17 du 12/03/2024"', '"2024-17 du 13/03/2024"')
    assert _refusal(session, catalog_dir) == [
        f"families.yaml: {family}: margin_deliberation: deliberation 2024-17: "
        "recorded in the database as adopted on 2024-03-12"
        for family in ("digital", "telecom")
    ]


def test_a_product_of_an_unknown_lot_is_refused(session, catalog_dir):
    _edit(catalog_dir, "products/digital.yaml", "MAR-2024-02 lot 1", "MAR-2024-02 lot 9")
    assert _refusal(session, catalog_dir) == [
        "products/digital.yaml: MC-MAIL: market_reference: "
        "no lot 9 of market MAR-2024-02 in markets.yaml nor in the database"
    ]


def test_a_market_reference_not_naming_a_lot_is_refused(session, catalog_dir):
    _edit(catalog_dir, "products/digital.yaml", "MAR-2024-02 lot 1", "MAR-2024-02 (lot 1)")
    assert _refusal(session, catalog_dir) == [
        "products/digital.yaml: MC-MAIL: market_reference: "
        'the market number, " lot ", the lot number: "MAR-2023-01 lot 2"'
    ]


def test_a_product_of_another_suppliers_lot_is_refused(session, catalog_dir):
    hpn = textwrap.dedent(FILES["suppliers.yaml"])
    nordlink = hpn.split("suppliers:\n")[1].replace("code: HPN", "code: NORDLINK")
    _write(
        catalog_dir, "suppliers.yaml", hpn + nordlink.replace("88460513000126", "81245367800243")
    )
    _edit(catalog_dir, "markets.yaml", "supplier: HPN", "supplier: NORDLINK")
    assert _refusal(session, catalog_dir) == [
        "products/digital.yaml: MC-MAIL: supplier: MAR-2024-02 lot 1 is held by NORDLINK: "
        "an item is bought from its lot's holder"
    ]


def test_bad_markets_are_refused_naming_the_lot_and_field(session, catalog_dir):
    _edit(catalog_dir, "markets.yaml", "end_date: 2028-08-31", "end_date: 2024-08-31")
    _edit(catalog_dir, "markets.yaml", "yearly_ceiling: 150000.00", "yearly_ceiling: 0")
    assert _refusal(session, catalog_dir) == [
        "markets.yaml: MAR-2024-02: lots[1].yearly_ceiling: more than 0, or left out for no "
        "ceiling",
    ]
    _edit(catalog_dir, "markets.yaml", "yearly_ceiling: 0", "yearly_ceiling: 10.00")
    _edit(catalog_dir, "markets.yaml", "supplier: HPN", "supplier: NOBODY")
    assert _refusal(session, catalog_dir) == [
        "markets.yaml: MAR-2024-02: end_date: must not be before start_date",
    ]
    _edit(catalog_dir, "markets.yaml", "end_date: 2024-08-31", "end_date: 2028-08-31")
    _edit(catalog_dir, "markets.yaml", 'number: "2"', 'number: "1"')
    assert _refusal(session, catalog_dir) == ["markets.yaml: MAR-2024-02: lots: lot 1 given twice"]
    _edit(
        catalog_dir,
        "markets.yaml",
        'number: "1"\n        title: Collaboration',
        'number: "2"\n        title: Collaboration',
    )
    assert _refusal(session, catalog_dir) == [
        "markets.yaml: MAR-2024-02: lots[1].supplier: "
        "no supplier 'NOBODY' in suppliers.yaml nor in the database"
    ]


def test_a_draft_recorded_through_the_api_is_put_in_force_by_the_file(session, catalog_dir):
    text = FILES["products/digital.yaml"]
    _write(
        catalog_dir,
        "products/digital.yaml",
        text.split("              - valid_from: 2026-01-01")[0],
    )
    load_catalog(session, catalog_dir, loaded_by=None)
    draft = services.add_price_version(
        session, "MC-MAIL", valid_from=date(2026, 1, 1), supplier_cost=Decimal("3.40"),
        draft=True, added_by=None,
    )  # fmt: skip
    assert (
        services.price_on(session, draft.product_id, date(2026, 3, 1)).supplier_cost
        == Decimal("3.20")
        if False
        else draft.status is PriceVersionStatus.DRAFT
    )
    _write(catalog_dir, "products/digital.yaml", text)

    summary = load_catalog(session, catalog_dir, loaded_by=None)

    assert summary.counts["price_versions"].updated == 1
    assert draft.status is PriceVersionStatus.ACTIVE
    assert draft.deliberation == Deliberation("2025-38", date(2025, 12, 9))
    assert (
        services.price_on(session, draft.product_id, date(2026, 3, 1)).price_version_id == draft.id
    )
