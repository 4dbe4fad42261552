"""Subsidy programmes (the FEDER grant), their envelope, receipts and reversals to partners.

A **programme** is a grant awarded by a funder for a period: ``grant_total`` in all, of
which the partners' shares are passed on to them (``SubsidyPartner``) and the syndicat's
own share, the **envelope**, lowers the price of eligible invoice lines. The envelope is
what invoices consume: ``consumed`` is kept on the programme row, which issuers lock, and
a CHECK constraint holds it between 0 and the envelope whatever the code does.

Every movement of money is a row that is only ever inserted: a **consumption** per aided
invoice line (negative when a credit note gives the aid back), a **receipt** per tranche
the funder paid, a **reversal** per transfer to a partner.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from purchasing.catalog.models import Product
from purchasing.db import Base, Rate, enum_column, utcnow
from purchasing.money import ZERO
from purchasing.subsidies.rules import AidKind, AidRule, MemberEligibility, aid_rule_problems

__all__ = [
    "MONEY_FIELDS",
    "AidKind",
    "MovementIsFinal",
    "SubsidyConsumption",
    "SubsidyPartner",
    "SubsidyProgramme",
    "SubsidyReceipt",
    "SubsidyReversal",
    "programme_problems",
]

# Column sizes, shared with the input schemas.
CODE_LENGTH = 40
NAME_LENGTH = 200
#: Invoice lines keep their aid label in 200 characters, after "dont aide FEDER".
AID_LABEL_LENGTH = 150
PARTNER_CODE_LENGTH = 20
REFERENCE_LENGTH = 100

#: The settings that decide amounts of money: frozen once money moved on the programme.
MONEY_FIELDS = frozenset(
    {
        "grant_total",
        "envelope",
        "aid_in_vat_base",
        "aid_kind",
        "aid_rate",
        "aid_per_unit",
        "aid_cap_per_unit",
        "aid_cap_per_line",
    }
)


#: The eligible products of each programme. Its own id, like every table: rows are told
#: apart (and cleaned up after tests that commit) the same way everywhere.
programme_products = Table(
    "subsidy_programme_products",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("programme_id", ForeignKey("subsidy_programmes.id"), nullable=False),
    Column("product_id", ForeignKey("products.id"), nullable=False, index=True),
    UniqueConstraint("programme_id", "product_id"),
)


class SubsidyProgramme(Base):
    """A grant, its envelope and its rules: which members and products, how much per line.

    VAT treatment of the aid (``aid_in_vat_base``)
        ``True`` (the default): the aid is a **price complement** paid by the fund on the
        member's behalf. The CGI (art. 266-1-a) puts in the taxable amount the subsidies
        directly linked to the price of a supply, so the line stays at its full price
        excluding VAT, VAT is charged on that full price, and the member pays the
        invoice total less the aid.

        ``False``: the aid is a **price reduction** granted by the centre: the line's
        amount excluding VAT is its price less the aid, VAT is charged on that reduced
        amount, and the member pays the invoice total. For a grant that is not linked to
        the price (an operating subsidy of the centre) and where the tax adviser chose to
        pass it on as a discount.

        One invoice carries one treatment: programmes in force at the same time must
        share it (the services refuse otherwise), and the invoice's lines are aided under
        the treatment of the first programme that aids one of them.
    """

    __tablename__ = "subsidy_programmes"
    __table_args__ = (
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        CheckConstraint("envelope > 0 AND envelope <= grant_total", name="envelope_within_grant"),
        # The envelope invariant, held by the database whatever the code does.
        CheckConstraint("consumed >= 0 AND consumed <= envelope", name="consumed_within_envelope"),
        CheckConstraint("(aid_kind = 'rate') = (aid_rate IS NOT NULL)", name="rate_rule_has_rate"),
        CheckConstraint(
            "(aid_kind = 'fixed_per_unit') = (aid_per_unit IS NOT NULL)",
            name="fixed_rule_has_amount",
        ),
        CheckConstraint("aid_rate > 0 AND aid_rate <= 1", name="aid_rate_range"),
        CheckConstraint(
            "aid_per_unit > 0 AND aid_cap_per_unit > 0 AND aid_cap_per_line > 0",
            name="aid_amounts_positive",
        ),
        CheckConstraint("max_population >= 0", name="max_population_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "FEDER-MC-2024"
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    #: Who awards the grant: "Union européenne - FEDER (Région Hauts-de-France)".
    funder: Mapped[str] = mapped_column(String(NAME_LENGTH))
    #: What an aided invoice line prints after "dont aide FEDER".
    aid_label: Mapped[str] = mapped_column(String(AID_LABEL_LENGTH))
    #: First and last day (included) on which invoices may be aided.
    period_start: Mapped[date]
    period_end: Mapped[date]
    #: The grant awarded, partners' shares included.
    grant_total: Mapped[Decimal]
    #: The syndicat's own share of the grant: the most invoices may deduct, ever.
    envelope: Mapped[Decimal]
    #: Aid granted on invoices, net of what credit notes gave back; running total of the
    #: consumptions, kept here so that issuers serialise on this row.
    consumed: Mapped[Decimal] = mapped_column(default=ZERO)
    #: See the class docstring: price complement (True) or price reduction (False).
    aid_in_vat_base: Mapped[bool] = mapped_column(default=True)
    #: Member kinds eligible (MemberKind values), e.g. ["commune"].
    member_kinds: Mapped[list[str]] = mapped_column(JSON)
    #: Eligible members have at most this population (inclusive); None: any population.
    max_population: Mapped[int | None]
    aid_kind: Mapped[AidKind] = mapped_column(enum_column(AidKind, length=20))
    #: For a rate rule: the share of the line amount excl. VAT (0.5000 is half).
    aid_rate: Mapped[Decimal | None] = mapped_column(Rate)
    #: For a fixed rule: the aid per unit billed.
    aid_per_unit: Mapped[Decimal | None]
    aid_cap_per_unit: Mapped[Decimal | None]
    aid_cap_per_line: Mapped[Decimal | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    partners: Mapped[list[SubsidyPartner]] = relationship(
        back_populates="programme", order_by="SubsidyPartner.code", cascade="all, delete-orphan"
    )
    products: Mapped[list[Product]] = relationship(
        secondary=programme_products, order_by=Product.sku
    )

    @property
    def remaining(self) -> Decimal:
        """What invoices may still deduct."""
        return self.envelope - self.consumed

    @property
    def eligible_skus(self) -> list[str]:
        return [product.sku for product in self.products]

    @property
    def aid_rule(self) -> AidRule:
        return AidRule(
            kind=self.aid_kind,
            rate=self.aid_rate,
            amount_per_unit=self.aid_per_unit,
            cap_per_unit=self.aid_cap_per_unit,
            cap_per_line=self.aid_cap_per_line,
        )

    @property
    def eligibility(self) -> MemberEligibility:
        return MemberEligibility(
            kinds=frozenset(self.member_kinds), max_population=self.max_population
        )

    def in_force_on(self, day: date) -> bool:
        return self.period_start <= day <= self.period_end

    def __repr__(self) -> str:
        return f"<SubsidyProgramme {self.code}>"


def programme_problems(
    values: Mapping[str, Any], partner_shares: Mapping[str, Decimal]
) -> dict[str, list[str]]:
    """What breaks the rules tying a programme's fields together, by field.

    ``values`` are the programme's columns (as they will be), ``partner_shares`` the
    share of each partner by code. The grant must be exactly the envelope plus the
    partners' shares: every euro of it has one destination.
    """
    problems = aid_rule_problems(values)
    start, end = values.get("period_start"), values.get("period_end")
    if start and end and end < start:
        problems.setdefault("period_end", []).append("before period_start")
    grant, envelope = values.get("grant_total"), values.get("envelope")
    if grant is not None and envelope is not None:
        if envelope > grant:
            problems.setdefault("envelope", []).append(f"more than the grant ({grant})")
        shared = sum(partner_shares.values(), ZERO)
        if envelope + shared != grant:
            problems.setdefault("partners", []).append(
                f"the envelope ({envelope}) and the partners' shares ({shared}) must add up "
                f"to the grant ({grant}); they add up to {envelope + shared}"
            )
    if not values.get("member_kinds"):
        problems.setdefault("member_kinds", []).append("at least one kind of member")
    return problems


class SubsidyPartner(Base):
    """A body the grant is partly passed on to (CDG59...), and its share of the grant."""

    __tablename__ = "subsidy_partners"
    __table_args__ = (
        UniqueConstraint("programme_id", "code"),
        CheckConstraint("share > 0", name="share_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("subsidy_programmes.id"), index=True)
    #: "CDG59"
    code: Mapped[str] = mapped_column(String(PARTNER_CODE_LENGTH))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    #: What the partner gets of the grant, passed on by reversals.
    share: Mapped[Decimal]

    programme: Mapped[SubsidyProgramme] = relationship(back_populates="partners")


class SubsidyConsumption(Base):
    """Aid granted on one invoice line (amount > 0), or given back by a credit note (<= 0).

    The programme's ``consumed`` is the sum of these rows; ``consumed_on`` dates them for
    statements as of a day.
    """

    __tablename__ = "subsidy_consumptions"
    __table_args__ = (
        # One row per line of a document: an invoice is aided once, a line given back
        # once per credit note.
        UniqueConstraint("invoice_id", "line_key"),
        # Granted aid is positive; a give-back is negative, or 0 when the part credited
        # so far rounds to no aid yet (it is kept: the amount credited counts later).
        CheckConstraint("(amount > 0) = (gives_back_id IS NULL)", name="give_back_not_positive"),
        CheckConstraint("line_amount >= 0", name="line_amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("subsidy_programmes.id"), index=True)
    #: The invoice whose line was aided, or the credit note giving the aid back.
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    #: The line's position on the aided invoice (on a give-back too: the line credited).
    line_key: Mapped[int]
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    #: Positive: aid granted; negative: aid given back.
    amount: Mapped[Decimal]
    #: Granted: the line's amount excl. VAT as invoiced; given back: the part of it the
    #: credit note credits. The aid given back is in proportion.
    line_amount: Mapped[Decimal]
    consumed_on: Mapped[date]
    #: On a give-back, the consumption whose aid it restores.
    gives_back_id: Mapped[int | None] = mapped_column(
        ForeignKey("subsidy_consumptions.id"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubsidyReceipt(Base):
    """A tranche of the grant paid by the funder (advance, interim or final payment)."""

    __tablename__ = "subsidy_receipts"
    __table_args__ = (
        UniqueConstraint("programme_id", "reference"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("subsidy_programmes.id"), index=True)
    received_on: Mapped[date]
    amount: Mapped[Decimal]
    #: The funder's payment reference, or the Trésor's: identifies the receipt.
    reference: Mapped[str] = mapped_column(String(REFERENCE_LENGTH))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SubsidyReversal(Base):
    """A transfer of grant money to a partner, out of its share."""

    __tablename__ = "subsidy_reversals"
    __table_args__ = (
        UniqueConstraint("programme_id", "reference"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("subsidy_programmes.id"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("subsidy_partners.id"), index=True)
    reversed_on: Mapped[date]
    amount: Mapped[Decimal]
    #: The payment order (mandat) number: identifies the reversal.
    reference: Mapped[str] = mapped_column(String(REFERENCE_LENGTH))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    partner: Mapped[SubsidyPartner] = relationship()


class MovementIsFinal(RuntimeError):
    """A change to a recorded movement of money reached the database layer: a bug upstream."""


@event.listens_for(SubsidyConsumption, "before_update")
@event.listens_for(SubsidyConsumption, "before_delete")
@event.listens_for(SubsidyReceipt, "before_update")
@event.listens_for(SubsidyReceipt, "before_delete")
@event.listens_for(SubsidyReversal, "before_update")
@event.listens_for(SubsidyReversal, "before_delete")
def _refuse_change(_mapper: Any, _connection: Any, movement: Any) -> None:
    raise MovementIsFinal(
        f"{type(movement).__name__} {movement.id} is recorded; correct it with a new movement"
    )
