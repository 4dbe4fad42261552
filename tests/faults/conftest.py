"""Databases that really commit, for faults: a SQLite file, or a scratch PostgreSQL database
(``sec_faults_*``, created next to the test database and dropped at the end).

The schema is built by the migrations, as in production, and filled through the services:
the shipped catalogue, the demo members and a few more, and for each member allowed to
order (an active adhesion) a monthly
service commissioned last month, so that a billing run of last month has something to
invoice for every one of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from purchasing.catalog.loader import load_catalog
from purchasing.config import PROJECT_ROOT
from purchasing.db import make_engine
from purchasing.demo import DEMO_DIR, load_demo_members
from purchasing.errors import DomainError
from purchasing.fields import today_in_paris
from purchasing.members.models import Member
from purchasing.migrate import upgrade
from purchasing.orders import services as order_services
from tests.factories import make_member

#: Members added to the demo ones, so that a run has many groups to be killed in.
EXTRA_MEMBERS = 14
#: What each member ordered: a monthly Mairie Connectée service, billed by the run.
MONTHLY_SKU = "MC-MESSAGERIE"


@pytest.fixture
def scratch_database(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``scratch_database("kill")``: the URL of a new, empty database of that name."""
    base = os.environ.get("TEST_DATABASE_URL", "")
    created: list[str] = []
    admin = (
        create_engine(make_url(base), isolation_level="AUTOCOMMIT")
        if base.startswith("postgresql")
        else None
    )

    def make(name: str) -> str:
        if admin is None:
            return f"sqlite:///{tmp_path / f'{name}.sqlite3'}"
        database = f"sec_faults_{name}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        created.append(database)
        return make_url(base).set(database=database).render_as_string(hide_password=False)

    yield make
    if admin is not None:
        with admin.connect() as conn:
            for database in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class BilledWorld:
    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    #: the month the run bills ("2026-10") and the members with something to bill in it
    period: str
    members: list[int]


def build_billed_world(url: str) -> BilledWorld:
    upgrade(url)
    engine = make_engine(url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    last_month_end = today_in_paris().replace(day=1) - timedelta(days=1)
    month_start = last_month_end.replace(day=1)
    members = []
    with sessions() as session:
        load_catalog(session, PROJECT_ROOT / "catalog", loaded_by=None)
        load_demo_members(session, DEMO_DIR / "members.csv")
        for _extra in range(EXTRA_MEMBERS):
            make_member(session)
        for member_id in session.scalars(select(Member.id).order_by(Member.id)).all():
            try:
                order = order_services.create_order(
                    session,
                    actor=None,
                    member_id=member_id,
                    order_date=month_start,
                    engagement_number=f"ENG-{member_id}",
                    lines=[order_services.LineInput(sku=MONTHLY_SKU, quantity=Decimal(member_id))],
                    submit=True,
                )
            except DomainError:
                continue  # an adhesion that is not active: nothing to order, nothing billed
            order_services.approve_order(session, order.id, actor=None)
            order_services.send_order(session, order.id, actor=None)
            order_services.record_commissioning(
                session,
                order.id,
                order.lines[0].id,
                commissioned_on=month_start + timedelta(days=4),
                actor=None,
            )
            members.append(member_id)
    assert len(members) >= EXTRA_MEMBERS
    return BilledWorld(
        url=url,
        engine=engine,
        sessions=sessions,
        period=f"{month_start:%Y-%m}",
        members=members,
    )


@pytest.fixture
def billed_world(scratch_database) -> Callable[[str], BilledWorld]:
    worlds: list[BilledWorld] = []

    def make(name: str) -> BilledWorld:
        world = build_billed_world(scratch_database(name))
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.engine.dispose()
