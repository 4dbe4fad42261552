"""WSGI entry point: ``gunicorn wsgi:app``."""

from purchasing import create_app

app = create_app()
