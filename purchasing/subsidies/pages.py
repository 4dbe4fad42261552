"""Pages of the FEDER programmes: envelopes, statements, grant receipts and reversals to
partners, for finance.

Each page reads its input with the API's schemas and calls one service; a refusal is
shown next to its field, in French, and changes nothing.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, url_for

from purchasing.auth.access import allow, current_actor
from purchasing.auth.roles import Role
from purchasing.billing.pages import FinanceForm
from purchasing.db import get_session
from purchasing.errors import DomainError, NotFound
from purchasing.fields import today_in_paris
from purchasing.members.pages import KIND_LABELS
from purchasing.pages import query_args, send_document
from purchasing.subsidies import services
from purchasing.subsidies.rules import AidKind
from purchasing.subsidies.schemas import (
    ReceiptInputSchema,
    ReversalInputSchema,
    StatementQuerySchema,
)

bp = Blueprint("subsidies_pages", __name__)

MANAGERS = (Role.FINANCE, Role.ADMIN)

AID_KIND_LABELS = {AidKind.RATE: "Part du prix HT", AidKind.FIXED_PER_UNIT: "Montant par unité"}


@bp.errorhandler(NotFound)
def _not_found(_exc: NotFound) -> Any:
    return render_template("error.html", status=404, title="Page introuvable", message=None), 404


@bp.get("/subsidy-programmes")
@allow(*MANAGERS)
def programmes() -> str:
    """The programmes, with their envelope and the grant money received and reversed."""
    return render_template(
        "subsidies/programmes.html", overviews=services.programme_overviews(get_session())
    )


@bp.get("/subsidy-programmes/<int:programme_id>")
@allow(*MANAGERS)
def programme(programme_id: int) -> str:
    """A programme: its rules, partners, and its statement on a day."""
    session = get_session()
    args, errors = query_args(StatementQuerySchema())
    found = services.get_programme(session, programme_id)
    statement = services.programme_statement(session, found.id, as_of=args["as_of"])
    return render_template(
        "subsidies/programme.html",
        programme=found,
        statement=statement,
        filter_errors=errors,
        member_kinds=KIND_LABELS,
        aid_kinds=AID_KIND_LABELS,
    )


@bp.get("/subsidy-programmes/<int:programme_id>/statement.pdf")
@allow(*MANAGERS)
def statement_pdf(programme_id: int) -> Any:
    """The programme's statement on a day, as a PDF in French."""
    args, _errors = query_args(StatementQuerySchema())
    statement = services.programme_statement(get_session(), programme_id, as_of=args["as_of"])
    pdf = services.render_statement_pdf(statement, seller=current_app.config["SELLER"])
    return send_document(pdf, f"etat-{statement.code}-{statement.as_of.isoformat()}.pdf")


@bp.route("/subsidy-programmes/<int:programme_id>/receipts/new", methods=["GET", "POST"])
@allow(*MANAGERS)
def new_receipt(programme_id: int) -> Any:
    """Record a tranche of the grant paid by the funder."""
    session = get_session()
    found = services.get_programme(session, programme_id)
    form = FinanceForm(ReceiptInputSchema(), initial={"received_on": today_in_paris()})
    if form.submitted and (data := form.load()) is not None:
        try:
            services.record_receipt(session, found.id, **data, recorded_by=current_actor())
        except DomainError as exc:
            form.refuse(exc)
        else:
            flash(f"Versement {data['reference']} enregistré sur {found.code}.")
            return redirect(url_for(".programme", programme_id=found.id))
    return render_template("subsidies/receipt_form.html", programme=found, form=form), form.status


@bp.route("/subsidy-programmes/<int:programme_id>/reversals/new", methods=["GET", "POST"])
@allow(*MANAGERS)
def new_reversal(programme_id: int) -> Any:
    """Record grant money passed on to a partner."""
    session = get_session()
    found = services.get_programme(session, programme_id)
    form = FinanceForm(ReversalInputSchema(), initial={"reversed_on": today_in_paris()})
    if form.submitted and (data := form.load()) is not None:
        try:
            services.record_reversal(session, found.id, **data, recorded_by=current_actor())
        except DomainError as exc:
            form.refuse(exc)
        else:
            flash(f"Reversement {data['reference']} à {data['partner']} enregistré.")
            return redirect(url_for(".programme", programme_id=found.id))
    partners = [(p.code, f"{p.name} ({p.code})") for p in found.partners]
    return render_template(
        "subsidies/reversal_form.html", programme=found, partners=partners, form=form
    ), form.status
