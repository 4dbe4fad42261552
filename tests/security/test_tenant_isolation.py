"""A member's agent sees nothing of another member: every id answers as if it did not exist.

Each member user of the world (three members with orders, quotes, invoices with their PDF
and XML, subscriptions and adhesions) tries every other member's objects: through every
API route and every page it may call that takes an id, with every method, and through
every list it may read, filtered on the other member. The routes are read from the URL
map, so a route added tomorrow is tried too; a route whose id this test cannot place
fails it until the id is added to ``OWNED``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import escape
from typing import Any

import pytest
from flask import Flask
from marshmallow import Schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from purchasing.auth.access import PUBLIC, access_rule
from purchasing.auth.models import ApiToken, User
from purchasing.auth.roles import Role
from purchasing.billing.models import Invoice, InvoiceStatus
from purchasing.members.models import Adhesion, Member
from purchasing.orders.models import Order, OrderLine, OrderStatus, PurchaseOrder, Subscription
from tests.security.world import World
from tests.web.conftest import PageClient

#: An id nothing has (the largest an id column holds): the answer for another member's
#: object must be the same as for it.
NOWHERE = 2**31 - 1
_VARIABLE = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>[^<>]+)>")


def _session(app: Flask) -> Session:
    return app.extensions["centrale.sessionmaker"]()


def owned_ids(session: Session, member_id: int) -> dict[str, list[int]]:
    """The ids a member owns, by the name routes give them."""
    return {
        "member_id": [member_id],
        "order_id": list(session.scalars(select(Order.id).where(Order.member_id == member_id))),
        #: not a route's name: the orders whose lines may still change
        "draft_order_id": list(
            session.scalars(
                select(Order.id).where(
                    Order.member_id == member_id, Order.status == OrderStatus.DRAFT
                )
            )
        ),
        "line_id": list(
            session.scalars(select(OrderLine.id).join(Order).where(Order.member_id == member_id))
        ),
        "invoice_id": list(
            session.scalars(select(Invoice.id).where(Invoice.member_id == member_id))
        ),
        "subscription_id": list(
            session.scalars(select(Subscription.id).where(Subscription.member_id == member_id))
        ),
        "purchase_order_id": list(
            session.scalars(
                select(PurchaseOrder.id).join(Order).where(Order.member_id == member_id)
            )
        ),
        "token_id": list(
            session.scalars(select(ApiToken.id).join(User).where(User.member_id == member_id))
        ),
        "adhesion_id": list(
            session.scalars(select(Adhesion.id).where(Adhesion.member_id == member_id))
        ),
    }


#: Path parameters that name something a member owns: tried with another member's ids.
OWNED = frozenset(
    {
        "member_id",
        "order_id",
        "line_id",
        "invoice_id",
        "subscription_id",
        "purchase_order_id",
        "token_id",
        "adhesion_id",
    }
)
#: Path parameters that name shared things (the catalogue): nothing of a member's.
SHARED = frozenset({"sku", "family", "filename"})


def member_routes(app: Flask, *, api: bool) -> Iterator[tuple[str, str, list[tuple[str, str]]]]:
    """(method, rule, [(converter, name)...]) of each route a member user may call."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") != api:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            allowed = access_rule(app, rule.endpoint, method)
            if allowed == PUBLIC or allowed is None or Role.MEMBER not in allowed:
                continue
            variables = [
                (m["converter"] or "default", m["name"]) for m in _VARIABLE.finditer(rule.rule)
            ]
            yield method, rule.rule, variables


def _fill(rule: str, values: dict[str, Any]) -> str:
    return _VARIABLE.sub(lambda m: str(values[m["name"]]), rule)


def _targets(
    variables: list[tuple[str, str]], theirs: dict[str, list[int]], mine: dict[str, list[int]]
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Path values naming the other member's objects, each with its control: the same path
    with their ids replaced by ids nothing has. All theirs; and, for nested ids, my draft
    order (whose lines may change, so that no state check answers first) with their line."""
    names = [name for _converter, name in variables if name in OWNED]
    if not all(theirs[name] for name in names):
        return
    for index in range(max(len(theirs[name]) for name in names)):
        values = {name: theirs[name][index % len(theirs[name])] for name in names}
        yield values, dict.fromkeys(values, NOWHERE)
    if {"order_id", "line_id"} <= set(names) and mine["draft_order_id"]:
        for order_id in mine["draft_order_id"]:
            yield (
                {"order_id": order_id, "line_id": theirs["line_id"][0]},
                {"order_id": order_id, "line_id": NOWHERE},
            )


def _state(session: Session, member_id: int) -> list[Any]:
    """What another member's agent must never change: the member's rows, as stored."""
    session.expire_all()
    rows: list[Any] = [session.get(Member, member_id).name]
    for model in (Order, Invoice, Subscription, Adhesion):
        for obj in session.scalars(
            select(model).where(model.member_id == member_id).order_by(model.id)
        ):
            rows.append(
                (
                    model.__name__,
                    {c.key: getattr(obj, c.key) for c in model.__mapper__.column_attrs},
                )
            )
    rows += [
        (line.id, line.quantity, line.note)
        for line in session.scalars(
            select(OrderLine).join(Order).where(Order.member_id == member_id).order_by(OrderLine.id)
        )
    ]
    rows += [
        (token.id, token.revoked_at)
        for token in session.scalars(
            select(ApiToken).join(User).where(User.member_id == member_id).order_by(ApiToken.id)
        )
    ]
    return rows


def _pairs(world: World) -> list[tuple[int, int]]:
    return [
        (me, them) for me in world.active_members for them in world.active_members if me != them
    ]


# --- API ---------------------------------------------------------------------------------


def valid_bodies(session: Session, member_id: int) -> dict[tuple[str, str], dict[str, Any]]:
    """A body each API route that takes one would accept from the member's agent, by
    (method, rule): so that it is the ownership check that answers, not the validation."""
    sku = session.scalar(
        select(OrderLine.sku).join(Order).where(Order.member_id == member_id).limit(1)
    )
    return {
        ("PATCH", "/api/v1/orders/<int:order_id>"): {"note": "changed by another member"},
        ("POST", "/api/v1/orders/<int:order_id>/lines"): {"sku": sku, "quantity": "1"},
        ("PATCH", "/api/v1/orders/<int:order_id>/lines/<int:line_id>"): {
            "quantity": "2",
            "note": "changed by another member",
        },
        ("POST", "/api/v1/orders/<int:order_id>/cancel"): {"reason": "cancelled by another"},
    }


def json_schema(app: Flask, method: str, rule: str) -> type[Schema] | Schema | None:
    """The marshmallow schema a route parses its JSON body with, if it takes one."""
    endpoint = next(
        r.endpoint for r in app.url_map.iter_rules() if r.rule == rule and method in r.methods
    )
    apidoc = getattr(app.view_functions[endpoint], "_apidoc", {})
    for parameter in apidoc.get("arguments", {}).get("parameters", []):
        if parameter["in"] == "json":
            return parameter["schema"]
    return None


def test_no_api_route_reaches_another_members_objects(world_app):
    """Every API route with an id that a member user may call, with every method and a
    body it would accept: 404 for another member's objects, as for ids nothing has."""
    app, world = world_app
    unplaced = []
    unbodied = []
    tried = 0
    with _session(app) as session:
        for me, them in _pairs(world):
            headers = {"Authorization": f"Bearer {world.member_tokens[me]}"}
            mine, theirs = owned_ids(session, me), owned_ids(session, them)
            bodies = valid_bodies(session, me)
            before = _state(session, them)
            client = app.test_client()
            for method, rule, variables in member_routes(app, api=True):
                names = {name for _c, name in variables}
                if not names & OWNED:
                    unplaced += [f"{rule} <{n}>" for n in names - SHARED]
                    continue
                unplaced += [f"{rule} <{n}>" for n in names - OWNED - SHARED]
                schema = json_schema(app, method, rule)
                body = None
                if schema is not None:
                    if (method, rule) not in bodies:
                        unbodied.append(f"{method} {rule}")
                        continue
                    body = bodies[method, rule]
                    schema_instance = schema() if isinstance(schema, type) else schema
                    assert not schema_instance.validate(body), f"{method} {rule}: invalid body"
                for values, control in _targets(variables, theirs, mine):
                    answer = client.open(
                        _fill(rule, values), method=method, headers=headers, json=body
                    )
                    nowhere = client.open(
                        _fill(rule, control), method=method, headers=headers, json=body
                    )
                    where = f"member {me}: {method} {_fill(rule, values)}"
                    # Refused as a missing id is: nothing tells that the object exists.
                    assert nowhere.status_code == 404, f"{where} (control): {nowhere.status_code}"
                    assert answer.status_code == 404, f"{where}: {answer.status_code}"
                    assert _blanked(answer.json, values) == _blanked(nowhere.json, control), where
                    tried += 1
            assert _state(session, them) == before, f"member {me} changed member {them}'s data"
    assert not unplaced, f"routes with ids this test cannot place: {sorted(set(unplaced))}"
    assert not unbodied, f"routes this test has no valid body for: {sorted(set(unbodied))}"
    assert tried >= 50


def _blanked(body: Any, values: dict[str, Any]) -> str:
    """An answer with the ids of its path blanked, to compare two refusals."""
    text = json.dumps(body, sort_keys=True)
    for value in values.values():
        text = re.sub(rf"\b{value}\b", "<id>", text)
    return text


def test_no_api_list_shows_another_members_data(world_app):
    app, world = world_app
    with _session(app) as session:
        members = {m.id: m for m in session.scalars(select(Member))}
        for me, them in _pairs(world):
            headers = {"Authorization": f"Bearer {world.member_tokens[me]}"}
            client = app.test_client()
            lists = [
                rule
                for method, rule, variables in member_routes(app, api=True)
                if method == "GET" and not variables
            ]
            assert "/api/v1/invoices" in lists and "/api/v1/orders" in lists
            for rule in lists:
                for query in ({}, {"member_id": them}, {"member_id": them, "per_page": 100}):
                    answer = client.get(rule, headers=headers, query_string=query)
                    where = f"member {me}: GET {rule} {query}"
                    if answer.status_code in {404, 422}:
                        continue  # a filter on another member may be refused outright
                    assert answer.status_code == 200, f"{where}: {answer.status_code}"
                    assert not _foreign(answer.get_json(silent=True), me), where
                    text = answer.get_data(as_text=True)
                    assert members[them].siret not in text, where
    # The filters did select: the member's own lists are not empty.
    answer = app.test_client().get(
        "/api/v1/invoices",
        headers={"Authorization": f"Bearer {world.member_tokens[world.active_members[0]]}"},
    )
    assert answer.json["items"]


def _foreign(body: Any, me: int) -> list[Any]:
    """``member_id`` values other than ``me`` anywhere in a JSON answer."""
    if isinstance(body, dict):
        found = [v for k, v in body.items() if k == "member_id" and v not in (me, None)]
        return found + [f for v in body.values() for f in _foreign(v, me)]
    if isinstance(body, list):
        return [f for v in body for f in _foreign(v, me)]
    return []


def test_a_member_cannot_order_for_another_member(world_app):
    app, world = world_app
    me, them = world.active_members[:2]
    headers = {"Authorization": f"Bearer {world.member_tokens[me]}"}
    sku = world.skus[0]
    with _session(app) as session:
        before = _state(session, them)
        answer = app.test_client().post(
            "/api/v1/orders",
            headers=headers,
            json={"member_id": them, "lines": [{"sku": sku, "quantity": "1"}]},
        )
        assert answer.status_code in {201, 403, 404, 422}
        if answer.status_code == 201:
            assert answer.json["member_id"] == me
        assert _state(session, them) == before


# --- Pages -------------------------------------------------------------------------------


def test_no_page_reaches_another_members_objects(world_app):
    """Every page route with an id that a member user may open, GET or POST (with a valid
    CSRF token, so that it is the ownership check that answers): 404 for another member's
    objects, and nothing of theirs changes."""
    app, world = world_app
    unplaced = []
    tried = 0
    with _session(app) as session:
        for me, them in _pairs(world):
            user = session.scalar(select(User).where(User.email == world.member_emails[me]))
            browser = PageClient(app.test_client(), user)
            mine, theirs = owned_ids(session, me), owned_ids(session, them)
            before = _state(session, them)
            for method, rule, variables in member_routes(app, api=False):
                names = {name for _c, name in variables}
                if not names & OWNED:
                    unplaced += [f"{rule} <{n}>" for n in names - SHARED]
                    continue
                unplaced += [f"{rule} <{n}>" for n in names - OWNED - SHARED]
                for values, control in _targets(variables, theirs, mine):
                    url = _fill(rule, values)
                    answer = browser.get(url) if method == "GET" else browser.post(url)
                    where = f"member {me}: {method} {url}: {answer.status_code}"
                    if set(control.values()) == {NOWHERE}:
                        assert answer.status_code == 404, where
                    else:  # my order with their line: as with a line nothing has
                        other = _fill(rule, control)
                        nowhere = browser.get(other) if method == "GET" else browser.post(other)
                        assert answer.status_code == nowhere.status_code, where
                    tried += 1
            assert _state(session, them) == before, f"member {me} changed member {them}'s data"
    assert not unplaced, f"page routes with ids this test cannot place: {sorted(set(unplaced))}"
    assert tried >= 10


def page_traces(session: Session, member_id: int) -> dict[str, list[str]]:
    """What the member's own list pages show of it, by page: its invoice numbers, order
    references and engagement numbers, and the links to them."""
    invoices = session.execute(
        select(Invoice.id, Invoice.number).where(
            Invoice.member_id == member_id, Invoice.status == InvoiceStatus.ISSUED
        )
    ).all()
    orders = session.execute(
        select(Order.id, Order.reference, Order.engagement_number).where(
            Order.member_id == member_id
        )
    ).all()
    subscribed = session.execute(
        select(Order.id, Order.reference)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Subscription, Subscription.order_line_id == OrderLine.id)
        .where(Subscription.member_id == member_id)
    ).all()
    return {
        "/my-invoices": [number for _id, number in invoices]
        + [f'href="/my-invoices/{invoice_id}"' for invoice_id, _n in invoices]
        + [f'href="/invoices/{invoice_id}/pdf"' for invoice_id, _n in invoices],
        "/my/orders": [reference for _id, reference, _e in orders]
        + [engagement for _id, _r, engagement in orders if engagement]
        + [f'href="/my/orders/{order_id}"' for order_id, _r, _e in orders],
        "/my/subscriptions": [reference for _id, reference in subscribed]
        + [f'href="/my/orders/{order_id}"' for order_id, _r in subscribed],
        "/my/adhesion": [],
    }


def _shows(page: str, trace: str) -> bool:
    """Whether the page carries the trace as a whole token (CMD-1 is not in CMD-12)."""
    return any(
        re.search(rf"(?<![\w-]){re.escape(form)}(?![\w-])", page)
        for form in {trace, escape(trace, quote=False)}
    )


@pytest.mark.parametrize(
    "path", ["/my/orders", "/my-invoices", "/my/subscriptions", "/my/adhesion"]
)
def test_a_members_own_pages_show_nothing_of_another_member(world_app, path):
    """None of the other member's invoice numbers, order references, engagement numbers,
    links, name or SIRET on any of my list pages, filtered on it or not; and my own are
    there, so that the absence of theirs means something."""
    app, world = world_app
    if path not in {rule.rule for rule in app.url_map.iter_rules()}:
        pytest.skip(f"{path} is not served")
    with _session(app) as session:
        members = {m.id: m for m in session.scalars(select(Member))}
        traces = {m: page_traces(session, m) for m in world.active_members}
        for me, them in _pairs(world):
            user = session.scalar(select(User).where(User.email == world.member_emails[me]))
            browser = PageClient(app.test_client(), user)
            theirs = [t for listed in traces[them].values() for t in listed]
            theirs += [members[them].name, members[them].siret]
            for query in ("?per_page=500", f"?per_page=500&member_id={them}"):
                page = browser.get(path + query)
                assert page.status_code in {200, 404, 422}, f"{path}{query}: {page.status_code}"
                seen = [trace for trace in theirs if _shows(page.text, trace)]
                assert not seen, f"member {me} sees {them}'s {seen} on {path}{query}"
            page = browser.get(path + "?per_page=500")
            missing = [trace for trace in traces[me][path] if not _shows(page.text, trace)]
            assert not missing, f"member {me} does not see its own {missing} on {path}"
    if path != "/my/adhesion":
        assert all(traces[m][path] for m in world.active_members), f"nothing to see on {path}"
