"""Sign-in throttling over time, tokens, and secrets that never reach a log or the trail."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import func, select

from purchasing.audit.models import AuditRecord
from purchasing.auth import services
from purchasing.auth.models import LoginFailure, User
from purchasing.cli import main
from purchasing.db import utcnow
from tests.factories import make_user
from tests.factories.auth import PASSWORD
from tests.web.test_login import _login

THROTTLE = services.LoginThrottle(window=timedelta(minutes=15), per_account=5, per_address=20)


def _sign_in(session, password, *, at, email="compta@example.org", address="192.0.2.1"):
    return services.sign_in(session, email, password, address=address, throttle=THROTTLE, now=at)


def test_the_wait_ends_when_the_fifth_failure_leaves_the_window(session):
    user, _token = make_user(session, role="finance", email="compta@example.org")
    start = utcnow()
    for minute in range(5):
        assert _sign_in(session, "wrong", at=start + timedelta(minutes=minute)) is None

    with pytest.raises(services.TooManyLoginFailures) as refused:
        _sign_in(session, PASSWORD, at=start + timedelta(minutes=14))
    # The first failure (minute 0) leaves the window at minute 15: one minute to wait.
    assert refused.value.retry_after == timedelta(minutes=1)
    assert refused.value.status_code == 429
    assert _sign_in(session, PASSWORD, at=start + timedelta(minutes=15, seconds=1)) == user


def test_refused_attempts_are_not_counted_nor_is_the_password_checked(session):
    make_user(session, role="finance", email="compta@example.org")
    start = utcnow()
    for second in range(5):
        _sign_in(session, "wrong", at=start + timedelta(seconds=second))
    counted = session.scalar(select(func.count()).select_from(LoginFailure))
    for second in range(10, 20):
        with pytest.raises(services.TooManyLoginFailures):
            _sign_in(session, "wrong", at=start + timedelta(seconds=second))
    assert session.scalar(select(func.count()).select_from(LoginFailure)) == counted


def test_failures_older_than_the_window_are_forgotten(session):
    start = utcnow()
    _sign_in(session, "wrong", at=start, email="old@example.org")
    _sign_in(session, "wrong", at=start + timedelta(minutes=16), email="new@example.org")
    emails = set(session.scalars(select(LoginFailure.email)))
    assert emails == {"new@example.org"}


def test_unknown_accounts_count_like_known_ones(session):
    """The throttle does not tell which e-mails have an account."""
    start = utcnow()
    for second in range(5):
        _sign_in(session, "wrong", at=start + timedelta(seconds=second), email="nobody@x.org")
    with pytest.raises(services.TooManyLoginFailures):
        _sign_in(session, "wrong", at=start + timedelta(seconds=9), email="nobody@x.org")


# --- Tokens ------------------------------------------------------------------------------


def test_a_revoked_token_is_refused_everywhere_and_the_revocation_audited(api_as, client, session):
    user, secret = make_user(session, role="admin")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/members", headers=headers).status_code == 200
    token_id = client.get("/api/v1/auth/tokens", headers=headers).json[0]["id"]
    spare = services.issue_token(session, user_id=user.id, issued_by=None).secret

    assert client.delete(f"/api/v1/auth/tokens/{token_id}", headers=headers).status_code == 204
    for path in ("/api/v1/members", "/api/v1/auth/me", "/api/v1/ledger/check"):
        refused = client.get(path, headers=headers)
        assert refused.status_code == 401
        assert refused.json["errors"]["headers"]["Authorization"]
    assert (
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {spare}"}).json["id"]
        == user.id
    )
    revoked = session.scalar(
        select(AuditRecord).where(
            AuditRecord.action == "token.revoked", AuditRecord.entity_id == str(token_id)
        )
    )
    assert revoked is not None and revoked.actor_id == user.id


def test_a_deactivated_users_tokens_stop_working(client, session):
    user, secret = make_user(session, role="finance")
    user.active = False
    session.commit()
    answer = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 401


# --- Passwords never logged --------------------------------------------------------------

SECRET_PASSWORD = "Tr0ub4dor&3-never-logged"


def _everything_logged(records: list[logging.LogRecord]) -> str:
    return "\n".join(
        f"{record.getMessage()} {record.args!r} {record.__dict__!r}" for record in records
    )


def test_passwords_reach_no_log_no_audit_record_and_no_stored_column(app, client, session, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, every level

    with app.app_context():
        created = CliRunner().invoke(
            main,
            [
                "users", "create", "--email", "agent@example.org", "--role", "finance",
                "--password", SECRET_PASSWORD,
            ],
            obj=ScriptInfo(create_app=lambda: app),
        )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert SECRET_PASSWORD not in created.output
    assert _login(client, "agent@example.org", "wrong-" + SECRET_PASSWORD).status_code == 422
    assert _login(client, "agent@example.org", SECRET_PASSWORD).status_code == 302
    make_user(session, role="auditor", password=SECRET_PASSWORD)

    logged = _everything_logged(caplog.records)
    assert "sign-in failed for agent@example.org" in logged  # the capture works
    assert "sign-in ok for agent@example.org" in logged
    assert SECRET_PASSWORD not in logged
    trail = " ".join(
        f"{record.before!r} {record.after!r}" for record in session.scalars(select(AuditRecord))
    )
    assert "user.created" in {r.action for r in session.scalars(select(AuditRecord))}
    assert SECRET_PASSWORD not in trail
    assert "password" not in trail
    stored = session.execute(
        select(User.password_hash).where(User.email == "agent@example.org")
    ).scalar_one()
    assert stored.startswith("$argon2") and SECRET_PASSWORD not in stored
