"""Posting rules: which accounts an event debits and credits, as pure functions.

Each rule reads one event's payload (checked by a schema: amounts are exact strings, and
the parts of a document add up to its total) and returns an :class:`EntryDraft`: one entry
whose debits equal its credits. Names of members and suppliers, and the family of a
purchase account, come from a :class:`Directory` the caller provides, so the rules touch
no database and are tested with a dictionary.

==================  ======================================  ===================================
event               debit                                   credit
==================  ======================================  ===================================
invoice.issued      receivable (member): amount due          sales account of each family: net
                    grant receivable (programme): the aid    VAT collected, per rate
                    paid by the programme (price complement)
credit_note.issued  the invoice's credits (prior-year        the invoice's debits
                    credit note: prior-year cancellation
                    instead of the sales accounts)
purchase.recorded   purchase account of each line: net      payable (supplier): total incl. VAT
                    VAT deductible, per rate
payment.received    treasury                                 receivable (member)
subsidy.received    treasury                                 grant receivable (programme)
subsidy.reversed    partner reversal (partner)               treasury
                    grant receivable (programme)             operating subsidy
==================  ======================================  ===================================

The line on a member's or a supplier's account carries the invoice it belongs to (its
``matching`` reference: the invoice's own number, the number a payment pays, the number
a credit note corrects), by which lettering later finds what settles what.

An aid that *reduces* the price (outside the VAT base: the member pays the whole invoice)
is compensated by the programme: debit grant receivable, credit operating subsidy, in the
invoice's entry. ``catalog/ledger/posting.yaml`` explains why the aid that *completes* the
price stays in sales, and gives the account of each role.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from purchasing.errors import ValidationFailed
from purchasing.fields import Amount, Rate, Text
from purchasing.ledger.models import (
    FAMILY_CODE_LENGTH,
    LABEL_LENGTH,
    REFERENCE_LENGTH,
    JournalCode,
    UnbalancedEntry,
)
from purchasing.ledger.settings import LedgerAccounts
from purchasing.money import ZERO

__all__ = [
    "POSTED_KINDS",
    "Directory",
    "EntryDraft",
    "InvalidEventPayload",
    "LineDraft",
    "Party",
    "draft_entry",
    "entry_date_of",
]


class InvalidEventPayload(ValidationFailed):
    """An event cannot be posted as it is: a field is missing, or its parts do not add up."""

    def __init__(self, kind: str, messages: Any) -> None:
        errors: dict[str, list[str]] = defaultdict(list)
        for field, message in _flatten(messages):
            errors[field].append(message)
        field, (first, *_others) = next(iter(errors.items()))
        super().__init__(f"{kind} event cannot be posted: {field}: {first}", errors=errors)


@dataclass(frozen=True)
class Party:
    """An auxiliary account: who an amount is due from or to."""

    number: str
    label: str


class Directory(Protocol):
    """What the rules need to know beyond the payload, looked up by the caller."""

    def member(self, member_id: int) -> Party:
        """The member's auxiliary account: "M00012" and its name."""

    def supplier(self, supplier_id: int) -> Party:
        """The supplier's auxiliary account: its code and name."""

    def family_sales_account(self, family_code: str) -> str | None:
        """The family's sales account, for a sales line whose account the payload lacks."""

    def family_of_purchase_account(self, account: str) -> str | None:
        """The one catalogue family whose purchases go to ``account``, if only one does."""

    def invoice_year(self, invoice_id: int) -> int | None:
        """The year an invoice was issued in, if known: a credit note may cancel it."""

    def invoice_number(self, invoice_id: int) -> str | None:
        """The number of an invoice, if known: the one a credit note corrects."""


@dataclass(frozen=True)
class LineDraft:
    account: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    party: Party | None = None
    family_code: str | None = None
    #: The invoice a line on a member's or supplier's account belongs to (lettering).
    matching: str | None = None


@dataclass(frozen=True)
class EntryDraft:
    entry_date: date
    journal: JournalCode
    reference: str
    label: str
    lines: tuple[LineDraft, ...]

    @property
    def total_debit(self) -> Decimal:
        return sum((line.debit for line in self.lines), ZERO)

    @property
    def total_credit(self) -> Decimal:
        return sum((line.credit for line in self.lines), ZERO)

    @property
    def is_empty(self) -> bool:
        """Nothing to post: every amount of the event is zero."""
        return not self.lines


# --- Payloads ---------------------------------------------------------------------------

#: A family code longer than a journal line keeps is the event's fault: refused with that
#: event alone, rather than failing the whole run at the database.
FAMILY_CODE = validate.Length(max=FAMILY_CODE_LENGTH)


class _Payload(Schema):
    class Meta:
        unknown = EXCLUDE  # events carry more than the ledger needs


class _SalesSchema(_Payload):
    account = fields.String(load_default=None, allow_none=True)
    family_code = fields.String(load_default=None, allow_none=True, validate=FAMILY_CODE)
    amount = Amount(required=True)


class _VatSchema(_Payload):
    rate = Rate(required=True)
    base = Amount(required=True)
    amount = Amount(required=True)


class _ProgrammeAidSchema(_Payload):
    programme_code = Text(required=True, max_length=40)
    amount = Amount(required=True)


class _InvoicePayload(_Payload):
    number = Text(required=True, max_length=REFERENCE_LENGTH)
    issue_date = fields.Date(required=True)
    member_id = fields.Integer(required=True, strict=True)
    corrected_invoice_id = fields.Integer(load_default=None, allow_none=True, strict=True)
    sales = fields.List(fields.Nested(_SalesSchema), required=True)
    vat = fields.List(fields.Nested(_VatSchema), required=True)
    total_gross = Amount(required=True)
    total_aid = Amount(load_default=ZERO)
    amount_due = Amount(required=True)
    #: The aid of each programme, when the event names them: the programmes' auxiliary
    #: accounts on the grant receivable. Without it, the aid is posted without one.
    aid_by_programme = fields.List(fields.Nested(_ProgrammeAidSchema), load_default=None)

    @validates_schema
    def _parts_add_up(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _require_sum(data, "total_gross", data["total_gross"], _sum(data["sales"], data["vat"]))
        prepaid = data["total_gross"] - data["amount_due"]
        if prepaid not in (ZERO, data["total_aid"]):
            raise ValidationError(
                f"total_gross {data['total_gross']} less amount_due {data['amount_due']} is "
                f"neither 0 (aid reducing the price) nor total_aid {data['total_aid']} "
                "(aid paid by the programme)",
                "amount_due",
            )
        if data["aid_by_programme"] is not None:
            _require_sum(data, "total_aid", data["total_aid"], _sum(data["aid_by_programme"]))


class _PurchaseLineSchema(_Payload):
    purchase_account = fields.String(required=True)
    #: The catalogue family, when the event gives it; else found from the account.
    family_code = fields.String(load_default=None, allow_none=True, validate=FAMILY_CODE)
    amount_excl_vat = Amount(required=True)


class _PurchaseVatSchema(_Payload):
    rate = Rate(required=True)
    base = Amount(required=True)
    vat = Amount(required=True)


class _PurchasePayload(_Payload):
    supplier_id = fields.Integer(required=True, strict=True)
    invoice_number = Text(required=True, max_length=REFERENCE_LENGTH)
    invoice_date = fields.Date(required=True)
    purchase_order_number = Text(load_default=None, allow_none=True, max_length=REFERENCE_LENGTH)
    lines_by_account = fields.List(fields.Nested(_PurchaseLineSchema), required=True)
    vat_by_rate = fields.List(fields.Nested(_PurchaseVatSchema), required=True)
    total_excl_vat = Amount(required=True)
    total_vat = Amount(required=True)
    total_incl_vat = Amount(required=True)

    @validates_schema
    def _parts_add_up(self, data: dict[str, Any], **_kwargs: Any) -> None:
        lines = sum((line["amount_excl_vat"] for line in data["lines_by_account"]), ZERO)
        vat = sum((part["vat"] for part in data["vat_by_rate"]), ZERO)
        _require_sum(data, "total_excl_vat", data["total_excl_vat"], lines)
        _require_sum(data, "total_vat", data["total_vat"], vat)
        _require_sum(data, "total_incl_vat", data["total_incl_vat"], lines + vat)


class _PaymentPayload(_Payload):
    invoice_number = Text(required=True, max_length=REFERENCE_LENGTH)
    member_id = fields.Integer(required=True, strict=True)
    amount = Amount(required=True)
    paid_on = fields.Date(required=True)
    reference = Text(load_default="", max_length=REFERENCE_LENGTH)


class _SubsidyReceivedPayload(_Payload):
    programme_code = Text(required=True, max_length=40)
    amount = Amount(required=True)
    received_on = fields.Date(required=True)
    reference = Text(load_default="", allow_none=True, max_length=REFERENCE_LENGTH)


class _SubsidyReversedPayload(_Payload):
    programme_code = Text(required=True, max_length=40)
    partner_code = Text(required=True, max_length=40)
    partner_name = Text(load_default=None, allow_none=True, max_length=LABEL_LENGTH)
    amount = Amount(required=True)
    reversed_on = fields.Date(required=True)
    reference = Text(load_default="", allow_none=True, max_length=REFERENCE_LENGTH)


def _sum(*groups: Iterable[Mapping[str, Any]]) -> Decimal:
    return sum((part["amount"] for group in groups for part in group), ZERO)


def _require_sum(data: Mapping[str, Any], field: str, total: Decimal, parts: Decimal) -> None:
    if total != parts:
        raise ValidationError(f"{total} is not the sum of its parts ({parts})", field)


# --- Rules ------------------------------------------------------------------------------


def _invoice(
    payload: Mapping[str, Any], accounts: LedgerAccounts, directory: Directory, *, credit: bool
) -> EntryDraft:
    """An invoice (``credit=False``) or, sides swapped, a credit note."""
    member = directory.member(payload["member_id"])
    issue_date: date = payload["issue_date"]
    cancels_prior_year = False
    # The invoice the member's line belongs to: this one, or the one a note corrects.
    matching = payload["number"]
    if credit and payload["corrected_invoice_id"] is not None:
        corrected_year = directory.invoice_year(payload["corrected_invoice_id"])
        cancels_prior_year = corrected_year is not None and corrected_year < issue_date.year
        matching = directory.invoice_number(payload["corrected_invoice_id"]) or matching
    # "due" is the side the member's debt is on: debit for an invoice, credit for a note.
    due, earned = (_credit, _debit) if credit else (_debit, _credit)
    aid = payload["total_aid"]
    # The schema checked that total_gross less amount_due is either the aid (it completes
    # the price, and the programme pays that part of it) or zero (it reduced the price).
    aid_completes_price = bool(aid) and payload["total_gross"] - payload["amount_due"] == aid
    programmes = [
        due(accounts.grant_receivable, amount, party=party)
        for party, amount in _aid_by_programme(payload)
    ]
    lines = [due(accounts.receivable, payload["amount_due"], party=member, matching=matching)]
    if aid_completes_price:
        lines += programmes
    sales: dict[tuple[str, str | None], Decimal] = defaultdict(lambda: ZERO)
    for position, part in enumerate(payload["sales"]):
        account = part["account"] or (
            directory.family_sales_account(part["family_code"]) if part["family_code"] else None
        )
        if account is None:
            raise ValidationError(
                "no sales account, nor a family that has one", f"sales[{position}].account"
            )
        if cancels_prior_year:
            account = accounts.prior_year_cancellation
        sales[(account, part["family_code"])] += part["amount"]
    lines += [
        earned(account, amount, family_code=family)
        for (account, family), amount in sorted(sales.items(), key=_by_account_and_family)
    ]
    lines += [earned(accounts.vat_collected, part["amount"]) for part in payload["vat"]]
    if aid and not aid_completes_price:  # the programme makes up for the price it reduced
        lines += [*programmes, earned(accounts.operating_subsidy, aid)]
    what = "Avoir" if credit else "Facture"
    return _entry(
        entry_date=issue_date,
        journal=JournalCode.SALES,
        reference=payload["number"],
        label=f"{what} {payload['number']} - {member.label}",
        lines=lines,
    )


def _aid_by_programme(payload: Mapping[str, Any]) -> list[tuple[Party | None, Decimal]]:
    """Each programme's aid with its auxiliary account; the whole aid, unnamed, if unknown."""
    if payload["aid_by_programme"] is None:
        return [(None, payload["total_aid"])]
    return [
        (Party(aid["programme_code"], aid["programme_code"]), aid["amount"])
        for aid in payload["aid_by_programme"]
    ]


def _purchase(
    payload: Mapping[str, Any], accounts: LedgerAccounts, directory: Directory
) -> EntryDraft:
    supplier = directory.supplier(payload["supplier_id"])
    purchases: dict[tuple[str, str | None], Decimal] = defaultdict(lambda: ZERO)
    for line in payload["lines_by_account"]:
        account = line["purchase_account"]
        family = line["family_code"] or directory.family_of_purchase_account(account)
        purchases[(account, family)] += line["amount_excl_vat"]
    lines = [
        _debit(account, amount, family_code=family)
        for (account, family), amount in sorted(purchases.items(), key=_by_account_and_family)
    ]
    lines += [_debit(accounts.vat_deductible, part["vat"]) for part in payload["vat_by_rate"]]
    lines.append(
        _credit(
            accounts.payable,
            payload["total_incl_vat"],
            party=supplier,
            matching=payload["invoice_number"],
        )
    )
    order = payload["purchase_order_number"]
    return _entry(
        entry_date=payload["invoice_date"],
        journal=JournalCode.PURCHASES,
        reference=payload["invoice_number"],
        label=f"Facture {payload['invoice_number']} - {supplier.label}"
        + (f" ({order})" if order else ""),
        lines=lines,
    )


def _payment(
    payload: Mapping[str, Any], accounts: LedgerAccounts, directory: Directory
) -> EntryDraft:
    member = directory.member(payload["member_id"])
    amount = payload["amount"]
    return _entry(
        entry_date=payload["paid_on"],
        journal=JournalCode.TREASURY,
        reference=payload["reference"] or payload["invoice_number"],
        label=f"Encaissement {payload['invoice_number']} - {member.label}",
        lines=[
            _debit(accounts.treasury, amount),
            _credit(accounts.receivable, amount, party=member, matching=payload["invoice_number"]),
        ],
    )


def _subsidy_received(
    payload: Mapping[str, Any], accounts: LedgerAccounts, _directory: Directory
) -> EntryDraft:
    programme = Party(payload["programme_code"], payload["programme_code"])
    amount = payload["amount"]
    return _entry(
        entry_date=payload["received_on"],
        journal=JournalCode.TREASURY,
        reference=payload["reference"] or programme.number,
        label=f"Subvention {programme.number} reçue",
        lines=[
            _debit(accounts.treasury, amount),
            _credit(accounts.grant_receivable, amount, party=programme),
        ],
    )


def _subsidy_reversed(
    payload: Mapping[str, Any], accounts: LedgerAccounts, _directory: Directory
) -> EntryDraft:
    programme = Party(payload["programme_code"], payload["programme_code"])
    partner = Party(payload["partner_code"], payload["partner_name"] or payload["partner_code"])
    amount = payload["amount"]
    return _entry(
        entry_date=payload["reversed_on"],
        journal=JournalCode.TREASURY,
        reference=payload["reference"] or f"{programme.number}/{partner.number}",
        label=f"Reversement {programme.number} à {partner.number}",
        lines=[
            _debit(accounts.partner_reversal, amount, party=partner),
            _credit(accounts.treasury, amount),
            # The partner's share was a grant to the centre before it was passed on.
            _debit(accounts.grant_receivable, amount, party=programme),
            _credit(accounts.operating_subsidy, amount),
        ],
    )


def _by_account_and_family(item: tuple[tuple[str, str | None], Decimal]) -> tuple[str, str]:
    (account, family), _amount = item
    return account, family or ""


def _debit(account: str, amount: Decimal, **kw: Any) -> LineDraft:
    return LineDraft(account, debit=amount, **kw)


def _credit(account: str, amount: Decimal, **kw: Any) -> LineDraft:
    return LineDraft(account, credit=amount, **kw)


def _entry(*, lines: Iterable[LineDraft], **header: Any) -> EntryDraft:
    """The entry, without its zero lines; it balances, or a rule is wrong."""
    kept = tuple(line for line in lines if line.debit or line.credit)
    header["label"] = header["label"][:LABEL_LENGTH]
    entry = EntryDraft(lines=kept, **header)
    if entry.total_debit != entry.total_credit:
        raise UnbalancedEntry(
            f"{entry.reference}: debits {entry.total_debit} != credits {entry.total_credit}"
        )
    return entry


@dataclass(frozen=True)
class _Rule:
    #: One instance per kind, loading every event of it: a schema instance holds no
    #: state between loads, and building one (its fields deep-copied, its nested schemas
    #: built) was a third of the time it took to post an invoice.
    schema: Schema
    date_field: str
    build: Callable[[Mapping[str, Any], LedgerAccounts, Directory], EntryDraft]


_RULES: Mapping[str, _Rule] = {
    "invoice.issued": _Rule(
        _InvoicePayload(), "issue_date", lambda p, a, d: _invoice(p, a, d, credit=False)
    ),
    "credit_note.issued": _Rule(
        _InvoicePayload(), "issue_date", lambda p, a, d: _invoice(p, a, d, credit=True)
    ),
    "purchase.recorded": _Rule(_PurchasePayload(), "invoice_date", _purchase),
    "payment.received": _Rule(_PaymentPayload(), "paid_on", _payment),
    "subsidy.received": _Rule(_SubsidyReceivedPayload(), "received_on", _subsidy_received),
    "subsidy.reversed": _Rule(_SubsidyReversedPayload(), "reversed_on", _subsidy_reversed),
}

#: The event kinds the ledger posts; it leaves every other event alone.
POSTED_KINDS = frozenset(_RULES)


def _load(kind: str, payload: Mapping[str, Any]) -> tuple[_Rule, dict[str, Any]]:
    rule = _RULES.get(kind)
    if rule is None:
        raise ValueError(f"the ledger does not post {kind!r} events")
    try:
        return rule, rule.schema.load(payload)
    except ValidationError as exc:
        raise InvalidEventPayload(kind, exc.normalized_messages()) from None


def entry_date_of(kind: str, payload: Mapping[str, Any]) -> date:
    """The date an event's entry will bear, hence its fiscal year."""
    rule, data = _load(kind, payload)
    return data[rule.date_field]


def draft_entry(
    kind: str, payload: Mapping[str, Any], accounts: LedgerAccounts, directory: Directory
) -> EntryDraft:
    """The balanced entry that posts an event of ``kind``; InvalidEventPayload if it can't."""
    rule, data = _load(kind, payload)
    try:
        return rule.build(data, accounts, directory)
    except ValidationError as exc:
        raise InvalidEventPayload(kind, exc.normalized_messages()) from None


def _flatten(messages: Any, path: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                sub = path
            elif isinstance(key, int):
                sub = f"{path}[{key}]"
            else:
                sub = f"{path}.{key}" if path else str(key)
            yield from _flatten(value, sub)
    elif isinstance(messages, list):
        for message in messages:
            yield from _flatten(message, path)
    else:
        yield path or "payload", str(messages)
