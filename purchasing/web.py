"""Pages for people: the home page, error pages and French formatting filters."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template
from werkzeug.exceptions import HTTPException

from purchasing.auth.access import allow_any_user, current_actor
from purchasing.errors import DomainError
from purchasing.formats import FILTERS

bp = Blueprint("web", __name__)


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
    app.jinja_env.filters.update(FILTERS)

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
