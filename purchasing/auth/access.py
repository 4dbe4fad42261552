"""Who may call what: every endpoint declares its access rule, checked before it runs.

``@allow(Role.FINANCE, Role.ADMIN)`` lets those roles in; ``@allow_any_user`` any signed-in
user; ``@public`` anyone. An endpoint without a rule is refused (deny by default), and a
test walks the URL map to prove every endpoint has one.

The caller is found from an ``Authorization: Bearer`` token (API) or the login session
(web pages). API routes accept bearer tokens only, so a browser's cookie can never be
replayed against them and they need no CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from flask import Flask, current_app, g, redirect, request, url_for
from flask_login import LoginManager, current_user
from flask_smorest import abort
from werkzeug.middleware.proxy_fix import ProxyFix

from purchasing.auth.models import User
from purchasing.auth.roles import Role
from purchasing.auth.services import user_for_token
from purchasing.db import get_session

F = TypeVar("F", bound=Callable[..., Any])

#: Marker meaning "any signed-in user, whatever the role".
ANY_USER = frozenset(Role)
PUBLIC = "public"
ACCESS_ATTR = "_centrale_access"
API_PREFIX = "/api/"

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Connectez-vous pour accéder à cette page."
login_manager.session_protection = "strong"


def allow(*roles: Role) -> Callable[[F], F]:
    if not roles:
        raise ValueError("allow() needs at least one role; use public or allow_any_user")

    def decorate(view: F) -> F:
        setattr(view, ACCESS_ATTR, frozenset(roles))
        return view

    return decorate


def allow_any_user(view: F) -> F:
    setattr(view, ACCESS_ATTR, ANY_USER)
    return view


def public(view: F) -> F:
    setattr(view, ACCESS_ATTR, PUBLIC)
    return view


def declare_public_endpoints(app: Flask, *endpoints: str) -> None:
    """Mark endpoints that other libraries register (static files, OpenAPI) as public."""
    app.extensions.setdefault("centrale.public_endpoints", set()).update(endpoints)


def access_rule(app: Flask, endpoint: str, method: str) -> frozenset[Role] | str | None:
    """The declared rule of an endpoint: its view function's, or its MethodView method's."""
    if endpoint in app.extensions.get("centrale.public_endpoints", ()):
        return PUBLIC
    view = app.view_functions[endpoint]
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        handler = getattr(view_class, method.lower(), None)
        rule = getattr(handler, ACCESS_ATTR, None)
        if rule is not None:
            return rule
    return getattr(view, ACCESS_ATTR, None)


def current_actor() -> User | None:
    """The signed-in user of this request, or None."""
    return g.get("actor")


def _resolve_actor() -> User | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return user_for_token(get_session(), header.removeprefix("Bearer ").strip())
    if request.path.startswith(API_PREFIX):
        return None
    return current_user if current_user.is_authenticated else None


def _check_access() -> Any:
    if request.endpoint is None:  # 404/405: let Flask answer
        return None
    if request.method == "OPTIONS":
        return None
    rule = access_rule(current_app, request.endpoint, request.method)
    if rule is None:
        current_app.logger.error("endpoint %s declares no access rule", request.endpoint)
        _refuse(403, "this endpoint declares no access rule")
    g.actor = _resolve_actor()
    if rule == PUBLIC:
        return None
    actor = g.actor
    if actor is None:
        if request.path.startswith(API_PREFIX):
            _refuse(401, "missing, unknown or revoked bearer token")
        return redirect(url_for("auth.login", next=request.full_path))
    if actor.role not in rule:
        _refuse(403, f"the role {actor.role.value} may not call this endpoint")
    return None


def _refuse(status: int, reason: str) -> NoReturn:
    """Abort naming the credential at fault (API answers carry it as a field message)."""
    abort(status, message=reason, errors={"headers": {"Authorization": [reason]}})


def init_app(app: Flask) -> None:
    if app.config.get("TRUSTED_PROXIES"):
        # The client address (sign-in throttle) is what the trusted proxies forwarded.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"])
    login_manager.init_app(app)
    declare_public_endpoints(app, "static")
    app.before_request(_check_access)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = get_session().get(User, int(user_id))
    return user if user is not None and user.active else None
