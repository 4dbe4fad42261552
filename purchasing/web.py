"""Pages for people: the home page, error pages and French formatting filters."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent
from flask import Blueprint, Flask, render_template
from werkzeug.exceptions import HTTPException

from purchasing.auth.access import allow_any_user, current_actor
from purchasing.errors import DomainError

bp = Blueprint("web", __name__)

LOCALE = "fr_FR"


def euros(value: Decimal | None) -> str:
    """1234.5 -> '1 234,50 €' (narrow no-break space as thousands separator)."""
    if value is None:
        return ""
    return format_currency(value, "EUR", locale=LOCALE)


def number(value: Decimal | int | None) -> str:
    return "" if value is None else format_decimal(value, locale=LOCALE)


def percent(value: Decimal | None) -> str:
    return "" if value is None else format_percent(value, format="#,##0.##\u00a0%", locale=LOCALE)


def french_date(value: date | datetime | None) -> str:
    return "" if value is None else format_date(value, format="dd/MM/yyyy", locale=LOCALE)


@bp.get("/")
@allow_any_user
def home() -> str:
    """Home page of a signed-in user."""
    return render_template("home.html", actor=current_actor())


ERROR_TITLES = {
    400: "Requête invalide",
    401: "Connexion requise",
    403: "Accès refusé",
    404: "Page introuvable",
    405: "Méthode non autorisée",
    409: "Opération impossible",
    422: "Données invalides",
    500: "Erreur interne",
}


def render_error(exc: HTTPException | DomainError) -> Any:
    status = exc.code if isinstance(exc, HTTPException) else exc.status_code
    status = status or 500
    message = exc.message if isinstance(exc, DomainError) else None
    title = ERROR_TITLES.get(status, "Erreur")
    return render_template("error.html", status=status, title=title, message=message), status


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        euros=euros, number=number, percent=percent, french_date=french_date
    )

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
