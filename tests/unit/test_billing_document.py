"""The invoice document contract: its arithmetic and check_consistency's refusals."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from purchasing.billing.document import (
    DocumentKind,
    InconsistentDocument,
    InvoiceDocument,
    VatBreakdown,
    check_consistency,
    compute_totals,
    line_net_amount,
)
from purchasing.errors import ValidationFailed
from tests.unit.invoice_documents import (
    VAT_5_5,
    VAT_10,
    VAT_20,
    aided_invoice,
    credit_note,
    long_invoice,
    make_document,
    make_line,
    multi_rate_invoice,
)

D = Decimal
CENT = D("0.01")


def refusal(doc: InvoiceDocument) -> dict[str, list[str]]:
    """The problems check_consistency reports, by field."""
    with pytest.raises(InconsistentDocument) as caught:
        check_consistency(doc)
    return caught.value.errors


@pytest.mark.parametrize(
    "doc",
    [
        multi_rate_invoice(),
        long_invoice(),
        credit_note(),
        aided_invoice(aid_in_vat_base=True),
        aided_invoice(aid_in_vat_base=False),
    ],
    ids=["multi-rate", "long", "credit-note", "aid-in-vat-base", "aid-reduces-price"],
)
def test_sample_documents_are_consistent(doc):
    check_consistency(doc)  # does not raise


def test_totals_of_a_multi_rate_invoice():
    doc = multi_rate_invoice()
    assert [vat.rate for vat in doc.vat_breakdown] == [VAT_20, VAT_10, VAT_5_5]
    # 12 x 4.00 = 48.00, plus 189.00 x 17/31 days = 103.645... -> 103.65
    assert doc.vat_breakdown[0] == VatBreakdown(rate=VAT_20, base=D("151.65"), amount=D("30.33"))
    # 2.5 x 65.35 = 163.375 -> 163.38 (half-up); x 10 % = 16.338 -> 16.34
    assert doc.vat_breakdown[1] == VatBreakdown(rate=VAT_10, base=D("163.38"), amount=D("16.34"))
    # 7 x 12.37 = 86.59; x 5.5 % = 4.76245 -> 4.76
    assert doc.vat_breakdown[2] == VatBreakdown(rate=VAT_5_5, base=D("86.59"), amount=D("4.76"))
    assert doc.total_net == D("401.62")
    assert doc.total_vat == D("51.43")
    assert doc.total_gross == doc.amount_due == D("453.05")


def test_vat_is_rounded_once_per_rate_on_the_sum_of_the_lines_not_per_line():
    # Each line: 0.33 x 20 % = 0.066 -> 0.07 if rounded per line, 0.21 for three lines.
    lines = [make_line(n, quantity="1", unit_price="0.33") for n in (1, 2, 3)]
    totals = compute_totals(lines, aid_in_vat_base=True)
    assert totals.vat_breakdown[0].base == D("0.99")
    assert totals.total_vat == D("0.20")  # 0.198 -> 0.20


def test_line_amount_and_vat_are_rounded_half_up():
    # 0.5 x 0.05 = 0.025 -> 0.03; banker's rounding would give 0.02.
    assert line_net_amount(D("0.05"), D("0.5"), aid_in_vat_base=True) == D("0.03")
    # base 0.25 x 10 % = 0.025 -> 0.03
    totals = compute_totals([make_line(unit_price="0.25", vat_rate=VAT_10)], aid_in_vat_base=True)
    assert totals.total_vat == D("0.03")


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("total_net", lambda doc: {"total_net": doc.total_net + CENT}),
        ("total_vat", lambda doc: {"total_vat": doc.total_vat - CENT}),
        ("total_gross", lambda doc: {"total_gross": doc.total_gross + CENT}),
        ("amount_due", lambda doc: {"amount_due": doc.amount_due - CENT}),
        (
            "vat_breakdown[1].amount",
            lambda doc: {
                "vat_breakdown": (
                    doc.vat_breakdown[0],
                    dataclasses.replace(doc.vat_breakdown[1], amount=D("19.60")),
                    doc.vat_breakdown[2],
                )
            },
        ),
        (
            "vat_breakdown[0].base",
            lambda doc: {
                "vat_breakdown": (
                    dataclasses.replace(doc.vat_breakdown[0], base=D("151.66")),
                    *doc.vat_breakdown[1:],
                )
            },
        ),
        (
            "lines[1].net_amount",
            lambda doc: {
                "lines": (
                    doc.lines[0],
                    dataclasses.replace(doc.lines[1], net_amount=D("103.64")),
                    *doc.lines[2:],
                )
            },
        ),
    ],
)
def test_a_figure_off_by_one_cent_is_refused(field, change):
    doc = multi_rate_invoice()
    errors = refusal(dataclasses.replace(doc, **change(doc)))
    assert field in errors
    assert "expected" in errors[field][0]


def test_the_refusal_names_every_problem_and_is_a_validation_error():
    doc = multi_rate_invoice()
    wrong = dataclasses.replace(doc, total_net=doc.total_net + CENT, due_date=None)
    with pytest.raises(ValidationFailed) as caught:
        check_consistency(wrong)
    assert caught.value.status_code == 422
    assert set(caught.value.errors) >= {"total_net", "due_date"}
    assert "FA-2026-000123" in caught.value.message


def test_the_vat_breakdown_has_exactly_one_entry_per_rate_of_the_lines():
    doc = multi_rate_invoice()
    assert "vat_breakdown" in refusal(dataclasses.replace(doc, vat_breakdown=doc.vat_breakdown[:2]))
    doubled = (*doc.vat_breakdown, doc.vat_breakdown[0])
    assert "vat_breakdown" in refusal(dataclasses.replace(doc, vat_breakdown=doubled))


def test_money_is_never_a_float_nor_finer_than_the_cent():
    doc = multi_rate_invoice()
    errors = refusal(dataclasses.replace(doc, total_vat=54.70))
    assert "must be a Decimal" in errors["total_vat"][0]
    errors = refusal(dataclasses.replace(doc, total_vat=D("54.701")))
    assert "not rounded to the cent" in errors["total_vat"][0]
    line = dataclasses.replace(doc.lines[0], unit_price=4.0)
    errors = refusal(dataclasses.replace(doc, lines=(line, *doc.lines[1:])))
    assert "lines[0].unit_price" in errors


def test_a_prorated_line_is_the_price_of_its_days_rounded_once():
    # 12 x 4.00 x 17/31 = 26.3225... -> 26.32; a rounded daily price would drift.
    line = make_line(quantity="12", unit_price="4.00", prorata_days=17, period_days=31)
    assert line.gross_amount == line.net_amount == D("26.32")
    check_consistency(make_document([line]))
    full_month = dataclasses.replace(line, net_amount=D("48.00"))
    errors = refusal(make_document([full_month]))
    assert "x 17/31" in errors["lines[0].net_amount"][0]
    half_given = dataclasses.replace(line, period_days=None)
    assert "lines[0].period_days" in refusal(make_document([half_given]))
    too_many = dataclasses.replace(line, prorata_days=32)
    assert "lines[0].prorata_days" in refusal(make_document([too_many]))


def test_quantities_and_unit_prices_keep_at_most_four_decimals_as_printed():
    line = make_line(quantity="0.54838", unit_price="189.00")
    assert "lines[0].quantity" in refusal(make_document([line]))


def test_lines_are_numbered_from_one_in_order():
    doc = make_document([make_line(1), make_line(3)])
    assert "lines[1].position" in refusal(doc)


def test_only_standard_rated_lines_are_accepted():
    line = make_line(vat_rate=D("0"))
    assert "lines[0].vat_rate" in refusal(make_document([line]))


def test_an_invoice_needs_a_due_date_and_a_valid_bank_account():
    doc = multi_rate_invoice()
    errors = refusal(
        dataclasses.replace(doc, due_date=None, payment_iban="FR7630001007941234567890186")
    )
    assert {"due_date", "payment_iban"} <= set(errors)
    assert "payment_bic" in refusal(dataclasses.replace(doc, payment_bic=None))


def test_a_date_or_period_of_supply_is_required():
    doc = multi_rate_invoice()
    assert "supply_date" in refusal(dataclasses.replace(doc, period_start=None, period_end=None))
    check_consistency(
        dataclasses.replace(doc, period_start=None, period_end=None, supply_date=date(2026, 1, 31))
    )
    backwards = dataclasses.replace(doc, period_start=date(2026, 2, 1))
    assert "period_end" in refusal(backwards)


def test_a_credit_note_names_the_invoice_it_corrects_and_an_invoice_does_not():
    note = credit_note()
    assert note.kind is DocumentKind.CREDIT_NOTE and note.title == "Avoir"
    errors = refusal(dataclasses.replace(note, corrected_invoice_number=None))
    assert "corrected_invoice_number" in errors
    later = dataclasses.replace(note, corrected_invoice_date=date(2026, 3, 1))
    assert "corrected_invoice_date" in refusal(later)
    invoice = dataclasses.replace(multi_rate_invoice(), corrected_invoice_number="FA-2025-000001")
    assert "corrected_invoice_number" in refusal(invoice)


def test_parties_carry_their_legal_identifiers():
    doc = multi_rate_invoice()
    seller = dataclasses.replace(doc.seller, vat_number=None)
    buyer = dataclasses.replace(doc.buyer, siret="2159063680001")
    errors = refusal(dataclasses.replace(doc, seller=seller, buyer=buyer))
    assert {"seller.vat_number", "buyer.siret"} <= set(errors)
    assert doc.buyer.siren == "215906368"


def test_aid_in_the_vat_base_keeps_the_gross_price_and_lowers_the_amount_due():
    doc = aided_invoice(aid_in_vat_base=True)
    first = doc.lines[0]
    assert first.net_amount == first.gross_amount == D("540.00")
    assert doc.total_aid == D("208.50")
    assert doc.total_net == D("1376.00")  # 540 + 186 + 650
    assert doc.total_vat == D("275.20")  # VAT on the gross prices
    assert doc.total_gross == D("1651.20")
    assert doc.prepaid_amount == D("208.50")
    assert doc.amount_due == D("1442.70")  # the member pays the total less the aid


def test_aid_as_a_price_reduction_lowers_the_vat_base():
    doc = aided_invoice(aid_in_vat_base=False)
    first = doc.lines[0]
    assert first.gross_amount == D("540.00")
    assert first.net_amount == D("378.00")  # 540 - 162
    assert doc.total_net_before_aid == D("1376.00")
    assert doc.total_net == D("1167.50")  # 378 + 139.50 + 650
    assert doc.total_vat == D("233.50")
    assert doc.prepaid_amount == D("0.00")
    assert doc.amount_due == doc.total_gross == D("1401.00")


def test_the_aid_treatment_must_match_the_line_amounts():
    # Lines computed with the aid in the VAT base, document declaring a price reduction.
    inside = aided_invoice(aid_in_vat_base=True)
    errors = refusal(dataclasses.replace(inside, aid_in_vat_base=False))
    assert "lines[0].net_amount" in errors
    # Amount due left at the total while the aid is in the VAT base.
    errors = refusal(dataclasses.replace(inside, amount_due=inside.total_gross))
    assert "total_gross less the aid" in errors["amount_due"][0]


def test_an_aid_is_positive_no_larger_than_the_price_and_labelled():
    too_big = make_line(quantity="1", unit_price="10.00", aid_amount="10.01")
    assert "lines[0].aid_amount" in refusal(make_document([too_big]))
    unlabelled = make_line(aid_amount="10.00", aid_label=None)
    assert "lines[0].aid_label" in refusal(make_document([unlabelled]))
    label_only = make_line(aid_label="FEDER")
    assert "lines[0].aid_label" in refusal(make_document([label_only]))


def test_the_document_is_immutable_plain_data():
    doc = make_document([make_line()], kind="invoice", notes=["Merci de votre confiance"])
    assert doc.kind is DocumentKind.INVOICE
    assert isinstance(doc.lines, tuple) and isinstance(doc.notes, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        doc.number = "FA-2026-000124"  # type: ignore[misc]
