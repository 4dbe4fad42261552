"""What must hold after any fault: checked on the committed database, as an auditor would."""

from __future__ import annotations

import hashlib
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import select
from sqlalchemy.orm import Session

from purchasing import create_app
from purchasing.billing.models import Invoice, InvoiceDocumentFile, InvoiceLine, InvoiceStatus
from purchasing.cli import main
from purchasing.numbering import NumberSequence, format_number

CENTRALE = Path(sys.executable).parent / "centrale"


def centrale_env(url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "test-secret", **extra}


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def centrale_here(url: str, *args: str) -> Ran:
    """Run ``centrale ARGS`` in this process on the database at ``url``: the same command,
    an application of its own, without the seconds an interpreter takes to start."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test-secret"})
    result = CliRunner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    app.extensions["centrale.engine"].dispose()
    return Ran(result.exit_code, result.stdout, result.stderr)


def number_problems(session: Session, series: str = "FA") -> list[str]:
    """Numbers of ``series`` that break the rule: per fiscal year, 1..n without gap or
    double, each invoice's number made of its parts, and the counter at n (no number
    consumed by a document that does not exist)."""
    problems = []
    issued = session.execute(
        select(Invoice.fiscal_year, Invoice.sequence, Invoice.number).where(
            Invoice.series == series, Invoice.status == InvoiceStatus.ISSUED
        )
    ).all()
    counters = {
        row.fiscal_year: row.last_value
        for row in session.scalars(select(NumberSequence).where(NumberSequence.series == series))
    }
    for year in sorted({row.fiscal_year for row in issued} | set(counters)):
        sequences = sorted(row.sequence for row in issued if row.fiscal_year == year)
        if sequences != list(range(1, len(sequences) + 1)):
            problems.append(f"{series} {year}: numbers {sequences} are not 1..{len(sequences)}")
        if counters.get(year, 0) != len(sequences):
            problems.append(
                f"{series} {year}: counter at {counters.get(year)} for {len(sequences)} documents"
            )
    problems += [
        f"{row.number} is not {format_number(series, row.fiscal_year, row.sequence)}"
        for row in issued
        if row.number != format_number(series, row.fiscal_year, row.sequence)
    ]
    return problems


def document_problems(session: Session) -> list[str]:
    """Issued invoices without their stored PDF and XML, or whose PDF or XML fails its hash;
    drafts that carry a number or a document (half-issued)."""
    problems = []
    documents = {doc.invoice_id: doc for doc in session.scalars(select(InvoiceDocumentFile))}
    for invoice in session.scalars(select(Invoice)):
        document = documents.get(invoice.id)
        if invoice.status is InvoiceStatus.ISSUED:
            if document is None or not document.xml:
                problems.append(f"{invoice.number} has no stored document")
            elif hashlib.sha256(document.pdf).hexdigest() != document.pdf_sha256:
                problems.append(f"{invoice.number}: stored PDF fails its hash")
            elif hashlib.sha256(document.xml).hexdigest() != document.xml_sha256:
                problems.append(f"{invoice.number}: stored XML fails its hash")
        elif invoice.number is not None or invoice.sequence is not None or document is not None:
            problems.append(f"draft invoice {invoice.id} is half-issued")
    return problems


def billing_problems(session: Session, members: list[int], period_start) -> list[str]:
    """After a billing run of the month starting ``period_start``: one invoice per member,
    one line per subscription for the month, no other invoice, and no draft left behind
    (a draft is an invoice half-made: the run that finished must have issued or dropped it)."""
    invoices = Counter(
        session.scalars(
            select(Invoice.member_id).where(Invoice.status == InvoiceStatus.ISSUED)
        ).all()
    )
    problems = [
        f"member {member} has {invoices[member]} invoices"
        for member in members
        if invoices[member] != 1
    ]
    problems += [
        f"member {m} was invoiced though it owes nothing" for m in set(invoices) - set(members)
    ]
    problems += [
        f"draft invoice {invoice_id} of member {member_id} left behind"
        for invoice_id, member_id in session.execute(
            select(Invoice.id, Invoice.member_id)
            .where(Invoice.status == InvoiceStatus.DRAFT)
            .order_by(Invoice.id)
        )
    ]
    lines = Counter(
        session.execute(
            select(InvoiceLine.subscription_id, InvoiceLine.billed_period_start).where(
                InvoiceLine.subscription_id.is_not(None)
            )
        ).all()
    )
    problems += [f"subscription {key} billed {n} times" for key, n in lines.items() if n != 1]
    if {period for _sub, period in lines} != {period_start}:
        problems.append(f"periods billed: {sorted({p for _s, p in lines})}")
    if len(lines) != len(members):
        problems.append(f"{len(lines)} subscription lines for {len(members)} members")
    return problems
