"""Use cases of accounts: create users, sign in (throttled), issue and revoke API tokens."""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, bindparam, delete, func, select
from sqlalchemy.orm import Session

from purchasing.audit.services import record_change, snapshot
from purchasing.auth.models import ApiToken, LoginFailure, User
from purchasing.auth.roles import Actor, Role
from purchasing.db import utcnow
from purchasing.errors import Conflict, DomainError, NotFound, ValidationFailed

log = logging.getLogger(__name__)
_hasher = PasswordHasher()
#: Hash checked when the e-mail is unknown, so timing does not reveal which e-mails exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
TOKEN_PREFIX = "ctl_"
MIN_PASSWORD_LENGTH = 10


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_user(
    session: Session,
    *,
    email: str,
    role: Role | str,
    member_id: int | None = None,
    password: str | None = None,
    full_name: str = "",
    created_by: Actor | None,
) -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise ValidationFailed("not a valid e-mail address", field="email")
    try:
        role = Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationFailed(f"unknown role; one of {allowed}", field="role") from None
    if role is Role.MEMBER and member_id is None:
        raise ValidationFailed("a member user must be bound to a member", field="member_id")
    if role is not Role.MEMBER and member_id is not None:
        raise ValidationFailed("only a member user is bound to a member", field="member_id")
    if member_id is not None:
        from purchasing.members.models import Member  # members sits below auth's users

        if session.get(Member, member_id) is None:
            raise ValidationFailed(f"no member with id {member_id}", field="member_id")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"at least {MIN_PASSWORD_LENGTH} characters", field="password")
    if session.scalar(select(func.count()).where(User.email == email)):
        raise Conflict("a user with this e-mail already exists", field="email")
    user = User(
        email=email,
        role=role,
        member_id=member_id,
        full_name=full_name,
        password_hash=_hasher.hash(password) if password else None,
    )
    session.add(user)
    session.flush()
    record_change(
        session,
        actor=created_by,
        action="user.created",
        entity="user",
        entity_id=user.id,
        after=snapshot(user, exclude=frozenset({"password_hash"})),
    )
    session.commit()
    return user


@dataclass(frozen=True)
class LoginThrottle:
    """How many failed sign-ins within ``window`` make an account, or a client address,
    wait: an address gets more, as a town hall's agents share one."""

    window: timedelta = timedelta(minutes=15)
    per_account: int = 5
    per_address: int = 20


class TooManyLoginFailures(DomainError):
    """Sign-ins are refused for a while: too many recent failures for the account or
    from the client address."""

    status_code = 429

    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after = retry_after
        self.minutes = max(1, math.ceil(retry_after.total_seconds() / 60))
        super().__init__(
            f"too many failed sign-ins: try again in {self.minutes} minute(s)", field="email"
        )


def sign_in(
    session: Session,
    email: str,
    password: str,
    *,
    address: str,
    throttle: LoginThrottle,
    now: datetime | None = None,
) -> User | None:
    """The active user with this e-mail and password, or None (the failure is counted).

    While the account or the address has ``throttle``'s number of failures within its
    window, every attempt is refused with :class:`TooManyLoginFailures` before the
    password is even checked, so guessing goes no faster than the throttle allows. The
    failures are rows in the database: every process answering sign-ins sees them.
    """
    now = now or utcnow()
    email = email.strip().lower()[:254]
    address = address[:45]
    since = now - throttle.window
    waits = [
        _wait(session, LoginFailure.email == email, throttle.per_account, since, now),
        _wait(session, LoginFailure.address == address, throttle.per_address, since, now),
    ]
    if any(waits):
        log.warning("sign-in refused (throttled) for %s from %s", email, address)
        raise TooManyLoginFailures(max(wait for wait in waits if wait is not None))
    user = _check_password(session, email, password)
    # Who tried, from where, and the outcome; never what was typed as the password.
    log.info("sign-in %s for %s from %s", "failed" if user is None else "ok", email, address)
    if user is None:
        # Failures older than the window count no more: forget them as new ones come.
        session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= since))
        session.add(LoginFailure(email=email, address=address, failed_at=now))
    else:
        session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    session.commit()
    return user


def _wait(
    session: Session, of: ColumnElement[bool], limit: int, since: datetime, now: datetime
) -> timedelta | None:
    """How long until fewer than ``limit`` failures matching ``of`` fall in the window,
    or None when that is already so."""
    # The limit-th most recent failure in the window: once it leaves the window, the
    # count drops below the limit.
    oldest_counted = session.scalar(
        select(LoginFailure.failed_at)
        .where(of, LoginFailure.failed_at > since)
        .order_by(LoginFailure.failed_at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    if oldest_counted is None:
        return None
    return oldest_counted - since


def _check_password(session: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None; an outdated hash is
    replaced (the caller commits)."""
    user = session.scalar(select(User).where(User.email == email))
    if user is None or user.password_hash is None:
        _verify(_DUMMY_HASH, password)
        return None
    if not _verify(user.password_hash, password) or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def issue_token(
    session: Session, *, user_id: int, label: str = "", issued_by: Actor | None
) -> IssuedToken:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}", field="user_id")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_hash=hash_token(secret), label=label)
    session.add(token)
    session.flush()
    record_change(
        session,
        actor=issued_by,
        action="token.issued",
        entity="api_token",
        entity_id=token.id,
        after={"user_id": user.id, "label": label},
    )
    session.commit()
    return IssuedToken(token=token, secret=secret)


def list_tokens(session: Session, *, user_id: int) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)
    return list(session.scalars(query))


def revoke_token(session: Session, *, token_id: int, revoked_by: Actor | None) -> ApiToken:
    """Revoke a token: its owner or an admin may; None is an operator command."""
    token = session.get(ApiToken, token_id)
    allowed = (
        (revoked_by is None or revoked_by.role is Role.ADMIN or token.user_id == revoked_by.id)
        if token is not None
        else False
    )
    if not allowed:
        raise NotFound(f"no token with id {token_id}", field="token_id")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record_change(
            session,
            actor=revoked_by,
            action="token.revoked",
            entity="api_token",
            entity_id=token.id,
            after={"revoked_at": token.revoked_at.isoformat()},
        )
        session.commit()
    return token


def user_for_token(session: Session, secret: str) -> User | None:
    """The active user holding this bearer token, if it is valid and not revoked."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    return session.scalar(_USER_FOR_TOKEN, {"token_hash": hash_token(secret)})


#: One query on the unique hash, run on every API call, so a revocation or a deactivation
#: takes effect at once; built once, as every call runs it.
_USER_FOR_TOKEN = (
    select(User)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(
        ApiToken.token_hash == bindparam("token_hash"),
        ApiToken.revoked_at.is_(None),
        User.active.is_(True),
    )
)
