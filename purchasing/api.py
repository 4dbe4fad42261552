"""The JSON API under /api/v1: flask-smorest, its OpenAPI document, and error answers.

Every error leaves here as JSON with a message and, where input is at fault, field-level
messages under ``errors`` (``{"json": {"field": ["message"]}}``), like parse errors.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from flask import Flask, current_app, jsonify, request, send_from_directory
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from marshmallow import Schema, fields
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.routing import BaseConverter, IntegerConverter, ValidationError

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
            payload, status, headers = smorest_handler(exc)
            return _with_field_messages(payload, exc), status, headers
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


def _with_field_messages(payload: dict[str, Any], exc: HTTPException) -> dict[str, Any]:
    """Every API error says what went wrong, and which field where one is to blame.

    Parse errors on the whole body (``{"json": ["Invalid JSON body."]}``) are put under
    ``_schema``, marshmallow's name for the input as a whole; a path that no route takes
    only because a parameter is malformed names that parameter.
    """
    errors = payload.get("errors")
    if errors:
        errors = {
            location: messages if isinstance(messages, dict) else {"_schema": messages}
            for location, messages in errors.items()
        }
    elif request.url_rule is None and (path_errors := _malformed_path_parameters()):
        errors = {"path": path_errors}
    if errors:
        payload["errors"] = errors
        named = (
            where if field == "_schema" else f"{where}.{field}"
            for where, fields in errors.items()
            for field in fields
        )
        payload.setdefault("message", f"invalid {', '.join(named)}")
    payload.setdefault("message", exc.description or HTTPStatus(exc.code or 500).phrase)
    return payload


_PATH_VARIABLE = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>[^<>]+)>")


def _malformed_path_parameters() -> dict[str, list[str]] | None:
    """The parameters that kept the request path from matching a route of its shape
    (``/orders/abc``, an id larger than an id column holds), with why; None when no route
    has its shape."""
    url_map = current_app.url_map
    parts = request.path.split("/")
    for rule in url_map.iter_rules():
        if request.method not in (rule.methods or ()) or rule.rule.count("/") + 1 != len(parts):
            continue
        refused: dict[str, list[str]] = {}
        for pattern, value in zip(rule.rule.split("/"), parts, strict=True):
            variable = _PATH_VARIABLE.fullmatch(pattern)
            if variable is None:
                if pattern != value:
                    break
                continue
            converter = url_map.converters[variable["converter"] or "default"](url_map)
            if not _converts(converter, value):
                refused[variable["name"]] = [_refusal(converter)]
        else:
            if refused:
                return refused
    return None


def _refusal(converter: BaseConverter) -> str:
    if isinstance(converter, IntegerConverter):
        return f"not a whole number from 0 to {converter.max}"
    return "not a valid value here"


def _converts(converter: BaseConverter, value: str) -> bool:
    if not re.fullmatch(converter.regex, value):
        return False
    try:
        converter.to_python(value)
    except ValidationError:
        return False
    return True


def _handle_domain_error(exc: DomainError) -> Any:
    if request.path.startswith(API_PREFIX):
        return _domain_error(exc)
    from purchasing.web import render_error

    return render_error(exc)


def _handle_unexpected(exc: Exception) -> Any:
    if isinstance(exc, HTTPException):
        raise exc
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    if current_app.config.get("PROPAGATE_EXCEPTIONS"):
        raise exc
    if request.path.startswith(API_PREFIX):
        return jsonify(error_body(500, "internal error")), 500
    from purchasing.web import render_error

    return render_error(InternalServerError())
