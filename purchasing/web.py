"""Pages for people: the home page, error pages, the menu and French formatting filters.

Each domain serves its own pages from its ``pages.py``; what they share is in
``purchasing.pages``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template
from werkzeug.exceptions import HTTPException

from purchasing.auth.access import allow_any_user, current_actor
from purchasing.errors import DomainError, NotFound
from purchasing.formats import FILTERS
from purchasing.messages_fr import french_mismatch, french_refusal
from purchasing.pages import french_message, navigation_for, page_url

bp = Blueprint("web", __name__)


@bp.get("/")
@allow_any_user
def home() -> str:
    """Home page of a signed-in user."""
    actor = current_actor()
    return render_template("home.html", actor=actor, links=navigation_for(actor.role))


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


#: What a page says of an object it cannot show: never the service's English, and the
#: same whether the object does not exist or belongs to another member.
NOT_FOUND_MESSAGE = "Cette page n'existe pas, ou vous n'y avez pas accès."


def render_error(exc: HTTPException | DomainError) -> Any:
    status = exc.code if isinstance(exc, HTTPException) else exc.status_code
    status = status or 500
    if isinstance(exc, NotFound) or status == 404:
        message: str | None = NOT_FOUND_MESSAGE
    elif isinstance(exc, DomainError):
        message = french_refusal(exc)
    else:
        message = None
    title = ERROR_TITLES.get(status, "Erreur")
    return render_template("error.html", status=status, title=title, message=message), status


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(FILTERS)
    app.jinja_env.filters["french_message"] = french_message
    app.jinja_env.filters["french_mismatch"] = french_mismatch
    app.jinja_env.globals["page_url"] = page_url

    @app.context_processor
    def menu() -> dict[str, Any]:
        actor = current_actor()
        return {"menu": navigation_for(actor.role) if actor is not None else []}

    @app.after_request
    def security_headers(response: Any) -> Any:
        from flask import g, request

        from purchasing.auth.headers import apply_security_headers

        return apply_security_headers(
            response,
            endpoint=request.endpoint,
            https=request.is_secure,
            signed_in=g.get("actor") is not None,
        )
