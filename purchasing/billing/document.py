"""The plain-data contract of an invoice or a credit note: everything its PDF and XML show.

The billing services build an :class:`InvoiceDocument` from their models; the renderer
(:mod:`purchasing.billing.rendering`) and the Factur-X builder (:mod:`purchasing.billing.facturx`)
only read it. Money is ``Decimal`` quantised to the cent by the caller through
:mod:`purchasing.money`. Every amount and total is given by the caller and printed as given
(the only figures derived for display, a gross price before aid, come from the functions
below), and :func:`check_consistency` refuses a document whose figures do not add up to the
cent: what is printed is what was booked.

Amounts of a credit note are positive, as on paper: the kind says which way they go.

FEDER aid
---------
A FEDER grant lowers the price of some lines (``InvoiceLine.aid_amount``). How it enters
VAT is a fiscal choice made per document, ``InvoiceDocument.aid_in_vat_base``:

* ``True`` (default) -- the aid is a *price complement* paid by the fund (CGI art. 266-1-a:
  subsidies directly linked to the price are part of the taxable amount). The line amount
  excluding VAT stays the gross price, VAT is computed on it, and the member pays
  ``total_gross - total aid``: ``amount_due`` is lower than the invoice total by the aid.
* ``False`` -- the aid is a *price reduction*: the line amount excluding VAT is the gross
  price minus the aid, VAT is computed on that net, and the member pays the invoice total.

:func:`line_net_amount` and :func:`compute_totals` hold that arithmetic once, for the
caller building a document and for :func:`check_consistency` checking one.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any

from stdnum import bic, iban

from purchasing.errors import ValidationFailed
from purchasing.money import ZERO, line_amount, round_cents
from purchasing.totals import document_totals

#: Late-payment mentions required by Code de commerce L441-9 I, worded for public buyers:
#: their late payments are governed by the Code de la commande publique, which sets the
#: interest (L2192-13, rate in R2192-31) and the flat recovery indemnity (D2192-35).
LATE_PAYMENT_INTEREST_MENTION = (
    "En cas de retard de paiement, des intérêts moratoires sont dus de plein droit au taux "
    "de la Banque centrale européenne majoré de 8 points (art. L2192-13 et R2192-31 du "
    "Code de la commande publique)."
)
RECOVERY_INDEMNITY_MENTION = (
    "Une indemnité forfaitaire pour frais de recouvrement de 40\u00a0€ est également due de "
    "plein droit (art. L2192-13 et D2192-35 du Code de la commande publique)."
)
#: Code de commerce L441-9 I: the conditions of discount for early payment, here none.
NO_EARLY_PAYMENT_DISCOUNT_MENTION = "Pas d'escompte pour paiement anticipé."
#: CGI art. 242 nonies A (décret 2022-1299), when the seller opted to pay VAT on invoicing.
VAT_ON_DEBITS_MENTION = "Option pour le paiement de la taxe d'après les débits."

_SIRET = re.compile(r"\d{14}")
_VAT_NUMBER = re.compile(r"[A-Z]{2}[0-9A-Z]{2,12}")


class DocumentKind(enum.StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"

    @property
    def title(self) -> str:
        """The French title printed on the document."""
        return "Facture" if self is DocumentKind.INVOICE else "Avoir"


class OperationCategory(enum.StrEnum):
    """What the document bills: a mention required by CGI art. 242 nonies A (décret 2022-1299)."""

    GOODS = "goods"
    SERVICES = "services"
    MIXED = "mixed"

    @property
    def label(self) -> str:
        return {
            OperationCategory.GOODS: "Livraisons de biens",
            OperationCategory.SERVICES: "Prestations de services",
            OperationCategory.MIXED: "Livraisons de biens et prestations de services",
        }[self]

    @property
    def supply_date_label(self) -> str:
        """How the date of supply is called on the document (CGI art. 242 nonies A)."""
        return {
            OperationCategory.GOODS: "Date de livraison",
            OperationCategory.SERVICES: "Date d'exécution de la prestation",
            OperationCategory.MIXED: "Date de livraison et d'exécution",
        }[self]


@dataclass(frozen=True, slots=True, kw_only=True)
class PostalAddress:
    #: Street lines, first to last (one to three; building, street, lieu-dit).
    lines: tuple[str, ...]
    postal_code: str
    city: str
    #: ISO 3166-1 alpha-2.
    country_code: str = "FR"

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))


@dataclass(frozen=True, slots=True, kw_only=True)
class Party:
    """The seller (the syndicat) or the buyer (a member collectivity)."""

    name: str
    address: PostalAddress
    #: 14 digits; its first nine are the SIREN, the legal registration number.
    siret: str
    #: Intra-community VAT number; required of the seller, members usually have none.
    vat_number: str | None = None
    email: str | None = None

    @property
    def siren(self) -> str:
        return self.siret[:9]


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceLine:
    position: int
    designation: str
    quantity: Decimal
    #: French unit label as printed ("mois", "licence"); mapped to a UN/ECE code in the XML.
    unit: str
    #: Price of one unit excluding VAT, before any aid.
    unit_price: Decimal
    #: 0.2000 is 20 %.
    vat_rate: Decimal
    #: Amount excluding VAT that enters the VAT base (EN 16931 BT-131): see
    #: :func:`line_net_amount`.
    net_amount: Decimal
    #: Service period of the line (a subscription month, possibly prorated), both included.
    period_start: date | None = None
    period_end: date | None = None
    #: A partial period billed by day: ``prorata_days`` of the ``period_days`` the unit
    #: price is for (17 of 31 for a service that started on 15 January). Both or neither.
    prorata_days: int | None = None
    period_days: int | None = None
    #: FEDER aid on this line, a positive amount; how it counts depends on the document's
    #: ``aid_in_vat_base``.
    aid_amount: Decimal | None = None
    #: What the aid is, printed after "dont aide FEDER" (e.g. the programme's name).
    aid_label: str | None = None
    note: str | None = None
    #: The syndicat's deliberation that set the line's price, and the framework market lot
    #: it is bought under ("MAR-2023-01 lot 2"): what the document's annex cites.
    deliberation_reference: str | None = None
    deliberation_date: date | None = None
    market_reference: str | None = None

    @property
    def gross_amount(self) -> Decimal:
        """Quantity x unit price (x prorata), half-up to the cent: the price before any aid."""
        return line_amount(
            self.unit_price, self.quantity, days=self.prorata_days, period_days=self.period_days
        )

    @property
    def is_prorated(self) -> bool:
        return self.prorata_days is not None

    @property
    def has_aid(self) -> bool:
        return self.aid_amount is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class AnnexEntry:
    """One row of the annex "délibérations et marchés": the lines sharing a legal basis."""

    #: Positions of the lines, in order.
    positions: tuple[int, ...]
    deliberation_reference: str | None
    deliberation_date: date | None
    market_reference: str | None

    @property
    def lines_label(self) -> str:
        """ "Ligne 3", "Lignes 1 et 2", "Lignes 1, 2 et 4", as the annex names them."""
        if len(self.positions) == 1:
            return f"Ligne {self.positions[0]}"
        *first, last = (str(position) for position in self.positions)
        return f"Lignes {', '.join(first)} et {last}"


def annex_entries(lines: Iterable[InvoiceLine]) -> tuple[AnnexEntry, ...]:
    """The lines citing a deliberation or a market, grouped by what they cite, in the order
    of their first line; lines citing neither are left out (nothing to show)."""
    groups: dict[tuple[str | None, date | None, str | None], list[int]] = {}
    for line in lines:
        key = (line.deliberation_reference, line.deliberation_date, line.market_reference)
        if key != (None, None, None):
            groups.setdefault(key, []).append(line.position)
    return tuple(
        AnnexEntry(
            positions=tuple(positions),
            deliberation_reference=reference,
            deliberation_date=adopted_on,
            market_reference=market,
        )
        for (reference, adopted_on, market), positions in groups.items()
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class VatBreakdown:
    """One VAT rate of the document: its base and the VAT on it (EN 16931 BG-23)."""

    rate: Decimal
    #: Sum of the net amounts of the lines at this rate.
    base: Decimal
    #: ``base x rate``, half-up to the cent.
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentTotals:
    """The figures of a document that follow from its lines (see :func:`compute_totals`)."""

    vat_breakdown: tuple[VatBreakdown, ...]
    total_net: Decimal
    total_vat: Decimal
    total_gross: Decimal
    amount_due: Decimal

    def as_fields(self) -> dict[str, Any]:
        """The totals as keyword arguments of :class:`InvoiceDocument`."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceDocument:
    kind: DocumentKind
    #: "FA-2026-000123" for an invoice, "AV-2026-000004" for a credit note.
    number: str
    issue_date: date
    seller: Party
    buyer: Party
    #: Goods, services or both (CGI art. 242 nonies A).
    operation_category: OperationCategory
    lines: tuple[InvoiceLine, ...]
    #: One entry per VAT rate of the lines, highest rate first.
    vat_breakdown: tuple[VatBreakdown, ...]
    #: Total excluding VAT (HT): the sum of the line net amounts.
    total_net: Decimal
    total_vat: Decimal
    #: Total including VAT (TTC).
    total_gross: Decimal
    #: What the buyer pays: ``total_gross``, less the aid when it is a price complement.
    amount_due: Decimal
    #: Payment terms as printed, e.g. "30 jours à réception de la facture".
    payment_terms: str
    #: Required on an invoice; a credit note has none.
    due_date: date | None = None
    #: Date of supply, or the period the document covers (both included): one is required.
    supply_date: date | None = None
    period_start: date | None = None
    period_end: date | None = None
    #: Chorus Pro "service exécutant" code of the buyer (EN 16931 BT-10, buyer reference).
    chorus_service_code: str | None = None
    #: The buyer's engagement / purchase order number (EN 16931 BT-13).
    engagement_number: str | None = None
    #: Where goods were delivered, when not the buyer's address (CGI art. 242 nonies A).
    delivery_address: PostalAddress | None = None
    #: The seller's account at the Trésor public, for a transfer; required on an invoice.
    payment_iban: str | None = None
    payment_bic: str | None = None
    #: The invoice a credit note corrects; only on a credit note, and then required.
    corrected_invoice_number: str | None = None
    corrected_invoice_date: date | None = None
    #: FEDER aid as a price complement inside the VAT base (True) or a price reduction.
    aid_in_vat_base: bool = True
    #: The seller opted to pay VAT on invoicing rather than on receipt (débits).
    vat_on_debits: bool = False
    currency: str = "EUR"
    #: Free notes printed above the mentions and carried in the XML.
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", DocumentKind(self.kind))
        object.__setattr__(self, "operation_category", OperationCategory(self.operation_category))
        object.__setattr__(self, "lines", tuple(self.lines))
        object.__setattr__(self, "vat_breakdown", tuple(self.vat_breakdown))
        object.__setattr__(self, "notes", tuple(self.notes))

    @property
    def is_credit_note(self) -> bool:
        return self.kind is DocumentKind.CREDIT_NOTE

    @property
    def title(self) -> str:
        return self.kind.title

    @property
    def total_aid(self) -> Decimal:
        return total_aid(self.lines)

    @property
    def total_net_before_aid(self) -> Decimal:
        """Total excluding VAT before an aid that reduces prices (equals total_net otherwise)."""
        return self.total_net if self.aid_in_vat_base else self.total_net + self.total_aid

    @property
    def prepaid_amount(self) -> Decimal:
        """The part of the total paid by the FEDER, not by the buyer (EN 16931 BT-113)."""
        return self.total_aid if self.aid_in_vat_base else ZERO

    @property
    def annex(self) -> tuple[AnnexEntry, ...]:
        """The annex "délibérations et marchés": empty when no line cites either."""
        return annex_entries(self.lines)


class InconsistentDocument(ValidationFailed):
    """A document whose figures or mandatory content do not hold: it is never rendered."""

    def __init__(self, number: str, problems: Mapping[str, Sequence[str]]) -> None:
        count = sum(len(messages) for messages in problems.values())
        super().__init__(
            f"document {number or '(without number)'}: {count} problem(s), not rendered",
            errors=problems,
        )


def line_net_amount(
    unit_price: Decimal,
    quantity: Decimal,
    aid_amount: Decimal | None = None,
    *,
    aid_in_vat_base: bool,
    prorata_days: int | None = None,
    period_days: int | None = None,
) -> Decimal:
    """A line's amount excluding VAT: the gross price, less the aid when it reduces the price.

    The gross price is quantity x unit price, prorated by day when ``prorata_days`` of
    ``period_days`` are given, rounded once (:func:`purchasing.money.line_amount`).
    """
    gross = line_amount(unit_price, quantity, days=prorata_days, period_days=period_days)
    if aid_amount is None or aid_in_vat_base:
        return gross
    return gross - aid_amount


def total_aid(lines: Iterable[InvoiceLine]) -> Decimal:
    return sum((line.aid_amount for line in lines if line.aid_amount is not None), ZERO)


def compute_totals(lines: Sequence[InvoiceLine], *, aid_in_vat_base: bool) -> DocumentTotals:
    """VAT breakdown and totals of ``lines``, as EN 16931 computes them.

    VAT is rounded once per rate, on the sum of the line amounts at that rate, never per
    line; the totals are plain sums of rounded parts, so they hold to the cent.
    """
    totals = document_totals((line.net_amount, line.vat_rate) for line in lines)
    breakdown = tuple(
        VatBreakdown(rate=part.rate, base=part.base, amount=part.vat) for part in totals.vat
    )
    total_net, total_vat, total_gross = (
        totals.total_excl_vat,
        totals.total_vat,
        totals.total_incl_vat,
    )
    prepaid = total_aid(lines) if aid_in_vat_base else ZERO
    return DocumentTotals(
        vat_breakdown=breakdown,
        total_net=total_net,
        total_vat=total_vat,
        total_gross=total_gross,
        amount_due=total_gross - prepaid,
    )


def check_consistency(doc: InvoiceDocument) -> None:
    """Refuse ``doc`` unless its figures add up to the cent and its mandatory content is there.

    Raises :class:`InconsistentDocument` listing every problem by field
    ("lines[2].net_amount", "total_vat"...). Checked: each line amount is quantity x unit
    price (x its prorata), half-up, less its aid when the aid reduces the price; each VAT
    base is the sum of its lines and its VAT the half-up product of base and rate; the
    totals are the sums of their parts; the amount due is the total less the aid paid by
    the fund; and the mentions the law requires (parties, dates, period, payment,
    corrected invoice) are present.
    """
    problems = _Problems()
    _check_header(doc, problems)
    _check_party(doc.seller, "seller", problems, vat_number_required=True)
    _check_party(doc.buyer, "buyer", problems, vat_number_required=False)
    _check_payment(doc, problems)
    lines_well_formed = _check_lines(doc, problems)
    if lines_well_formed:
        _check_totals(doc, problems)
    if problems:
        raise InconsistentDocument(doc.number, problems.by_field)


class _Problems:
    def __init__(self) -> None:
        self.by_field: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.by_field.setdefault(field, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.by_field)

    def require_text(self, value: object, field: str) -> None:
        if not isinstance(value, str) or not value.strip():
            self.add(field, "is required")

    def require_amount(self, value: object, field: str) -> bool:
        """``value`` is a Decimal in cents; report it otherwise."""
        if not isinstance(value, Decimal) or not value.is_finite():
            self.add(field, f"must be a Decimal amount, not {value!r}")
            return False
        if value != round_cents(value):
            self.add(field, f"{value} is not rounded to the cent")
            return False
        return True

    def require_equal(self, field: str, given: Decimal, expected: Decimal, rule: str) -> None:
        if given != expected:
            self.add(field, f"{given} given, {expected} expected ({rule})")


def _check_header(doc: InvoiceDocument, problems: _Problems) -> None:
    problems.require_text(doc.number, "number")
    problems.require_text(doc.payment_terms, "payment_terms")
    if doc.currency != "EUR":
        problems.add("currency", f"only EUR is supported, not {doc.currency!r}")
    if doc.supply_date is None and (doc.period_start is None or doc.period_end is None):
        problems.add("supply_date", "a date of supply or a period (start and end) is required")
    if (doc.period_start is None) != (doc.period_end is None):
        problems.add("period_end", "a period needs both its start and its end")
    elif doc.period_start and doc.period_end and doc.period_end < doc.period_start:
        problems.add("period_end", "the period ends before it starts")
    if doc.is_credit_note:
        problems.require_text(doc.corrected_invoice_number, "corrected_invoice_number")
        if doc.corrected_invoice_date is None:
            problems.add("corrected_invoice_date", "is required on a credit note")
        elif doc.corrected_invoice_date > doc.issue_date:
            problems.add("corrected_invoice_date", "the corrected invoice is after the credit note")
    else:
        if doc.corrected_invoice_number is not None or doc.corrected_invoice_date is not None:
            problems.add("corrected_invoice_number", "only a credit note corrects an invoice")
        if doc.due_date is None:
            problems.add("due_date", "is required on an invoice")
    if doc.due_date is not None and doc.due_date < doc.issue_date:
        problems.add("due_date", "falls before the issue date")


def _check_party(
    party: Party, role: str, problems: _Problems, *, vat_number_required: bool
) -> None:
    problems.require_text(party.name, f"{role}.name")
    if not party.address.lines or not all(line.strip() for line in party.address.lines):
        problems.add(f"{role}.address.lines", "at least one non-blank street line is required")
    problems.require_text(party.address.postal_code, f"{role}.address.postal_code")
    problems.require_text(party.address.city, f"{role}.address.city")
    if not _SIRET.fullmatch(party.siret or ""):
        problems.add(f"{role}.siret", f"{party.siret!r} is not 14 digits")
    if party.vat_number is not None and not _VAT_NUMBER.fullmatch(party.vat_number):
        problems.add(f"{role}.vat_number", f"{party.vat_number!r} is not a VAT number")
    if vat_number_required and party.vat_number is None:
        problems.add(f"{role}.vat_number", "is required: the document charges VAT")


def _check_payment(doc: InvoiceDocument, problems: _Problems) -> None:
    if doc.is_credit_note:
        return
    if doc.payment_iban is None or not iban.is_valid(doc.payment_iban):
        problems.add("payment_iban", f"{doc.payment_iban!r} is not a valid IBAN")
    if doc.payment_bic is None or not bic.is_valid(doc.payment_bic):
        problems.add("payment_bic", f"{doc.payment_bic!r} is not a valid BIC")


def _check_lines(doc: InvoiceDocument, problems: _Problems) -> bool:
    """Check each line; False when some figure is not even a Decimal (sums are then moot)."""
    if not doc.lines:
        problems.add("lines", "a document has at least one line")
        return False
    well_formed = True
    for index, line in enumerate(doc.lines):
        where = f"lines[{index}]"
        if line.position != index + 1:
            problems.add(f"{where}.position", f"{line.position} given, lines are numbered 1 to n")
        problems.require_text(line.designation, f"{where}.designation")
        problems.require_text(line.unit, f"{where}.unit")
        numbers_ok = problems.require_amount(line.net_amount, f"{where}.net_amount")
        for name in ("quantity", "unit_price", "vat_rate"):
            value = getattr(line, name)
            if not isinstance(value, Decimal) or not value.is_finite():
                problems.add(f"{where}.{name}", f"must be a Decimal, not {value!r}")
                numbers_ok = False
        for name in ("quantity", "unit_price"):
            value = getattr(line, name)
            if isinstance(value, Decimal) and value.is_finite() and value != round(value, 4):
                # Printed with four decimals at most: what is printed must be what was used.
                problems.add(f"{where}.{name}", f"{value} has more than four decimals")
                numbers_ok = False
        if isinstance(line.vat_rate, Decimal) and not (0 < line.vat_rate < 1):
            # Standard-rated only (EN 16931 category S): an exempt line would need its
            # exemption mention and category, which no catalogue item needs today.
            problems.add(f"{where}.vat_rate", f"{line.vat_rate} is not a VAT rate above 0")
        if (line.period_start is None) != (line.period_end is None):
            problems.add(f"{where}.period_end", "a period needs both its start and its end")
        elif line.period_start and line.period_end and line.period_end < line.period_start:
            problems.add(f"{where}.period_end", "the period ends before it starts")
        if (line.deliberation_reference is None) != (line.deliberation_date is None):
            # The annex cites a deliberation as acts do: its reference and its date.
            problems.add(
                f"{where}.deliberation_date", "a deliberation needs both its reference and date"
            )
        if (line.prorata_days is None) != (line.period_days is None):
            problems.add(f"{where}.period_days", "a prorata needs its days and the period's")
            numbers_ok = False
        elif line.prorata_days is not None and not (
            isinstance(line.prorata_days, int)
            and isinstance(line.period_days, int)
            and 0 < line.prorata_days <= line.period_days
        ):
            problems.add(
                f"{where}.prorata_days",
                f"{line.prorata_days} days of {line.period_days} is not a part of a period",
            )
            numbers_ok = False
        if line.aid_amount is not None:
            if not problems.require_amount(line.aid_amount, f"{where}.aid_amount"):
                numbers_ok = False
            elif numbers_ok and not (ZERO < line.aid_amount <= line.gross_amount):
                problems.add(
                    f"{where}.aid_amount",
                    f"{line.aid_amount} must be positive and at most the gross price "
                    f"{line.gross_amount}",
                )
            problems.require_text(line.aid_label, f"{where}.aid_label")
        elif line.aid_label is not None:
            problems.add(f"{where}.aid_label", "given without an aid amount")
        if numbers_ok:
            expected = line_net_amount(
                line.unit_price,
                line.quantity,
                line.aid_amount,
                aid_in_vat_base=doc.aid_in_vat_base,
                prorata_days=line.prorata_days,
                period_days=line.period_days,
            )
            rule = "quantity x unit price"
            if line.is_prorated:
                rule += f" x {line.prorata_days}/{line.period_days}"
            rule += ", half-up"
            if line.aid_amount is not None and not doc.aid_in_vat_base:
                rule += ", less the aid"
            problems.require_equal(f"{where}.net_amount", line.net_amount, expected, rule)
        well_formed = well_formed and numbers_ok
    return well_formed


def _check_totals(doc: InvoiceDocument, problems: _Problems) -> None:
    amounts_ok = all(
        [problems.require_amount(getattr(doc, name), name) for name in _TOTAL_FIELDS]
        + [
            problems.require_amount(vat.base, f"vat_breakdown[{i}].base")
            and problems.require_amount(vat.amount, f"vat_breakdown[{i}].amount")
            for i, vat in enumerate(doc.vat_breakdown)
        ]
    )
    if not amounts_ok:
        return
    expected = compute_totals(doc.lines, aid_in_vat_base=doc.aid_in_vat_base)
    given_rates = [vat.rate for vat in doc.vat_breakdown]
    expected_rates = [vat.rate for vat in expected.vat_breakdown]
    if sorted(given_rates) != sorted(expected_rates) or len(set(given_rates)) != len(given_rates):
        problems.add(
            "vat_breakdown",
            f"rates {_rates(given_rates)} given, one entry per rate of the lines expected: "
            f"{_rates(expected_rates)}",
        )
    else:
        for index, vat in enumerate(doc.vat_breakdown):
            base = sum((line.net_amount for line in doc.lines if line.vat_rate == vat.rate), ZERO)
            where = f"vat_breakdown[{index}]"
            problems.require_equal(f"{where}.base", vat.base, base, "sum of its lines")
            problems.require_equal(
                f"{where}.amount",
                vat.amount,
                round_cents(vat.base * vat.rate),
                "base x rate, half-up",
            )
    problems.require_equal(
        "total_net", doc.total_net, expected.total_net, "sum of the line net amounts"
    )
    problems.require_equal(
        "total_vat",
        doc.total_vat,
        sum((vat.amount for vat in doc.vat_breakdown), ZERO),
        "sum of the VAT breakdown",
    )
    problems.require_equal(
        "total_gross", doc.total_gross, doc.total_net + doc.total_vat, "total_net + total_vat"
    )
    rule = "total_gross less the aid" if doc.aid_in_vat_base else "total_gross"
    problems.require_equal("amount_due", doc.amount_due, doc.total_gross - doc.prepaid_amount, rule)


_TOTAL_FIELDS = ("total_net", "total_vat", "total_gross", "amount_due")


def _rates(rates: Iterable[Decimal]) -> str:
    return ", ".join(str(rate) for rate in rates) or "none"
