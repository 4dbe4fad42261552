"""Fuzz every operation of the OpenAPI document, as each role, through the WSGI app.

Schemathesis generates requests from the document (valid ones, and ones that break it:
wrong types, missing fields, out-of-range values, malformed path parameters); half of the
ids it puts in paths are swapped for ids that exist, so the calls reach the services and
not only the 404 of an unknown id. Every answer must be below 500 (an exception raised
by a view fails the test with its traceback) and every 4xx answer must say what is at
fault: a JSON body with a message and field-level messages (``errors``). Whatever was
sent, the audit trail only grows.

The suite runs a few examples per operation; ``make fuzz`` sets ``FUZZ_EXAMPLES`` higher.
"""

from __future__ import annotations

import os
import re
import traceback
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from sqlalchemy import select

from purchasing.audit.models import AuditRecord
from purchasing.auth.access import ANY_USER, PUBLIC, access_rule
from purchasing.auth.roles import Role
from tests.security.world import World

#: Examples per operation and role (valid and invalid ones together).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
#: The other staff roles run the same service code as admin past the access check.
STAFF_EXAMPLES = max(2, EXAMPLES // 3)


def token_of(world: World, role: Role) -> str:
    if role is Role.MEMBER:
        return world.member_tokens[world.active_members[0]]
    return world.staff_tokens[role]


def operations_for(app: Flask, schema: Any, role: Role) -> list[Any]:
    """The operations ``role`` may call; the others answer 403 before any parsing, which
    tests/api/test_access_rules.py proves for every route."""
    endpoints = {
        (_PATH_VARIABLE.sub(r"{\g<name>}", rule.rule), method): rule.endpoint
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
    }
    allowed = []
    for result in schema.get_all_operations():
        operation = result.ok()
        method = operation.method.upper()
        rule = access_rule(app, endpoints[(operation.path, method)], method)
        if rule in (PUBLIC, ANY_USER) or role in rule:
            allowed.append(operation)
    return allowed


_PATH_VARIABLE = re.compile(r"<(?:[^:<>]+:)?(?P<name>[^<>]+)>")


def existing_ids(world: World) -> dict[str, st.SearchStrategy[Any]]:
    """For each path parameter, the values that name something in the world."""
    values: dict[str, list[Any]] = {**world.ids, "sku": world.skus, "year": world.years}
    return {name: st.sampled_from(found) for name, found in values.items() if found}


@st.composite
def cases(
    draw: st.DrawFn,
    operation: Any,
    known: dict[str, st.SearchStrategy[Any]],
    spared: frozenset[int],
) -> Any:
    """A generated request, valid or not, its path parameters now and then swapped for
    ones that exist."""
    case = draw(
        st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )
    )
    for name in list(case.path_parameters or {}):
        if name in known and draw(st.booleans()):
            case.path_parameters[name] = draw(known[name])
    # The fuzz's own tokens are spared: revoking one would leave the rest of the run at 401.
    if case.path_parameters and case.path_parameters.get("token_id") in spared:
        case.path_parameters["token_id"] = draw(known["token_id"])
    return case


def fuzz(
    operation: Any,
    token: str,
    known: dict[str, st.SearchStrategy[Any]],
    spared: frozenset[int],
    examples: int,
) -> str | None:
    """Run ``examples`` generated requests; what went wrong (shrunk), or None."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases(operation, known, spared))
    def call(case: Any) -> None:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        request = f"{case.method} {case.formatted_path} query={case.query} body={case.body!r:.300}"
        status = response.status_code
        assert status < 500, f"{request} -> {status} {response.text[:300]}"
        if 400 <= status < 500:
            try:
                body = response.json()
            except ValueError:
                body = response.text
            problems = error_shape_problems(status, body)
            assert not problems, f"{request} -> {status} {body!r:.300}: {problems}"

    try:
        call()
    except Exception as exc:  # every failure is reported, with its shrunk example
        lines = traceback.format_exception(exc)
        return f"{operation.label}:\n" + "".join(lines[-8:])
    return None


@pytest.mark.parametrize("role", list(Role))
def test_no_operation_fails_or_answers_without_field_messages(world_app, role):
    app, world = world_app
    # A view's exception reaches the test with its traceback, rather than as a bare 500.
    app.config["PROPAGATE_EXCEPTIONS"] = True
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    examples = EXAMPLES if role in (Role.ADMIN, Role.MEMBER) else STAFF_EXAMPLES
    known = existing_ids(world)
    operations = operations_for(app, schema, role)
    assert operations, f"no operation open to {role}"
    token = token_of(world, role)
    trail_before = audit_trail(app)
    failures = [
        failure
        for operation in operations
        if (failure := fuzz(operation, token, known, world.tokens_in_use, examples)) is not None
    ]
    assert failures == [], "\n\n".join(failures)
    # Whatever was sent, the audit trail only grew: no record changed or went away.
    assert audit_trail(app)[: len(trail_before)] == trail_before


def audit_trail(app: Flask) -> list[tuple[Any, ...]]:
    with app.extensions["centrale.sessionmaker"]() as session:
        return [
            (r.id, r.at, r.actor_id, r.action, r.entity, r.entity_id, r.before, r.after)
            for r in session.scalars(select(AuditRecord).order_by(AuditRecord.id))
        ]


def error_shape_problems(status: int, body: Any) -> list[str]:
    """What is missing from a 4xx answer: a JSON body with ``code`` (the status),
    ``status``, a ``message`` and field-level messages under ``errors``
    (``{"json": {"field": ["message"]}}``, nested for nested fields)."""
    if not isinstance(body, dict):
        return [f"the body is not a JSON object: {body!r:.200}"]
    problems = []
    if body.get("code") != status:
        problems.append(f"code {body.get('code')!r} is not the status {status}")
    if not isinstance(body.get("message"), str) or not body["message"].strip():
        problems.append("no message")
    errors = body.get("errors")
    if status != 405 and (not isinstance(errors, dict) or not errors):
        problems.append("no field-level messages under 'errors'")
    elif errors:
        for location, fields in errors.items():
            if not isinstance(fields, dict) or not fields:
                problems.append(f"errors.{location} does not map fields to messages")
            else:
                problems.extend(_leaf_problems(fields, f"errors.{location}"))
    return problems


def _leaf_problems(messages: Any, where: str) -> list[str]:
    if isinstance(messages, dict):
        return [
            p for key, value in messages.items() for p in _leaf_problems(value, f"{where}.{key}")
        ]
    if isinstance(messages, list) and messages and all(isinstance(m, str) and m for m in messages):
        return []
    return [f"{where} is not a list of messages: {messages!r:.200}"]
