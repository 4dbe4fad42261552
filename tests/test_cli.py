"""The operator commands, run as an operator would (click's runner, real database)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from purchasing import fields
from purchasing.auth.models import User
from purchasing.auth.services import user_for_token
from purchasing.billing.models import Invoice
from purchasing.cli import main
from purchasing.members.models import Member
from purchasing.orders.models import OrderLine


@pytest.fixture
def run(app):
    runner = CliRunner()

    def invoke(*args: str):
        with app.app_context():
            return runner.invoke(main, list(args), obj=_script_info(app), catch_exceptions=False)

    return invoke


def _script_info(app):
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)


def test_users_create_prints_a_working_token(run, session):
    result = run("users", "create", "--email", "Compta@Example.org", "--role", "finance")
    assert result.exit_code == 0, result.output
    token = result.output.split("token: ")[1].strip()
    assert user_for_token(session, token).email == "compta@example.org"


def test_users_create_refuses_a_member_user_without_member(run, session):
    result = run("users", "create", "--email", "agent@example.org", "--role", "member")
    assert result.exit_code == 1
    assert "error: member_id: a member user must be bound to a member" in result.output
    assert session.scalar(select(func.count()).select_from(User)) == 0


def test_demo_loads_members_and_a_user_per_role_and_can_run_twice(run, session):
    assert run("catalog", "load", "catalog").exit_code == 0
    first = run("demo")
    assert first.exit_code == 0, first.output
    assert session.scalar(select(func.count()).select_from(Member)) == 12
    roles = set(session.scalars(select(User.role)))
    assert {r.value for r in roles} == {"admin", "purchasing", "finance", "auditor", "member"}
    assert "demo orders billed last month: 3 invoice(s)" in first.output
    second = run("demo")
    assert "demo orders billed last month: 0 invoice(s)" in second.output
    assert second.exit_code == 0, second.output
    assert session.scalar(select(func.count()).select_from(Member)) == 12
    assert session.scalar(select(func.count()).select_from(Invoice)) == 3
    # The tokens printed by the second run work; those of the first were revoked.
    new_tokens = [line.split(": ")[1] for line in second.output.splitlines() if "API token" in line]
    old_tokens = [line.split(": ")[1] for line in first.output.splitlines() if "API token" in line]
    assert all(user_for_token(session, t) is not None for t in new_tokens)
    assert all(user_for_token(session, t) is None for t in old_tokens)


def move_today_to(monkeypatch, day: date) -> None:
    """Every "today in Paris" of the services becomes ``day`` (noon in Paris)."""

    class MovedClock(datetime):
        @classmethod
        def now(cls, tz=None):
            moment = datetime(day.year, day.month, day.day, 12, tzinfo=fields.PARIS)
            return moment if tz is None else moment.astimezone(tz)

    monkeypatch.setattr(fields, "datetime", MovedClock)
    assert fields.today_in_paris() == day


@pytest.mark.parametrize(
    ("today", "invoices"),
    [
        # The video-protection market MAR-2022-03 ended on 2027-01-31: its camera is left
        # out, the Mairie Connectée modules are still ordered and billed.
        (date(2027, 2, 1), 3),
        (date(2027, 3, 15), 3),
        # Every market of the catalogue has ended: no order, and the demo still loads.
        (date(2029, 1, 15), 0),
    ],
)
def test_demo_loads_whatever_today_is(run, session, monkeypatch, today, invoices):
    assert run("catalog", "load", "catalog").exit_code == 0
    move_today_to(monkeypatch, today)

    result = run("demo")

    assert result.exit_code == 0, result.output
    assert f"demo orders billed last month: {invoices} invoice(s)" in result.output
    assert session.scalar(select(func.count()).select_from(Invoice)) == invoices
    assert "VID-CAM-DOME" not in set(session.scalars(select(OrderLine.sku)))
