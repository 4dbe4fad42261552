"""Web login and logout; API: who am I, and my tokens."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import login_user, logout_user

from purchasing.api import Blueprint as ApiBlueprint
from purchasing.auth import services
from purchasing.auth.access import allow_any_user, current_actor, public
from purchasing.auth.forms import LoginForm
from purchasing.auth.schemas import IssuedTokenSchema, MeSchema, TokenCreateSchema, TokenSchema
from purchasing.db import get_session

bp = Blueprint("auth", __name__)
api_bp = ApiBlueprint("auth_api", __name__, "/auth", description="Current user and API tokens")


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect after login would help phishing.
    if (
        target
        and urlsplit(target).netloc == ""
        and target.startswith("/")
        and not target.startswith("//")
    ):
        return target
    return url_for("web.home")


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    """Sign-in page."""
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.sign_in(
                get_session(),
                form.email.data,
                form.password.data,
                address=request.remote_addr or "",
                throttle=login_throttle(current_app.config),
            )
        except services.TooManyLoginFailures as refused:
            form.password.errors.append(
                "Trop de tentatives de connexion infructueuses. "
                f"Réessayez dans {refused.minutes} minute{'s' if refused.minutes > 1 else ''}."
            )
            page = render_template("auth/login.html", form=form)
            return page, 429, {"Retry-After": str(int(refused.retry_after.total_seconds()) + 1)}
        if user is not None:
            session.clear()  # a fresh session: nothing planted before sign-in survives it
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append("E-mail ou mot de passe incorrect.")
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 422


def login_throttle(config: Mapping[str, Any]) -> services.LoginThrottle:
    return services.LoginThrottle(
        window=timedelta(minutes=config["LOGIN_THROTTLE_WINDOW_MINUTES"]),
        per_account=config["LOGIN_THROTTLE_PER_ACCOUNT"],
        per_address=config["LOGIN_THROTTLE_PER_ADDRESS"],
    )


@bp.post("/logout")
@allow_any_user
def logout() -> Any:
    """Sign out."""
    logout_user()
    session.clear()
    flash("Vous êtes déconnecté.")
    return redirect(url_for("auth.login"))


@api_bp.route("/me", methods=["GET"])
@api_bp.response(200, MeSchema)
@allow_any_user
def me() -> Any:
    """The user the token belongs to."""
    return current_actor()


@api_bp.route("/tokens", methods=["GET"])
@api_bp.response(200, TokenSchema(many=True))
@allow_any_user
def list_tokens() -> Any:
    """My API tokens (secrets are never shown again)."""
    return services.list_tokens(get_session(), user_id=current_actor().id)


@api_bp.route("/tokens", methods=["POST"])
@api_bp.arguments(TokenCreateSchema)
@api_bp.response(201, IssuedTokenSchema)
@allow_any_user
def create_token(data: dict) -> Any:
    """Issue a new token for myself; the secret is in this answer only."""
    actor = current_actor()
    issued = services.issue_token(
        get_session(), user_id=actor.id, label=data["label"], issued_by=actor
    )
    token = issued.token
    return {
        "id": token.id,
        "label": token.label,
        "created_at": token.created_at,
        "revoked_at": token.revoked_at,
        "token": issued.secret,
    }


@api_bp.route("/tokens/<int:token_id>", methods=["DELETE"])
@api_bp.response(204)
@allow_any_user
def revoke_token(token_id: int) -> None:
    """Revoke one of my tokens."""
    services.revoke_token(get_session(), token_id=token_id, revoked_by=current_actor())
