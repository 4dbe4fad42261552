"""Centrale: order and billing service of a public purchasing centre."""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter, Map

from purchasing import api, db, web
from purchasing.config import INSTANCE_DIR, load_config, refuse_insecure_secret_key

csrf = CSRFProtect()


class DatabaseIdConverter(IntegerConverter):
    """``<int:...>`` limited to what an INTEGER column holds: the ids' columns are 32-bit
    on PostgreSQL, which refuses a larger value with an error, not an empty result."""

    def __init__(self, url_map: Map, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.update(load_config(overrides))
    # Before anything else: a production start with a forgeable session key stops here.
    refuse_insecure_secret_key(app.config, debug=app.debug)
    # Before any route is added: ids in paths must fit a 64-bit column (else 404, not 500).
    app.url_map.converters["int"] = DatabaseIdConverter

    db.init_app(app)
    api.init_app(app)
    web.init_app(app)
    _init_security(app)
    _register_blueprints(app)
    return app


def _init_security(app: Flask) -> None:
    from purchasing.auth import access

    # CSRF is checked on pages only: API routes take bearer tokens, never cookies.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    csrf.init_app(app)
    access.init_app(app)

    @app.before_request
    def _csrf_on_pages() -> None:
        from flask import request

        if request.method in {"POST", "PUT", "PATCH", "DELETE"} and not request.path.startswith(
            access.API_PREFIX
        ):
            csrf.protect()


def _register_blueprints(app: Flask) -> None:
    """Every blueprint, listed explicitly: what the application serves is read here."""
    from purchasing.audit import pages as audit_pages
    from purchasing.audit import views as audit_views
    from purchasing.auth import views as auth_views
    from purchasing.billing import pages as billing_pages
    from purchasing.billing import views as billing_views
    from purchasing.catalog import pages as catalog_pages
    from purchasing.catalog import views as catalog_views
    from purchasing.ledger import pages as ledger_pages
    from purchasing.ledger import views as ledger_views
    from purchasing.members import pages as members_pages
    from purchasing.members import views as members_views
    from purchasing.orders import pages as orders_pages
    from purchasing.orders import staff_pages as orders_staff_pages
    from purchasing.orders import views as orders_views
    from purchasing.subsidies import pages as subsidies_pages
    from purchasing.subsidies import views as subsidies_views

    for page_bp in (
        web.bp,
        auth_views.bp,
        members_pages.bp,
        catalog_pages.bp,
        orders_pages.bp,
        orders_staff_pages.bp,
        billing_pages.bp,
        subsidies_pages.bp,
        ledger_pages.bp,
        audit_pages.bp,
    ):
        app.register_blueprint(page_bp)
    for api_bp in (
        auth_views.api_bp,
        members_views.api_bp,
        catalog_views.api_bp,
        audit_views.api_bp,
        orders_views.api_bp,
        billing_views.api_bp,
        ledger_views.api_bp,
        subsidies_views.api_bp,
    ):
        api.api.register_blueprint(api_bp)
