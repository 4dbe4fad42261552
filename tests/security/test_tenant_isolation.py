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
from sqlalchemy import select
from sqlalchemy.orm import Session

from purchasing.auth.access import PUBLIC, access_rule
from purchasing.auth.models import ApiToken, User
from purchasing.auth.roles import Role
from purchasing.billing.models import Invoice
from purchasing.members.models import Adhesion, Member
from purchasing.orders.models import Order, OrderLine, PurchaseOrder, Subscription
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
    with their ids replaced by ids nothing has. All theirs; and, for nested ids, my order
    with their line."""
    names = [name for _converter, name in variables if name in OWNED]
    if not all(theirs[name] for name in names):
        return
    for index in range(max(len(theirs[name]) for name in names)):
        values = {name: theirs[name][index % len(theirs[name])] for name in names}
        yield values, dict.fromkeys(values, NOWHERE)
    if {"order_id", "line_id"} <= set(names) and mine["order_id"]:
        for order_id in mine["order_id"]:
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


def test_no_api_route_reaches_another_members_objects(world_app):
    app, world = world_app
    unplaced = []
    tried = 0
    with _session(app) as session:
        for me, them in _pairs(world):
            headers = {"Authorization": f"Bearer {world.member_tokens[me]}"}
            mine, theirs = owned_ids(session, me), owned_ids(session, them)
            before = _state(session, them)
            client = app.test_client()
            for method, rule, variables in member_routes(app, api=True):
                names = {name for _c, name in variables}
                if not names & OWNED:
                    unplaced += [f"{rule} <{n}>" for n in names - SHARED]
                    continue
                unplaced += [f"{rule} <{n}>" for n in names - OWNED - SHARED]
                for values, control in _targets(variables, theirs, mine):
                    answer = client.open(
                        _fill(rule, values), method=method, headers=headers, json={}
                    )
                    nowhere = client.open(
                        _fill(rule, control), method=method, headers=headers, json={}
                    )
                    where = f"member {me}: {method} {_fill(rule, values)}"
                    if method == "GET" and set(control.values()) == {NOWHERE}:
                        assert answer.status_code == 404, f"{where}: {answer.status_code}"
                    # Refused as a missing id is: nothing tells that the object exists.
                    assert answer.status_code == nowhere.status_code, (
                        f"{where}: {answer.status_code}"
                    )
                    assert answer.status_code >= 400, where
                    assert _blanked(answer.json, values) == _blanked(nowhere.json, control), where
                    tried += 1
            assert _state(session, them) == before, f"member {me} changed member {them}'s data"
    assert not unplaced, f"routes with ids this test cannot place: {sorted(set(unplaced))}"
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


@pytest.mark.parametrize(
    "path", ["/my/orders", "/my-invoices", "/my/subscriptions", "/my/adhesion"]
)
def test_a_members_own_pages_show_nothing_of_another_member(world_app, path):
    app, world = world_app
    with _session(app) as session:
        members = {m.id: m for m in session.scalars(select(Member))}
        for me, them in _pairs(world):
            user = session.scalar(select(User).where(User.email == world.member_emails[me]))
            browser = PageClient(app.test_client(), user)
            if path not in {rule.rule for rule in app.url_map.iter_rules()}:
                pytest.skip(f"{path} is not served")
            for query in ("", f"?member_id={them}"):
                page = browser.get(path + query)
                assert page.status_code in {200, 404, 422}, f"{path}{query}: {page.status_code}"
                for trace in (members[them].name, escape(members[them].name), members[them].siret):
                    assert trace not in page.text, f"member {me} sees {them} on {path}{query}"
