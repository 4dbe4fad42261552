"""A populated world for the hostile tests: what ``make run`` loads, through the services.

The catalogue and chart of accounts from ``catalog/``, the FEDER programme of
``demo/feder.yaml``, the demo members, last month's orders delivered and billed, a draft
and a submitted order per active member (quotes), the ledger posted, and a user with an
API token per staff role and per member. Fuzzing and isolation tests aim at these objects.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from purchasing import create_app
from purchasing.auth import services as auth_services
from purchasing.auth.models import ApiToken
from purchasing.auth.roles import Role
from purchasing.billing.models import Invoice, InvoiceStatus
from purchasing.billing.settings import settings_from_config as billing_settings
from purchasing.catalog.loader import load_catalog
from purchasing.catalog.models import Product
from purchasing.config import PROJECT_ROOT
from purchasing.demo import DEMO_DIR, load_demo_activity, load_demo_members
from purchasing.fields import today_in_paris
from purchasing.ledger import services as ledger_services
from purchasing.ledger.models import JournalEntry
from purchasing.ledger.settings import settings_from_config as ledger_settings
from purchasing.members.models import Adhesion, Member
from purchasing.orders import services as order_services
from purchasing.orders.models import (
    Order,
    OrderLine,
    PurchaseOrder,
    Subscription,
    SupplierInvoice,
)
from purchasing.subsidies.loader import read_programme_file
from purchasing.subsidies.models import SubsidyProgramme
from purchasing.subsidies.services import load_programme
from tests.factories import make_user

STAFF_ROLES = (Role.ADMIN, Role.PURCHASING, Role.FINANCE, Role.AUDITOR)


@dataclass
class World:
    #: bearer token of a user of each staff role
    staff_tokens: dict[Role, str]
    #: member id -> bearer token of a member user bound to it
    member_tokens: dict[int, str]
    #: member id -> e-mail of that user (its password is the factories' PASSWORD)
    member_emails: dict[int, str]
    #: members with orders, invoices and subscriptions, in id order
    active_members: list[int]
    #: ids of what exists, by the name of the path parameter that takes them
    ids: dict[str, list[int]] = field(default_factory=dict)
    skus: list[str] = field(default_factory=list)
    #: the tokens above: a test that may revoke tokens must spare them
    tokens_in_use: frozenset[int] = frozenset()
    years: list[int] = field(default_factory=list)


def build_world(session: Session, config: dict[str, Any]) -> World:
    load_catalog(session, PROJECT_ROOT / "catalog", loaded_by=None)
    load_programme(session, read_programme_file(DEMO_DIR / "feder.yaml"), loaded_by=None)
    load_demo_members(session, DEMO_DIR / "members.csv")
    load_demo_activity(session, billing_settings(config))
    billed = sorted(set(session.scalars(select(Invoice.member_id))))
    for member_id in billed:
        _open_orders(session, member_id)
    ledger_services.post_pending_events(session, settings=ledger_settings(config), posted_by=None)

    staff_tokens = {role: make_user(session, role=role.value)[1] for role in STAFF_ROLES}
    member_users = {
        member.id: make_user(session, role="member", member=member)
        for member in session.scalars(select(Member).order_by(Member.id))
    }
    ids: dict[str, list[int]] = defaultdict(list)
    for name, column in (
        ("member_id", Member.id),
        ("order_id", Order.id),
        ("line_id", OrderLine.id),
        ("invoice_id", Invoice.id),
        ("invoice_id", SupplierInvoice.id),  # the supplier invoices' routes name it so too
        ("subscription_id", Subscription.id),
        ("purchase_order_id", PurchaseOrder.id),
        ("programme_id", SubsidyProgramme.id),
        ("entry_id", JournalEntry.id),
    ):
        ids[name] += session.scalars(select(column).order_by(column))
    in_use = frozenset(session.scalars(select(ApiToken.id)))
    # Spare tokens of the same users, for the tests that revoke some.
    for user_id in session.scalars(select(ApiToken.user_id).distinct()).all():
        auth_services.issue_token(session, user_id=user_id, label="spare", issued_by=None)
    ids["token_id"] = list(
        session.scalars(select(ApiToken.id).where(ApiToken.id.not_in(in_use)).order_by(ApiToken.id))
    )
    return World(
        tokens_in_use=in_use,
        staff_tokens=staff_tokens,
        member_tokens={member_id: token for member_id, (_, token) in member_users.items()},
        member_emails={member_id: user.email for member_id, (user, _) in member_users.items()},
        active_members=billed,
        ids=dict(ids),
        skus=list(session.scalars(select(Product.sku).order_by(Product.sku))),
        years=sorted(
            {d.year for d in session.scalars(select(Invoice.issue_date)) if d is not None}
        ),
    )


def _open_orders(session: Session, member_id: int) -> None:
    """A draft and a submitted order: what a member follows before approval (quotes)."""
    sku = session.scalar(
        select(OrderLine.sku).join(Order).where(Order.member_id == member_id).limit(1)
    )
    for submit in (False, True):
        order = order_services.create_order(
            session,
            actor=None,
            member_id=member_id,
            order_date=today_in_paris(),
            engagement_number=f"ENG-OPEN-{member_id}-{int(submit)}",
            lines=[order_services.LineInput(sku=sku, quantity=Decimal(1))],
        )
        if submit:
            order_services.submit_order(session, order.id, actor=None)


def issued_invoices(session: Session, member_id: int) -> list[Invoice]:
    query = select(Invoice).where(
        Invoice.member_id == member_id, Invoice.status == InvoiceStatus.ISSUED
    )
    return list(session.scalars(query))


def adhesions_of(session: Session, member_id: int) -> list[Adhesion]:
    return list(session.scalars(select(Adhesion).where(Adhesion.member_id == member_id)))


@contextmanager
def world_on(engine: Engine, database_url: str) -> Iterator[tuple[Flask, World]]:
    """An application on a world built in a transaction of ``engine``, rolled back at the
    end."""
    with engine.connect() as connection:
        transaction = connection.begin()
        factory = sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": database_url,
                "SECRET_KEY": "test-secret",
                "SESSION_COOKIE_SECURE": False,
            }
        )
        app.extensions["centrale.sessionmaker"] = factory
        with factory() as session:
            world = build_world(session, app.config)
        yield app, world
        transaction.rollback()


@pytest.fixture(scope="module")
def world_app(engine: Engine, database_url: str) -> Iterator[tuple[Flask, World]]:
    """An application on a built world, shared by the tests of a module and rolled back
    at its end: building it takes seconds, and what one test leaves (orders, billing
    runs...) is more state for the next to stumble on."""
    with world_on(engine, database_url) as built:
        yield built
