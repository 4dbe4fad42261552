"""Configuration read from the environment, with safe defaults for a laptop."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"
#: The key shipped for a laptop: public, so it never signs a production session.
DEV_SECRET_KEY = "dev-only-secret-change-me"
#: ``CENTRALE_ENV`` values under which the shipped key is accepted (``make run`` sets it).
DEVELOPMENT_ENVS = frozenset({"development", "dev"})


class InsecureSecretKey(RuntimeError):
    """Production without a secret key of its own: sessions and CSRF tokens could be forged."""


def default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'centrale.sqlite3'}"


def load_config(overrides: dict | None = None) -> dict:
    """Settings for ``create_app``: environment first, then ``overrides`` (tests)."""
    config = {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or DEV_SECRET_KEY,
        #: "production" unless told: "development" accepts the shipped SECRET_KEY.
        "CENTRALE_ENV": os.environ.get("CENTRALE_ENV", "production"),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or default_database_url(),
        "CATALOG_DIR": os.environ.get("CATALOG_DIR", str(PROJECT_ROOT / "catalog")),
        # The seller on every document: the syndicat's own identity (sample values).
        "SELLER": {
            "name": os.environ.get("SELLER_NAME", "Syndicat mixte numérique Nord-Pas-de-Calais"),
            "address": os.environ.get("SELLER_ADDRESS", "12 rue de l'Hôtel de Ville"),
            "postal_code": os.environ.get("SELLER_POSTAL_CODE", "59000"),
            "city": os.environ.get("SELLER_CITY", "Lille"),
            "siret": os.environ.get("SELLER_SIRET", "25590012800018"),
            "vat_number": os.environ.get("SELLER_VAT_NUMBER", "FR07255900128"),
            "email": os.environ.get("SELLER_EMAIL", "centrale@syndicat-numerique.example"),
            # The account at the Trésor public members pay into (sample IBAN).
            "iban": os.environ.get("SELLER_IBAN", "FR3810071590000000200012345"),
            "bic": os.environ.get("SELLER_BIC", "TRPUFRP1"),
        },
        #: Days from issue to due date; 30 for public buyers (Code de la commande publique).
        "PAYMENT_DAYS": int(os.environ.get("PAYMENT_DAYS", "30")),
        # Invoice PDFs and billing runs (see README, Performance).
        #: "weasyprint" (the HTML templates) or "reportlab" (same content, much faster).
        "INVOICE_RENDERER": os.environ.get("INVOICE_RENDERER", "weasyprint"),
        #: Processes rendering a billing run's PDFs in parallel when it runs without
        #: Celery; 1 renders them in the run's own process.
        "INVOICE_RENDER_PROCESSES": int(
            os.environ.get("INVOICE_RENDER_PROCESSES", str(os.cpu_count() or 1))
        ),
        #: Members a billing run invoices per transaction (and per progress step).
        "BILLING_RUN_CHUNK": int(os.environ.get("BILLING_RUN_CHUNK", "50")),
        #: With a broker, billing runs and their PDF rendering go to Celery workers
        #: (``celery -A purchasing.celery_worker worker``); without, they run in-process.
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL") or None,
        "CELERY_RESULT_BACKEND": os.environ.get("CELERY_RESULT_BACKEND") or None,
        #: Documents per rendering task sent to the Celery workers.
        "CELERY_RENDER_CHUNK": int(os.environ.get("CELERY_RENDER_CHUNK", "10")),
        # flask-smorest / OpenAPI
        "API_TITLE": "Centrale API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/v1/docs/static/",
        # Cookies: secure flag on by default, off only for the local demo over http.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "1") == "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "1") == "1",
        # Sign-in throttling: failures within the window, per account and per client
        # address (higher: a collectivity's agents often share one address).
        "LOGIN_THROTTLE_WINDOW_MINUTES": int(os.environ.get("LOGIN_THROTTLE_WINDOW_MINUTES", "15")),
        "LOGIN_THROTTLE_PER_ACCOUNT": int(os.environ.get("LOGIN_THROTTLE_PER_ACCOUNT", "5")),
        "LOGIN_THROTTLE_PER_ADDRESS": int(os.environ.get("LOGIN_THROTTLE_PER_ADDRESS", "20")),
        #: Reverse proxies in front of the service whose X-Forwarded-For gives the client
        #: address (0: the address of the connection is the client's).
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", "0")),
        "WTF_CSRF_TIME_LIMIT": None,
    }
    config.update(overrides or {})
    return config


def is_development(config: dict, *, debug: bool = False) -> bool:
    """Tests, the debugger, or ``CENTRALE_ENV=development``: a laptop, not production."""
    return bool(config.get("TESTING")) or debug or config.get("CENTRALE_ENV") in DEVELOPMENT_ENVS


def refuse_insecure_secret_key(config: dict, *, debug: bool = False) -> None:
    """Refuse to start in production with no SECRET_KEY or the shipped development one."""
    if is_development(config, debug=debug):
        return
    if not config.get("SECRET_KEY") or config["SECRET_KEY"] == DEV_SECRET_KEY:
        raise InsecureSecretKey(
            "SECRET_KEY is unset or the shipped development key: set SECRET_KEY to a long "
            "random value of your own (python -c 'import secrets; print(secrets.token_hex(32))')"
            ", or CENTRALE_ENV=development on a laptop"
        )
