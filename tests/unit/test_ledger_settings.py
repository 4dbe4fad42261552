"""The ledger's accounts and journals are data, checked when the file is read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from purchasing.config import PROJECT_ROOT
from purchasing.errors import ImportRefused
from purchasing.ledger.models import JournalCode
from purchasing.ledger.settings import SETTINGS_FILE, read_settings_file

CATALOG = PROJECT_ROOT / "catalog"
SHIPPED = CATALOG / SETTINGS_FILE


def test_the_shipped_settings_read_and_follow_m4():
    settings = read_settings_file(SHIPPED, siren="255900128")
    assert settings.accounts.numbers() == {
        "receivable": "4111",
        "payable": "4011",
        "vat_collected": "44571",
        "vat_deductible": "44566",
        "treasury": "515",
        "grant_receivable": "441",
        "operating_subsidy": "7477",
        "partner_reversal": "6573",
        "prior_year_cancellation": "673",
        "result_surplus": "120",
        "result_deficit": "129",
    }
    assert settings.journal_label(JournalCode.TREASURY) == "Trésorerie (compte au Trésor)"
    assert set(settings.journal_labels) == set(JournalCode)


def test_every_shipped_account_is_a_detail_account_of_the_shipped_chart():
    chart = {
        entry["number"]
        for entry in yaml.safe_load((CATALOG / "accounts.yaml").read_text())["accounts"]
    }
    families = yaml.safe_load((CATALOG / "families.yaml").read_text())["families"]
    numbers = set(read_settings_file(SHIPPED, siren="x").accounts.numbers().values())
    numbers |= {
        f[key] for f in families for key in ("sales_account", "purchase_account") if key in f
    }
    for number in numbers:
        assert number in chart, number
        assert not any(other != number and other.startswith(number) for other in chart), number


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "posting.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _shipped_with(**replacements: str) -> str:
    text = SHIPPED.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    return text


def test_an_account_of_the_wrong_class_is_refused(tmp_path):
    path = _write(tmp_path, _shipped_with(**{'number: "515"': 'number: "4111"'}))
    with pytest.raises(ImportRefused) as refused:
        read_settings_file(path, siren="x")
    assert refused.value.problems == ["accounts.treasury: account 4111 is not a treasury account"]


def test_a_missing_role_and_an_unknown_journal_are_refused(tmp_path):
    text = _shipped_with(**{"  partner_reversal:": "  partner_reversals:", "  OD:": "  XX:"})
    with pytest.raises(ImportRefused) as refused:
        read_settings_file(_write(tmp_path, text), siren="x")
    problems = "\n".join(refused.value.problems)
    assert "accounts.partner_reversal: Missing data for required field." in problems
    assert "accounts.partner_reversals: Unknown field." in problems
    assert "journals" in problems


def test_a_file_that_is_not_yaml_is_refused(tmp_path):
    with pytest.raises(ImportRefused, match="1 problem"):
        read_settings_file(_write(tmp_path, "accounts: [unclosed"), siren="x")
