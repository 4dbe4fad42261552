"""The JSON API under /api/v1: flask-smorest, its OpenAPI document, and error answers.

Every error leaves here as JSON with a message and, where input is at fault, field-level
messages under ``errors`` (``{"json": {"field": ["message"]}}``), like parse errors.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Flask, jsonify, request, send_from_directory
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from marshmallow import Schema, fields
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import HTTPException, InternalServerError

from purchasing.auth.access import API_PREFIX, declare_public_endpoints
from purchasing.errors import DomainError

api = Api()


class Blueprint(SmorestBlueprint):
    """A flask-smorest blueprint whose routes sit under /api/v1."""

    def __init__(self, name: str, import_name: str, url_prefix: str, **kwargs: Any) -> None:
        super().__init__(name, import_name, url_prefix=f"/api/v1{url_prefix}", **kwargs)


class ErrorSchema(Schema):
    code = fields.Integer(required=True)
    status = fields.String(required=True)
    message = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.Raw())


def error_body(status: int, message: str, errors: dict | None = None) -> dict:
    body: dict[str, Any] = {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "message": message,
    }
    if errors:
        body["errors"] = errors
    return body


def _domain_error(exc: DomainError) -> Any:
    body = error_body(exc.status_code, exc.message, {"json": exc.errors} if exc.errors else None)
    return jsonify(body), exc.status_code


def init_app(app: Flask) -> None:
    api.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "API token"}
    )
    api.spec.options["security"] = [{"bearerAuth": []}]
    api.ERROR_SCHEMA = ErrorSchema

    # flask-smorest registers its JSON error handler for every path; pages keep HTML.
    smorest_handler = app.error_handler_spec[None][None].get(HTTPException)

    def handle_http_exception(exc: HTTPException) -> Any:
        if request.path.startswith(API_PREFIX) and smorest_handler is not None:
            return smorest_handler(exc)
        from purchasing.web import render_error  # pages are imported late: they need the app

        return render_error(exc)

    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, _handle_domain_error)
    app.register_error_handler(Exception, _handle_unexpected)

    def swagger_ui_static(filename: str) -> Any:
        return send_from_directory(swagger_ui_path, filename, max_age=86400)

    app.add_url_rule("/api/v1/docs/static/<path:filename>", "swagger_ui_static", swagger_ui_static)
    # The OpenAPI document and its docs page are public: they describe, they reveal no data.
    declare_public_endpoints(
        app, "swagger_ui_static", "api-docs.openapi_json", "api-docs.openapi_swagger_ui"
    )


def _handle_domain_error(exc: DomainError) -> Any:
    if request.path.startswith(API_PREFIX):
        return _domain_error(exc)
    from purchasing.web import render_error

    return render_error(exc)


def _handle_unexpected(exc: Exception) -> Any:
    if isinstance(exc, HTTPException):
        raise exc
    from flask import current_app

    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    if current_app.config.get("PROPAGATE_EXCEPTIONS"):
        raise exc
    if request.path.startswith(API_PREFIX):
        return jsonify(error_body(500, "internal error")), 500
    from purchasing.web import render_error

    return render_error(InternalServerError())
