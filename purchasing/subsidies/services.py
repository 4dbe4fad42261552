"""Use cases of subsidy programmes: the FEDER grant, its envelope, receipts and reversals.

Each public function that takes no caller's transaction is one use case and one
transaction: it commits once, at its end, and leaves nothing behind when it refuses. The
acting user comes in as ``actor`` / ``recorded_by`` (None for an operator command).
Every change writes an audit record on the programme.

Programmes
----------
Finance defines a programme: its grant (``grant_total``), split between the syndicat's own
share, the **envelope** that lowers invoice prices, and the partners' shares, which are
passed on to them; the eligible products and members; the aid rule per line; the VAT
treatment of the aid (see :class:`~purchasing.subsidies.models.SubsidyProgramme`). The
money settings (:data:`~purchasing.subsidies.models.MONEY_FIELDS` and the partners'
shares) are frozen once money moved on the programme: aid granted, a tranche received or
a reversal made. The rest (names, period, eligible products and members) may change:
it only affects invoices issued afterwards.

The envelope
------------
Billing calls :func:`allocate_aid` while it issues an invoice, inside its own transaction.
The programme rows are locked (``SELECT ... FOR UPDATE``, in id order so that issuers
never deadlock) and read afresh, each line's aid is computed by the programme's rule and
taken from what remains of the envelope: a line gets at most the remainder, the lines
after it nothing (full price). The running ``consumed`` column is raised under the lock
and a CHECK constraint holds it between 0 and the envelope, so the envelope can never be
overspent, with any number of concurrent issuers. When the envelope runs out, the
``subsidy.envelope_exhausted`` event and an audit record tell finance, and the
programme's code is listed in :attr:`AidAllocation.exhausted`.

:func:`give_back_aid`, called while a credit note is issued, restores the envelope by the
part of each credited line's aid that the credit note credits, in proportion to the
amount credited, never more than the line consumed: crediting all of a line, at once or
in parts, gives back exactly its aid.

Grant money
-----------
:func:`record_receipt` records a tranche paid by the funder; all receipts together never
exceed the grant. The ``subsidy.received`` event is posted by the ledger as an operating
subsidy (7477 "Budget communautaire et fonds structurels", receivable 441).

:func:`record_reversal` records a transfer to a partner. It never exceeds the partner's
share, counting every earlier reversal to it; and since a reversal passes on grant money
actually received, on every day reversals to all partners never exceed the receipts up to
that day (:func:`~purchasing.subsidies.rules.reversible_on`). The ``subsidy.reversed``
event is posted as a subsidy paid to a public body (6573, or a third-party account 467 if
the accountant treats the partners' part as never the centre's resource).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import case, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from purchasing.audit.services import record_change, snapshot
from purchasing.auth.roles import Actor
from purchasing.catalog.models import Product
from purchasing.errors import Conflict, NotFound, ValidationFailed
from purchasing.events import publish
from purchasing.fields import today_in_paris
from purchasing.members.models import Member, MemberKind
from purchasing.money import ZERO, round_cents
from purchasing.pdf import render_pdf
from purchasing.subsidies.models import (
    MONEY_FIELDS,
    SubsidyConsumption,
    SubsidyPartner,
    SubsidyProgramme,
    SubsidyReceipt,
    SubsidyReversal,
    programme_problems,
    programme_products,
)
from purchasing.subsidies.rules import line_aid, reversible_on
from purchasing.totals import document_totals
from purchasing.unit_of_work import transaction

__all__ = [
    "PROGRAMME_FIELDS",
    "AidAllocation",
    "AidAlreadyAllocated",
    "AidEstimate",
    "AidGrant",
    "AidRequest",
    "AidSources",
    "CreditExceedsAidedLine",
    "LoadSummary",
    "MoneySettingsFrozen",
    "PricedLine",
    "ProgrammeOverview",
    "ProgrammeStatement",
    "ReceiptExceedsGrant",
    "ReversalExceedsReceipts",
    "ReversalExceedsShare",
    "allocate_aid",
    "create_programme",
    "estimate_aid",
    "get_programme",
    "give_back_aid",
    "list_programmes",
    "load_programme",
    "programme_overviews",
    "programme_statement",
    "record_receipt",
    "record_reversal",
    "render_statement_pdf",
    "update_programme",
]

#: What a programme is made of, as created and loaded, besides ``products`` (SKUs) and
#: ``partners`` (``code``, ``name``, ``share`` each).
PROGRAMME_FIELDS = frozenset(
    {
        "code",
        "name",
        "funder",
        "aid_label",
        "period_start",
        "period_end",
        "grant_total",
        "envelope",
        "aid_in_vat_base",
        "member_kinds",
        "max_population",
        "aid_kind",
        "aid_rate",
        "aid_per_unit",
        "aid_cap_per_unit",
        "aid_cap_per_line",
    }
)
#: The code identifies a programme (in files, statements, events): it never changes.
_UPDATABLE = (PROGRAMME_FIELDS - {"code"}) | {"products", "partners"}
_CREATABLE = PROGRAMME_FIELDS | {"products", "partners"}
_REQUIRED = frozenset(
    {"code", "name", "funder", "period_start", "period_end", "grant_total", "envelope"}
    | {"member_kinds", "aid_kind"}
)

EXHAUSTED_EVENT = "subsidy.envelope_exhausted"


# --- Errors -----------------------------------------------------------------------------


class MoneySettingsFrozen(Conflict):
    """Money moved on the programme: the settings that decide amounts can no longer change."""

    def __init__(self, programme: SubsidyProgramme, fields: Sequence[str]) -> None:
        message = (
            f"{programme.code}: aid was granted, or grant money received or reversed; "
            "the money settings can no longer change"
        )
        super().__init__(message, errors={field: [message] for field in fields})


class ReceiptExceedsGrant(ValidationFailed):
    pass


class ReversalExceedsShare(ValidationFailed):
    pass


class ReversalExceedsReceipts(ValidationFailed):
    pass


class AidAlreadyAllocated(Conflict):
    """An invoice or credit note moves the envelope once, when it is issued."""

    def __init__(self, document_id: int) -> None:
        super().__init__(
            f"the envelope was already moved for document {document_id}", field="invoice_id"
        )


class CreditExceedsAidedLine(ValidationFailed):
    pass


# --- Programmes -------------------------------------------------------------------------


def list_programmes(session: Session) -> list[SubsidyProgramme]:
    """Every programme, the most recent period first."""
    return list(
        session.scalars(
            select(SubsidyProgramme).order_by(
                SubsidyProgramme.period_start.desc(), SubsidyProgramme.code
            )
        )
    )


def get_programme(session: Session, programme_id: int) -> SubsidyProgramme:
    programme = session.get(SubsidyProgramme, programme_id)
    if programme is None:
        raise NotFound(f"no subsidy programme with id {programme_id}", field="programme_id")
    return programme


def create_programme(
    session: Session, data: Mapping[str, Any], *, actor: Actor | None
) -> SubsidyProgramme:
    """Define a programme from ``PROGRAMME_FIELDS``, ``products`` and ``partners``.

    ``aid_label`` defaults to the code. Refused unless the envelope and the partners'
    shares add up to the grant, the aid rule is complete, every product is in the
    catalogue and marked eligible, and programmes in force at the same time share the
    VAT treatment.
    """
    _refuse_unknown_fields(data, _CREATABLE)
    with transaction(session):
        programme = _create_programme(session, data, actor=actor)
    return programme


def update_programme(
    session: Session, programme_id: int, changes: Mapping[str, Any], *, actor: Actor | None
) -> SubsidyProgramme:
    """Change some settings of a programme; ``products`` and ``partners`` replace the lists.

    The money settings and the partners' shares are refused (``MoneySettingsFrozen``)
    once money moved on the programme; the code never changes.
    """
    _refuse_unknown_fields(changes, _UPDATABLE)
    with transaction(session):
        programme = _lock_programme(session, programme_id)
        _apply_changes(session, programme, changes, actor=actor)
    return programme


def _create_programme(
    session: Session, data: Mapping[str, Any], *, actor: Actor | None
) -> SubsidyProgramme:
    values = _programme_values(data)
    missing = sorted(_REQUIRED - values.keys())
    if missing:
        raise ValidationFailed(
            "the programme is incomplete", errors={field: ["required"] for field in missing}
        )
    values["aid_label"] = values.get("aid_label") or values["code"]
    values.setdefault("aid_in_vat_base", True)
    partners = [dict(partner) for partner in data.get("partners") or ()]
    problems = _programme_problems(values, partners)
    products = _eligible_products(session, data.get("products") or (), problems)
    if problems:
        raise ValidationFailed("the programme does not hold together", errors=problems)
    if session.scalar(select(SubsidyProgramme.id).where(SubsidyProgramme.code == values["code"])):
        raise Conflict(f"a programme {values['code']} already exists", field="code")
    _check_vat_treatment(session, values, programme_id=None)
    programme = SubsidyProgramme(
        **values,
        products=products,
        partners=[SubsidyPartner(**partner) for partner in partners],
    )
    session.add(programme)
    try:
        session.flush()
    except IntegrityError as exc:  # the code was taken by a concurrent transaction
        if "code" not in str(exc.orig):
            raise
        raise Conflict(f"a programme {values['code']} already exists", field="code") from None
    record_change(
        session,
        actor=actor,
        action="subsidy_programme.created",
        entity="subsidy_programme",
        entity_id=programme.id,
        after=_programme_snapshot(programme),
    )
    return programme


def _apply_changes(
    session: Session,
    programme: SubsidyProgramme,
    changes: Mapping[str, Any],
    *,
    actor: Actor | None,
) -> bool:
    """Apply ``changes`` to a locked programme; whether anything changed."""
    before = _programme_snapshot(programme)
    current = {field: getattr(programme, field) for field in PROGRAMME_FIELDS}
    values = current | _programme_values(changes)
    if "partners" in changes:
        partners = [dict(partner) for partner in changes["partners"] or ()]
    else:
        partners = [{"code": p.code, "name": p.name, "share": p.share} for p in programme.partners]

    shares = {p["code"]: p["share"] for p in partners}
    moved = sorted(field for field in MONEY_FIELDS if values[field] != current[field])
    if shares != {p.code: p.share for p in programme.partners}:
        moved.append("partners")
    if moved and _money_moved(session, programme.id):
        raise MoneySettingsFrozen(programme, moved)

    problems = _programme_problems(values, partners)
    products = programme.products
    if "products" in changes:
        products = _eligible_products(session, changes["products"] or (), problems)
    if problems:
        raise ValidationFailed("the programme does not hold together", errors=problems)
    _check_vat_treatment(session, values, programme_id=programme.id)

    for field, value in values.items():
        if value != current[field]:
            setattr(programme, field, value)
    if [p.id for p in products] != [p.id for p in programme.products]:
        programme.products = products
    _replace_partners(programme, partners)
    session.flush()

    after = _programme_snapshot(programme)
    if after == before:
        return False
    record_change(
        session,
        actor=actor,
        action="subsidy_programme.updated",
        entity="subsidy_programme",
        entity_id=programme.id,
        before=before,
        after=after,
    )
    return True


def _programme_values(data: Mapping[str, Any]) -> dict[str, Any]:
    values = {field: data[field] for field in PROGRAMME_FIELDS if field in data}
    if "member_kinds" in values:
        values["member_kinds"] = sorted({MemberKind(kind).value for kind in values["member_kinds"]})
    return values


def _programme_problems(
    values: Mapping[str, Any], partners: Sequence[Mapping[str, Any]]
) -> dict[str, list[str]]:
    problems = programme_problems(values, {p["code"]: p["share"] for p in partners})
    codes = [p["code"] for p in partners]
    repeated = sorted({code for code in codes if codes.count(code) > 1})
    if repeated:
        problems.setdefault("partners", []).append(f"partner(s) {', '.join(repeated)} repeated")
    return problems


def _eligible_products(
    session: Session, skus: Iterable[str], problems: dict[str, list[str]]
) -> list[Product]:
    """The catalogue products of ``skus``; what is wrong with them goes into ``problems``."""
    skus = list(skus)
    found = {
        product.sku: product
        for product in session.scalars(select(Product).where(Product.sku.in_(skus)))
    }
    messages = [f"no product {sku} in the catalogue" for sku in skus if sku not in found]
    messages += [
        f"{sku} is not marked subsidy_eligible in the catalogue"
        for sku, product in found.items()
        if not product.subsidy_eligible
    ]
    repeated = sorted({sku for sku in skus if skus.count(sku) > 1})
    if repeated:
        messages.append(f"{', '.join(repeated)} repeated")
    if not skus:
        messages.append("at least one eligible product")
    if messages:
        problems.setdefault("products", []).extend(messages)
    return sorted(found.values(), key=lambda product: product.sku)


def _check_vat_treatment(
    session: Session, values: Mapping[str, Any], *, programme_id: int | None
) -> None:
    """Programmes in force at the same time treat the aid alike: one invoice, one treatment."""
    query = select(SubsidyProgramme).where(
        SubsidyProgramme.period_start <= values["period_end"],
        SubsidyProgramme.period_end >= values["period_start"],
        SubsidyProgramme.aid_in_vat_base.is_not(values["aid_in_vat_base"]),
    )
    if programme_id is not None:
        query = query.where(SubsidyProgramme.id != programme_id)
    other = session.scalars(query.order_by(SubsidyProgramme.code)).first()
    if other is not None:
        raise ValidationFailed(
            f"{other.code}, in force at the same time ({other.period_start.isoformat()} to "
            f"{other.period_end.isoformat()}), treats the aid the other way for VAT; "
            "an invoice carries one treatment",
            field="aid_in_vat_base",
        )


def _replace_partners(programme: SubsidyProgramme, partners: Sequence[Mapping[str, Any]]) -> None:
    """Make the programme's partners ``partners``: matched by code, updated, added, removed."""
    by_code = {partner.code: partner for partner in programme.partners}
    wanted = {p["code"] for p in partners}
    for partner in list(programme.partners):
        if partner.code not in wanted:
            programme.partners.remove(partner)
    for values in partners:
        existing = by_code.get(values["code"])
        if existing is None:
            programme.partners.append(SubsidyPartner(**values))
            continue
        for field in ("name", "share"):
            if getattr(existing, field) != values[field]:
                setattr(existing, field, values[field])


def _money_moved(session: Session, programme_id: int) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(SubsidyConsumption.programme_id == programme_id)
                | exists().where(SubsidyReceipt.programme_id == programme_id)
                | exists().where(SubsidyReversal.programme_id == programme_id)
            )
        )
    )


def _programme_snapshot(programme: SubsidyProgramme) -> dict[str, Any]:
    return snapshot(programme) | {
        "products": programme.eligible_skus,
        "partners": [
            {"code": p.code, "name": p.name, "share": str(p.share)} for p in programme.partners
        ],
    }


def _lock_programme(session: Session, programme_id: int) -> SubsidyProgramme:
    """The programme, locked until the end of the transaction and read afresh."""
    programme = session.scalar(
        select(SubsidyProgramme)
        .where(SubsidyProgramme.id == programme_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if programme is None:
        raise NotFound(f"no subsidy programme with id {programme_id}", field="programme_id")
    return programme


def _lock_programmes(session: Session, programme_ids: Iterable[int]) -> list[SubsidyProgramme]:
    """The programmes, locked in id order (concurrent lockers never deadlock), read afresh."""
    return list(
        session.scalars(
            select(SubsidyProgramme)
            .where(SubsidyProgramme.id.in_(sorted(set(programme_ids))))
            .order_by(SubsidyProgramme.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _refuse_unknown_fields(data: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"not programme fields: {', '.join(unknown)}")


# --- Aid on invoices (called by billing, inside its transaction) ------------------------


@dataclass(frozen=True)
class AidRequest:
    """One invoice line, as billing sees it."""

    #: The line's position on the invoice.
    key: int
    product_id: int | None
    #: Frozen on the order line from the catalogue.
    subsidy_eligible: bool
    quantity: Decimal
    #: The line's amount excl. VAT before any aid, already rounded to the cent.
    gross_amount: Decimal


@dataclass(frozen=True)
class AidGrant:
    key: int
    programme_id: int
    #: Printed after "dont aide FEDER": "FEDER-MC-2024 Mairie connectée".
    label: str
    #: More than 0, at most the line's gross amount.
    amount: Decimal


@dataclass(frozen=True)
class AidAllocation:
    grants: list[AidGrant]
    #: The VAT treatment of every grant of the invoice (True when there is none).
    aid_in_vat_base: bool
    #: Codes of the programmes whose envelope ran out on this invoice: finance is told.
    exhausted: list[str]


@dataclass
class AidSources:
    """What the aid of invoices issued together reads once for all of them: the
    programmes that may aid their products on the issue day, locked for the rest of the
    transaction (in id order: concurrent issuers never deadlock), and the invoices among
    them that already moved an envelope. A billing run's group of fifty invoices then
    asks the database twice rather than some hundred and fifty times."""

    on: date
    #: Locked programmes, by id, read afresh when locked.
    programmes: dict[int, SubsidyProgramme]
    #: Ids of the programmes each product is eligible under, among ``programmes``.
    of_product: dict[int, set[int]]
    #: Invoices, among those read for, that already consumed aid.
    moved: frozenset[int]

    @classmethod
    def read(
        cls,
        session: Session,
        *,
        on: date,
        invoice_ids: Iterable[int],
        product_ids: Iterable[int],
    ) -> AidSources:
        invoice_ids, product_ids = set(invoice_ids), set(product_ids)
        moved = frozenset(
            session.scalars(
                select(SubsidyConsumption.invoice_id)
                .where(SubsidyConsumption.invoice_id.in_(invoice_ids))
                .distinct()
            )
            if invoice_ids
            else ()
        )
        of_product: dict[int, set[int]] = defaultdict(set)
        if product_ids:
            for programme_id, product_id in session.execute(
                select(programme_products.c.programme_id, programme_products.c.product_id)
                .join(SubsidyProgramme, SubsidyProgramme.id == programme_products.c.programme_id)
                .where(
                    programme_products.c.product_id.in_(product_ids),
                    SubsidyProgramme.period_start <= on,
                    SubsidyProgramme.period_end >= on,
                )
            ):
                of_product[product_id].add(programme_id)
        wanted = set().union(*of_product.values())
        programmes = {p.id: p for p in _lock_programmes(session, wanted)} if wanted else {}
        return cls(on=on, programmes=programmes, of_product=dict(of_product), moved=moved)


def allocate_aid(
    session: Session,
    *,
    invoice_id: int,
    member_id: int,
    on: date,
    lines: Sequence[AidRequest],
    sources: AidSources | None = None,
) -> AidAllocation:
    """Aid the lines of an invoice being issued, out of the envelopes, in the caller's
    transaction (nothing is committed here).

    A line is aided when it is ``subsidy_eligible`` and its product is eligible under a
    programme in force on ``on`` (the issue date) whose member rule admits the member.
    Its aid follows the programme's rule, and is at most what remains of the envelope:
    the line that exhausts it gets the remainder, the lines after it none (full price).
    Lines are served in key order. A line is aided by one programme: the first one, by
    period start then id, that still has money; and all the aid of an invoice has one
    VAT treatment, that of the first programme granting (programmes in force together
    are refused different treatments, so this only guards against history).

    ``sources`` are those read for a group of invoices issued together (the same
    ``on``, this invoice among them), and what the aid writes is then flushed by the
    caller, once for the group; without, they are read for this invoice alone, and it is
    flushed here.

    Raises ``AidAlreadyAllocated`` if the invoice already moved the envelope.
    """
    keys = [line.key for line in lines]
    if len(set(keys)) != len(keys):
        raise ValueError(f"invoice {invoice_id}: line keys repeat ({keys})")
    for line in lines:
        if line.gross_amount != round_cents(line.gross_amount):
            raise ValueError(f"line {line.key}: {line.gross_amount} is not rounded to the cent")
    asking = sorted(
        (
            line
            for line in lines
            if line.subsidy_eligible
            and line.product_id is not None
            and line.quantity > 0
            and line.gross_amount > 0
        ),
        key=lambda line: line.key,
    )
    nothing = AidAllocation(grants=[], aid_in_vat_base=True, exhausted=[])
    if not asking:
        return nothing
    alone = sources is None
    if sources is None:
        sources = AidSources.read(
            session,
            on=on,
            invoice_ids=[invoice_id],
            product_ids={line.product_id for line in asking},
        )
    elif sources.on != on:
        raise ValueError(f"aid sources read for {sources.on}, not {on}")
    if invoice_id in sources.moved:
        raise AidAlreadyAllocated(invoice_id)
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(f"no member with id {member_id}", field="member_id")

    def helps(programme: SubsidyProgramme) -> bool:
        # Judged on the locked rows, as they are now.
        return programme.in_force_on(on) and programme.eligibility.admits(
            kind=member.kind, population=member.population
        )

    programmes_of_product: dict[int, set[int]] = {}
    for line in asking:
        admitted = {
            programme_id
            for programme_id in sources.of_product.get(line.product_id, ())
            if helps(sources.programmes[programme_id])
        }
        if admitted:
            programmes_of_product[line.product_id] = admitted
    if not programmes_of_product:
        return nothing
    candidates = sorted(
        (sources.programmes[i] for i in set().union(*programmes_of_product.values())),
        key=lambda programme: (programme.period_start, programme.id),
    )

    treatment: bool | None = None
    granted: dict[int, Decimal] = defaultdict(lambda: ZERO)
    consumed_before = {programme.id: programme.consumed for programme in candidates}
    grants: list[AidGrant] = []
    for line in asking:
        for programme in candidates:
            if programme.id not in programmes_of_product.get(line.product_id, ()):
                continue
            if treatment is not None and programme.aid_in_vat_base is not treatment:
                continue
            aid = min(
                line_aid(
                    programme.aid_rule, quantity=line.quantity, gross_amount=line.gross_amount
                ),
                programme.remaining,
            )
            if aid <= 0:
                continue
            treatment = programme.aid_in_vat_base
            programme.consumed += aid
            granted[programme.id] += aid
            session.add(
                SubsidyConsumption(
                    programme_id=programme.id,
                    invoice_id=invoice_id,
                    line_key=line.key,
                    member_id=member_id,
                    amount=aid,
                    # The line's amount as invoiced: credit notes credit parts of it.
                    line_amount=line.gross_amount if treatment else line.gross_amount - aid,
                    consumed_on=on,
                )
            )
            grants.append(AidGrant(line.key, programme.id, programme.aid_label, aid))
            break
    # The CHECK constraint on ``consumed`` backs the lock: an overspending flush fails.
    # Invoices issued together (their ``sources`` given) leave it to the caller's next
    # flush, which writes the consumptions of them all at once.
    if alone:
        session.flush()

    exhausted = []
    for programme in candidates:
        if programme.id not in granted:
            continue
        _record_envelope_move(
            session,
            programme,
            consumed_before[programme.id],
            action="subsidy_programme.aid_granted",
            document={"invoice_id": invoice_id},
        )
        if programme.remaining == 0:
            _announce_exhaustion(session, programme, invoice_id=invoice_id, on=on)
            exhausted.append(programme.code)
    return AidAllocation(
        grants=grants,
        aid_in_vat_base=True if treatment is None else treatment,
        exhausted=exhausted,
    )


def give_back_aid(
    session: Session,
    *,
    credit_note_id: int,
    corrected_invoice_id: int,
    credited: Sequence[tuple[int, Decimal]],
    on: date | None = None,
) -> list[AidGrant]:
    """Give back to the envelopes the aid of the invoice lines a credit note credits, in
    the caller's transaction (nothing is committed here).

    ``credited`` holds, per credited line, its key on the corrected invoice and the
    amount excl. VAT the credit note credits of it (the credit note line's net amount),
    out of the invoice line's net amount: its gross amount, or the gross amount less
    the aid when the aid reduced the price. Each line gives back its aid in proportion
    to what was credited of it so far, this credit note included, less what earlier
    credit notes gave back: never more than the line consumed, and exactly its aid once
    it is wholly credited. ``on`` dates the give-back (the credit note's issue date;
    default today).

    Returns the aid each credited line carries on the credit note (lines without aid,
    or whose share of aid rounds to nothing yet, carry none), keyed like ``credited``.
    """
    on = on or today_in_paris()
    keys = [key for key, _amount in credited]
    if len(set(keys)) != len(keys):
        raise ValueError(f"credit note {credit_note_id}: a line is credited twice ({keys})")
    for key, amount in credited:
        if amount <= 0 or amount != round_cents(amount):
            raise ValueError(f"line {key}: {amount} is not an amount credited")
    consumptions = {
        consumption.line_key: consumption
        for consumption in session.scalars(
            select(SubsidyConsumption).where(
                SubsidyConsumption.invoice_id == corrected_invoice_id,
                SubsidyConsumption.gives_back_id.is_(None),
                SubsidyConsumption.line_key.in_(keys),
            )
        )
    }
    if not consumptions:
        return []
    if _document_moved_envelope(session, credit_note_id):
        raise AidAlreadyAllocated(credit_note_id)
    programmes = {
        programme.id: programme
        for programme in _lock_programmes(session, (c.programme_id for c in consumptions.values()))
    }
    consumed_before = {id_: programme.consumed for id_, programme in programmes.items()}
    # What earlier credit notes gave back of each line, and how much of it they credited.
    earlier = {
        gives_back_id: (-given_back, credited_before)
        for gives_back_id, given_back, credited_before in session.execute(
            select(
                SubsidyConsumption.gives_back_id,
                func.sum(SubsidyConsumption.amount),
                func.sum(SubsidyConsumption.line_amount),
            )
            .where(SubsidyConsumption.gives_back_id.in_([c.id for c in consumptions.values()]))
            .group_by(SubsidyConsumption.gives_back_id)
        )
    }

    grants: list[AidGrant] = []
    for key, amount in credited:
        consumption = consumptions.get(key)
        if consumption is None:
            continue
        given_back, credited_before = (round_cents(v) for v in earlier.get(consumption.id, (0, 0)))
        credited_total = credited_before + amount
        if credited_total > consumption.line_amount:
            raise CreditExceedsAidedLine(
                f"line {key} of invoice {corrected_invoice_id} is {consumption.line_amount}; "
                f"{credited_total} would be credited in all",
                field="credited",
            )
        due_back = (
            consumption.amount
            if credited_total == consumption.line_amount
            else round_cents(consumption.amount * credited_total / consumption.line_amount)
        )
        back = due_back - given_back
        programme = programmes[consumption.programme_id]
        programme.consumed -= back
        # Recorded even when nothing is due back yet: the amount credited counts later.
        session.add(
            SubsidyConsumption(
                programme_id=programme.id,
                invoice_id=credit_note_id,
                line_key=key,
                member_id=consumption.member_id,
                amount=-back,
                line_amount=amount,
                consumed_on=on,
                gives_back_id=consumption.id,
            )
        )
        if back > 0:
            grants.append(AidGrant(key, programme.id, programme.aid_label, back))
    session.flush()
    for programme in programmes.values():
        if programme.consumed != consumed_before[programme.id]:
            _record_envelope_move(
                session,
                programme,
                consumed_before[programme.id],
                action="subsidy_programme.aid_given_back",
                document={"credit_note_id": credit_note_id, "invoice_id": corrected_invoice_id},
            )
    return grants


def _document_moved_envelope(session: Session, document_id: int) -> bool:
    return bool(
        session.scalar(select(exists().where(SubsidyConsumption.invoice_id == document_id)))
    )


def _record_envelope_move(
    session: Session,
    programme: SubsidyProgramme,
    consumed_before: Decimal,
    *,
    action: str,
    document: Mapping[str, int],
) -> None:
    record_change(
        session,
        actor=None,
        action=action,
        entity="subsidy_programme",
        entity_id=programme.id,
        before={"consumed": str(consumed_before)},
        after={"consumed": str(programme.consumed), **document},
    )


def _announce_exhaustion(
    session: Session, programme: SubsidyProgramme, *, invoice_id: int, on: date
) -> None:
    payload = {
        "programme_id": programme.id,
        "programme_code": programme.code,
        "envelope": programme.envelope,
        "invoice_id": invoice_id,
        "on": on,
    }
    publish(
        session,
        EXHAUSTED_EVENT,
        entity="subsidy_programme",
        entity_id=programme.id,
        payload=payload,
    )
    record_change(
        session,
        actor=None,
        action="subsidy_programme.envelope_exhausted",
        entity="subsidy_programme",
        entity_id=programme.id,
        after={key: str(value) for key, value in payload.items()},
    )


# --- Aid estimates (before ordering) ---------------------------------------------------


@dataclass(frozen=True)
class PricedLine:
    """A line priced but not invoiced (a catalogue price, a line in a cart)."""

    key: int
    product_id: int
    subsidy_eligible: bool
    quantity: Decimal
    #: Amount excl. VAT before any aid, rounded to the cent.
    gross_amount: Decimal
    vat_rate: Decimal


@dataclass(frozen=True)
class AidEstimate:
    """The aid a line would get if it were invoiced on the day asked, and what is left to
    pay. An estimate, not a promise: aid is taken from the envelope when the invoice is
    issued, and only as long as the envelope lasts."""

    key: int
    programme_code: str
    #: "FEDER-MC-2024 Mairie connectée"
    label: str
    amount: Decimal
    #: The line's amount excl. VAT less the aid.
    amount_after_aid: Decimal
    #: What the member pays for the line, VAT included, once the aid is deducted: the
    #: full price's VAT less the aid (price complement), or VAT on the reduced price.
    amount_due: Decimal
    aid_in_vat_base: bool


def estimate_aid(
    session: Session, *, member_id: int, on: date, lines: Sequence[PricedLine]
) -> dict[int, AidEstimate]:
    """The aid each line would get for the member on day ``on``, by line key; a line
    without aid is left out. Reads only: nothing is locked or consumed.

    The programmes are chosen as :func:`allocate_aid` chooses them (in force on ``on``,
    admitting the member, listing the product, by period start then id, one VAT
    treatment), and the lines together never get more than what remains of an envelope.
    """
    asking = sorted(
        (
            line
            for line in lines
            if line.subsidy_eligible and line.quantity > 0 and line.gross_amount > 0
        ),
        key=lambda line: line.key,
    )
    if not asking:
        return {}
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(f"no member with id {member_id}", field="member_id")
    listed = session.execute(
        select(SubsidyProgramme, programme_products.c.product_id)
        .join(programme_products, SubsidyProgramme.id == programme_products.c.programme_id)
        .where(
            programme_products.c.product_id.in_({line.product_id for line in asking}),
            SubsidyProgramme.period_start <= on,
            SubsidyProgramme.period_end >= on,
        )
    ).all()
    products_of: dict[int, set[int]] = defaultdict(set)
    programmes: dict[int, SubsidyProgramme] = {}
    for programme, product_id in listed:
        if programme.eligibility.admits(kind=member.kind, population=member.population):
            products_of[programme.id].add(product_id)
            programmes[programme.id] = programme
    candidates = sorted(programmes.values(), key=lambda p: (p.period_start, p.id))
    remaining = {programme.id: programme.remaining for programme in candidates}

    treatment: bool | None = None
    estimates: dict[int, AidEstimate] = {}
    for line in asking:
        for programme in candidates:
            if line.product_id not in products_of[programme.id]:
                continue
            if treatment is not None and programme.aid_in_vat_base is not treatment:
                continue
            aid = min(
                line_aid(
                    programme.aid_rule, quantity=line.quantity, gross_amount=line.gross_amount
                ),
                remaining[programme.id],
            )
            if aid <= 0:
                continue
            treatment = programme.aid_in_vat_base
            remaining[programme.id] -= aid
            if treatment:
                due = document_totals([(line.gross_amount, line.vat_rate)]).total_incl_vat - aid
            else:
                due = document_totals([(line.gross_amount - aid, line.vat_rate)]).total_incl_vat
            estimates[line.key] = AidEstimate(
                key=line.key,
                programme_code=programme.code,
                label=programme.aid_label,
                amount=aid,
                amount_after_aid=line.gross_amount - aid,
                amount_due=due,
                aid_in_vat_base=treatment,
            )
            break
    return estimates


# --- Grant money: receipts and reversals ------------------------------------------------


def record_receipt(
    session: Session,
    programme_id: int,
    *,
    received_on: date,
    amount: Decimal,
    reference: str,
    recorded_by: Actor | None,
) -> SubsidyReceipt:
    """Record a tranche of the grant paid by the funder; receipts never exceed the grant."""
    with transaction(session):
        programme = _lock_programme(session, programme_id)
        receipt = _record_receipt(
            session,
            programme,
            received_on=received_on,
            amount=amount,
            reference=reference,
            recorded_by=recorded_by,
        )
    return receipt


def record_reversal(
    session: Session,
    programme_id: int,
    *,
    partner: str,
    reversed_on: date,
    amount: Decimal,
    reference: str,
    recorded_by: Actor | None,
) -> SubsidyReversal:
    """Record grant money passed on to the partner of code ``partner``.

    Never beyond the partner's share (counting its earlier reversals), nor beyond the
    grant money received and not yet passed on, on that day and every later one.
    """
    with transaction(session):
        programme = _lock_programme(session, programme_id)
        reversal = _record_reversal(
            session,
            programme,
            partner_code=partner,
            reversed_on=reversed_on,
            amount=amount,
            reference=reference,
            recorded_by=recorded_by,
        )
    return reversal


def _record_receipt(
    session: Session,
    programme: SubsidyProgramme,
    *,
    received_on: date,
    amount: Decimal,
    reference: str,
    recorded_by: Actor | None,
) -> SubsidyReceipt:
    """Record a receipt on a locked programme."""
    _check_amount(amount)
    reference = _checked_reference(session, SubsidyReceipt, programme, reference)
    received = _total(session, SubsidyReceipt.amount, SubsidyReceipt.programme_id == programme.id)
    if received + amount > programme.grant_total:
        raise ReceiptExceedsGrant(
            f"at most {programme.grant_total - received} can still be received on "
            f"{programme.code}: the grant is {programme.grant_total}, {received} received so far",
            field="amount",
        )
    receipt = SubsidyReceipt(
        programme_id=programme.id,
        received_on=received_on,
        amount=amount,
        reference=reference,
        recorded_by_id=recorded_by.id if recorded_by is not None else None,
    )
    session.add(receipt)
    session.flush()
    publish(
        session,
        "subsidy.received",
        entity="subsidy_receipt",
        entity_id=receipt.id,
        payload={
            "programme_id": programme.id,
            "programme_code": programme.code,
            "funder": programme.funder,
            "received_on": received_on,
            "amount": amount,
            "reference": reference,
        },
    )
    record_change(
        session,
        actor=recorded_by,
        action="subsidy_receipt.recorded",
        entity="subsidy_programme",
        entity_id=programme.id,
        after=snapshot(receipt),
    )
    return receipt


def _record_reversal(
    session: Session,
    programme: SubsidyProgramme,
    *,
    partner_code: str,
    reversed_on: date,
    amount: Decimal,
    reference: str,
    recorded_by: Actor | None,
) -> SubsidyReversal:
    """Record a reversal on a locked programme."""
    partner = next((p for p in programme.partners if p.code == partner_code), None)
    if partner is None:
        known = ", ".join(p.code for p in programme.partners) or "none"
        raise ValidationFailed(
            f"no partner {partner_code} in {programme.code} (partners: {known})", field="partner"
        )
    _check_amount(amount)
    reference = _checked_reference(session, SubsidyReversal, programme, reference)
    already = _total(session, SubsidyReversal.amount, SubsidyReversal.partner_id == partner.id)
    if already + amount > partner.share:
        raise ReversalExceedsShare(
            f"at most {partner.share - already} can still be reversed to {partner.code}: "
            f"its share is {partner.share}, {already} reversed so far",
            field="amount",
        )
    headroom = reversible_on(
        reversed_on,
        receipts=session.execute(
            select(SubsidyReceipt.received_on, SubsidyReceipt.amount).where(
                SubsidyReceipt.programme_id == programme.id
            )
        ).tuples(),
        reversals=session.execute(
            select(SubsidyReversal.reversed_on, SubsidyReversal.amount).where(
                SubsidyReversal.programme_id == programme.id
            )
        ).tuples(),
    )
    if amount > headroom:
        raise ReversalExceedsReceipts(
            f"at most {headroom} can be passed on on {reversed_on.isoformat()}: a reversal "
            "passes on grant money received, and on no day may more be reversed than received",
            field="amount",
        )
    reversal = SubsidyReversal(
        programme_id=programme.id,
        partner=partner,
        reversed_on=reversed_on,
        amount=amount,
        reference=reference,
        recorded_by_id=recorded_by.id if recorded_by is not None else None,
    )
    session.add(reversal)
    session.flush()
    publish(
        session,
        "subsidy.reversed",
        entity="subsidy_reversal",
        entity_id=reversal.id,
        payload={
            "programme_id": programme.id,
            "programme_code": programme.code,
            "partner_code": partner.code,
            "partner_name": partner.name,
            "reversed_on": reversed_on,
            "amount": amount,
            "reference": reference,
        },
    )
    record_change(
        session,
        actor=recorded_by,
        action="subsidy_reversal.recorded",
        entity="subsidy_programme",
        entity_id=programme.id,
        after=snapshot(reversal) | {"partner": partner.code},
    )
    return reversal


def _check_amount(amount: Decimal) -> None:
    if amount <= 0:
        raise ValidationFailed("must be more than 0", field="amount")
    if amount != round_cents(amount):
        raise ValidationFailed("at most 2 decimal places", field="amount")


def _checked_reference(
    session: Session,
    model: type[SubsidyReceipt] | type[SubsidyReversal],
    programme: SubsidyProgramme,
    reference: str,
) -> str:
    reference = (reference or "").strip()
    if not reference:
        raise ValidationFailed("may not be blank", field="reference")
    if session.scalar(
        select(model.id).where(model.programme_id == programme.id, model.reference == reference)
    ):
        raise Conflict(f"{reference} is already recorded on {programme.code}", field="reference")
    return reference


def _total(session: Session, column: Any, *conditions: Any) -> Decimal:
    return round_cents(
        session.scalar(select(func.coalesce(func.sum(column), 0)).where(*conditions))
    )


# --- Statement --------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberConsumption:
    member_id: int
    member_name: str
    #: Aid granted on its invoices, given back by credit notes, and the difference.
    granted: Decimal
    given_back: Decimal
    consumed: Decimal


@dataclass(frozen=True)
class PartnerPosition:
    code: str
    name: str
    share: Decimal
    reversed: Decimal
    #: What is still to be passed on to the partner.
    left: Decimal


@dataclass(frozen=True)
class ReceiptLine:
    received_on: date
    amount: Decimal
    reference: str


@dataclass(frozen=True)
class ReversalLine:
    reversed_on: date
    partner_code: str
    amount: Decimal
    reference: str


@dataclass(frozen=True)
class ProgrammeStatement:
    """Where a programme stands on ``as_of`` (movements dated that day included)."""

    programme_id: int
    code: str
    name: str
    funder: str
    period_start: date
    period_end: date
    aid_in_vat_base: bool
    as_of: date
    grant_total: Decimal
    #: The syndicat's own share: what invoices may deduct.
    envelope: Decimal
    partners_total: Decimal
    granted: Decimal
    given_back: Decimal
    #: Granted less given back.
    consumed: Decimal
    #: Envelope less consumed.
    remaining: Decimal
    received: Decimal
    #: Grant less received: what the funder has still to pay.
    to_receive: Decimal
    reversed: Decimal
    #: Received less reversed: the grant money the syndicat holds for its own share.
    retained: Decimal
    members: tuple[MemberConsumption, ...]
    partners: tuple[PartnerPosition, ...]
    receipts: tuple[ReceiptLine, ...]
    reversals: tuple[ReversalLine, ...]

    def as_context(self) -> dict[str, Any]:
        """The PDF template's context: plain dicts, lists and values only."""
        return {"statement": dataclasses.asdict(self)}


def programme_statement(session: Session, programme_id: int, *, as_of: date) -> ProgrammeStatement:
    """The envelope, aid consumed (per member), grant received and reversed (per partner)."""
    programme = get_programme(session, programme_id)
    members = tuple(
        MemberConsumption(
            member_id=member_id,
            member_name=name,
            granted=round_cents(granted),
            given_back=round_cents(-given_back),
            consumed=round_cents(granted + given_back),
        )
        for member_id, name, granted, given_back in session.execute(
            select(
                Member.id,
                Member.name,
                func.sum(case((SubsidyConsumption.amount > 0, SubsidyConsumption.amount), else_=0)),
                func.sum(case((SubsidyConsumption.amount < 0, SubsidyConsumption.amount), else_=0)),
            )
            .join(Member, Member.id == SubsidyConsumption.member_id)
            .where(
                SubsidyConsumption.programme_id == programme.id,
                SubsidyConsumption.consumed_on <= as_of,
            )
            .group_by(Member.id, Member.name)
            .order_by(Member.name, Member.id)
        )
    )
    receipts = tuple(
        ReceiptLine(received_on=r.received_on, amount=r.amount, reference=r.reference)
        for r in session.scalars(
            select(SubsidyReceipt)
            .where(SubsidyReceipt.programme_id == programme.id, SubsidyReceipt.received_on <= as_of)
            .order_by(SubsidyReceipt.received_on, SubsidyReceipt.id)
        )
    )
    reversal_rows = list(
        session.scalars(
            select(SubsidyReversal)
            .where(
                SubsidyReversal.programme_id == programme.id, SubsidyReversal.reversed_on <= as_of
            )
            .order_by(SubsidyReversal.reversed_on, SubsidyReversal.id)
        )
    )
    reversed_by_partner: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for reversal in reversal_rows:
        reversed_by_partner[reversal.partner_id] += reversal.amount
    partners = tuple(
        PartnerPosition(
            code=partner.code,
            name=partner.name,
            share=partner.share,
            reversed=reversed_by_partner[partner.id],
            left=partner.share - reversed_by_partner[partner.id],
        )
        for partner in programme.partners
    )
    granted = sum((m.granted for m in members), ZERO)
    given_back = sum((m.given_back for m in members), ZERO)
    received = sum((r.amount for r in receipts), ZERO)
    reversed_ = sum((r.amount for r in reversal_rows), ZERO)
    return ProgrammeStatement(
        programme_id=programme.id,
        code=programme.code,
        name=programme.name,
        funder=programme.funder,
        period_start=programme.period_start,
        period_end=programme.period_end,
        aid_in_vat_base=programme.aid_in_vat_base,
        as_of=as_of,
        grant_total=programme.grant_total,
        envelope=programme.envelope,
        partners_total=sum((p.share for p in partners), ZERO),
        granted=granted,
        given_back=given_back,
        consumed=granted - given_back,
        remaining=programme.envelope - (granted - given_back),
        received=received,
        to_receive=programme.grant_total - received,
        reversed=reversed_,
        retained=received - reversed_,
        members=members,
        partners=partners,
        receipts=receipts,
        reversals=tuple(
            ReversalLine(
                reversed_on=r.reversed_on,
                partner_code=r.partner.code,
                amount=r.amount,
                reference=r.reference,
            )
            for r in reversal_rows
        ),
    )


def render_statement_pdf(statement: ProgrammeStatement, *, seller: Mapping[str, Any]) -> bytes:
    """The statement as a PDF in French; ``seller`` is the centre (``config["SELLER"]``)."""
    return render_pdf(
        "subsidy_statement.html",
        statement.as_context() | {"seller": {key: seller[key] for key in _SELLER_KEYS}},
    )


_SELLER_KEYS = ("name", "address", "postal_code", "city", "siret")


# --- Loading a programme file -----------------------------------------------------------


@dataclass
class LoadSummary:
    """What loading a programme file did: the programme, and movements recorded."""

    code: str
    #: "created", "updated" or "unchanged"
    programme: str
    receipts_recorded: int = 0
    receipts_unchanged: int = 0
    reversals_recorded: int = 0
    reversals_unchanged: int = 0


def load_programme(
    session: Session, data: Mapping[str, Any], *, loaded_by: Actor | None
) -> LoadSummary:
    """Create or update a programme, with its receipts and reversals, in one transaction.

    ``data`` is a loaded programme file (:mod:`purchasing.subsidies.loader`): the
    programme's fields, ``receipts`` and ``reversals``. The programme is matched by code;
    receipts and reversals by reference: one already recorded with the same values is
    left alone, with other values refused (recorded movements never change). Loading a
    file twice changes nothing the second time.
    """
    fields = {key: value for key, value in data.items() if key not in {"receipts", "reversals"}}
    _refuse_unknown_fields(fields, _CREATABLE)
    with transaction(session):
        programme = session.scalar(
            select(SubsidyProgramme)
            .where(SubsidyProgramme.code == fields["code"])
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if programme is None:
            programme = _create_programme(session, fields, actor=loaded_by)
            summary = LoadSummary(code=programme.code, programme="created")
        else:
            changes = {key: value for key, value in fields.items() if key != "code"}
            changes["aid_label"] = changes.get("aid_label") or programme.code
            changed = _apply_changes(session, programme, changes, actor=loaded_by)
            summary = LoadSummary(
                code=programme.code, programme="updated" if changed else "unchanged"
            )

        receipts = {r.reference: r for r in _movements(session, SubsidyReceipt, programme)}
        for position, entry in _by_date(data.get("receipts") or (), "received_on"):
            existing = receipts.get(entry["reference"].strip())
            if existing is None:
                _record_receipt(session, programme, **entry, recorded_by=loaded_by)
                summary.receipts_recorded += 1
            elif (existing.received_on, existing.amount) == (entry["received_on"], entry["amount"]):
                summary.receipts_unchanged += 1
            else:
                raise _recorded_otherwise("receipts", position, existing.reference)

        reversals = {r.reference: r for r in _movements(session, SubsidyReversal, programme)}
        for position, entry in _by_date(data.get("reversals") or (), "reversed_on"):
            existing = reversals.get(entry["reference"].strip())
            if existing is None:
                entry = dict(entry)
                partner_code = entry.pop("partner")
                _record_reversal(
                    session, programme, partner_code=partner_code, **entry, recorded_by=loaded_by
                )
                summary.reversals_recorded += 1
            elif (existing.partner.code, existing.reversed_on, existing.amount) == (
                entry["partner"],
                entry["reversed_on"],
                entry["amount"],
            ):
                summary.reversals_unchanged += 1
            else:
                raise _recorded_otherwise("reversals", position, existing.reference)
    return summary


def _movements(session: Session, model: Any, programme: SubsidyProgramme) -> list[Any]:
    return list(session.scalars(select(model).where(model.programme_id == programme.id)))


def _by_date(
    entries: Iterable[Mapping[str, Any]], date_field: str
) -> list[tuple[int, Mapping[str, Any]]]:
    """Entries with their position in the file (from 1), in date order."""
    return sorted(enumerate(entries, start=1), key=lambda item: item[1][date_field])


def _recorded_otherwise(kind: str, position: int, reference: str) -> Conflict:
    return Conflict(
        f"{reference} is recorded with other values; a recorded movement never changes "
        "(record a correcting one under a new reference)",
        field=f"{kind}[{position}]",
    )


# --- Reading for the pages --------------------------------------------------------------


@dataclass(frozen=True)
class ProgrammeOverview:
    """A programme and the grant money moved on it so far."""

    programme: SubsidyProgramme
    received: Decimal
    reversed: Decimal


def programme_overviews(session: Session) -> list[ProgrammeOverview]:
    """Every programme (as :func:`list_programmes`) with what was received and reversed."""
    received = dict(
        session.execute(
            select(SubsidyReceipt.programme_id, func.sum(SubsidyReceipt.amount)).group_by(
                SubsidyReceipt.programme_id
            )
        ).all()
    )
    reversed_ = dict(
        session.execute(
            select(SubsidyReversal.programme_id, func.sum(SubsidyReversal.amount)).group_by(
                SubsidyReversal.programme_id
            )
        ).all()
    )
    return [
        ProgrammeOverview(
            programme=programme,
            received=round_cents(received.get(programme.id, ZERO)),
            reversed=round_cents(reversed_.get(programme.id, ZERO)),
        )
        for programme in list_programmes(session)
    ]
