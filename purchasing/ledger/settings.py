"""What the ledger needs to know, read once: its accounts and journals, and the seller.

The accounts a posting uses besides the catalogue's sales and purchase accounts (members,
suppliers, VAT, the Trésor, the grant, the result of the year) and the journals' labels
are data, in
``catalog/ledger/posting.yaml``, whose comments explain the posting scheme. The file is
checked when it is read: every role given once, every number of the class its role needs;
the chart of accounts in the database is checked at posting time.

Services take a :class:`LedgerSettings`; they never read the application's config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, ValidationError, fields, validates_schema

from purchasing.catalog.loader import CatalogYamlLoader
from purchasing.catalog.models import AccountKind
from purchasing.catalog.schemas import AccountNumber
from purchasing.config import load_config
from purchasing.errors import ImportRefused
from purchasing.fields import Text
from purchasing.ledger.models import JournalCode

#: Where the settings live, inside the catalogue directory.
SETTINGS_FILE = Path("ledger") / "posting.yaml"

#: Each role and the kind of account it must be.
ACCOUNT_ROLES: Mapping[str, AccountKind] = {
    "receivable": AccountKind.THIRD_PARTY,
    "payable": AccountKind.THIRD_PARTY,
    "vat_collected": AccountKind.THIRD_PARTY,
    "vat_deductible": AccountKind.THIRD_PARTY,
    "treasury": AccountKind.TREASURY,
    "grant_receivable": AccountKind.THIRD_PARTY,
    "operating_subsidy": AccountKind.REVENUE,
    "partner_reversal": AccountKind.EXPENSE,
    "prior_year_cancellation": AccountKind.EXPENSE,
    "result_surplus": AccountKind.RESULT,
    "result_deficit": AccountKind.RESULT,
}


@dataclass(frozen=True)
class LedgerAccounts:
    """The account number of each role (see ``catalog/ledger/posting.yaml``)."""

    #: Members' debts (titres de recettes): auxiliary account per member.
    receivable: str
    #: Debts to suppliers: auxiliary account per supplier.
    payable: str
    vat_collected: str
    vat_deductible: str
    #: The account at the Trésor, where every public fund is held.
    treasury: str
    #: What a grant programme owes the centre: auxiliary account per programme.
    grant_receivable: str
    #: Grant recognised as operating subsidy: price reduction and partners' share.
    operating_subsidy: str
    #: The partners' share of a grant, passed on to them.
    partner_reversal: str
    #: A credit note cancelling an invoice of an earlier fiscal year (titre annulé).
    prior_year_cancellation: str
    #: Where closing carries the year's result: a surplus (120), a deficit (129).
    result_surplus: str
    result_deficit: str

    def numbers(self) -> dict[str, str]:
        """Role -> number."""
        return {role: getattr(self, role) for role in ACCOUNT_ROLES}


@dataclass(frozen=True)
class LedgerSettings:
    accounts: LedgerAccounts
    #: Journal code -> label, as the FEC's ``JournalLib`` prints it.
    journal_labels: Mapping[JournalCode, str]
    #: The seller's SIREN: it names the FEC file.
    siren: str

    def journal_label(self, code: JournalCode) -> str:
        return self.journal_labels[code]


class _RoleSchema(Schema):
    number = AccountNumber(required=True)
    #: What the account is used for, for readers of the file.
    label = Text(required=True, max_length=200)


_RolesSchema = Schema.from_dict(
    {role: fields.Nested(_RoleSchema, required=True) for role in ACCOUNT_ROLES}
)


class _AccountsSchema(_RolesSchema):  # type: ignore[misc, valid-type]
    @validates_schema
    def _classes_match_roles(self, data: dict[str, Any], **_kwargs: Any) -> None:
        errors = {}
        for role, expected in ACCOUNT_ROLES.items():
            number = data.get(role, {}).get("number")
            if number is not None and AccountKind.of_number(number) is not expected:
                errors[role] = [f"account {number} is not a {expected} account"]
        if errors:
            raise ValidationError(errors)


class _SettingsSchema(Schema):
    accounts = fields.Nested(_AccountsSchema, required=True)
    journals = fields.Dict(
        keys=fields.Enum(JournalCode, by_value=True),
        values=Text(max_length=100),
        required=True,
    )

    @validates_schema
    def _every_journal_has_a_label(self, data: dict[str, Any], **_kwargs: Any) -> None:
        missing = [code.value for code in JournalCode if code not in data.get("journals", {})]
        if missing:
            raise ValidationError(f"no label for journal(s) {', '.join(missing)}", "journals")


def read_settings_file(path: Path | str, *, siren: str) -> LedgerSettings:
    """The ledger settings of ``path``; ImportRefused names every fault of the file."""
    path = Path(path)
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=CatalogYamlLoader)
        data = _SettingsSchema().load(document if isinstance(document, dict) else {})
    except OSError as exc:
        raise ImportRefused(str(path), [f"cannot read it: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        raise ImportRefused(str(path), [f"not valid YAML: {exc}"]) from None
    except ValidationError as exc:
        raise ImportRefused(str(path), list(_flatten(exc.messages))) from None
    return LedgerSettings(
        accounts=LedgerAccounts(
            **{role: data["accounts"][role]["number"] for role in ACCOUNT_ROLES}
        ),
        journal_labels=dict(data["journals"]),
        siren=siren,
    )


def settings_from_config(config: Mapping[str, Any]) -> LedgerSettings:
    return read_settings_file(
        Path(config["CATALOG_DIR"]) / SETTINGS_FILE, siren=config["SELLER"]["siret"][:9]
    )


def configured_settings() -> LedgerSettings:
    """The settings of the configured catalogue, for a caller that has none at hand."""
    return settings_from_config(load_config())


def _flatten(messages: Any, path: str = "") -> list[str]:
    if isinstance(messages, dict):
        return [
            line
            for key, value in messages.items()
            for line in _flatten(value, path if key == "_schema" else f"{path}{key}.")
        ]
    if isinstance(messages, list):
        return [line for message in messages for line in _flatten(message, path)]
    return [f"{path.rstrip('.') or 'file'}: {messages}"]
