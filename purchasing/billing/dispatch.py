"""Where a billing run works: on Celery workers, in a thread of this process, or here.

:func:`launch_billing_run` starts the run of a month and returns its id at once, for a
page that then follows its progress (:class:`~.models.BillingRun`). With
``CELERY_BROKER_URL`` set, the run goes to a Celery worker, which renders each group's PDFs
on the workers of the ``render`` queue (:mod:`.tasks`); without, it works in a background
thread of this process, with its own database session, rendering over a pool of
``INVOICE_RENDER_PROCESSES`` processes. :func:`billing_renderer` gives the same choice of
renderer to a caller that runs the billing itself, as ``centrale billing run`` does to show
its progress bar.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from flask import Flask

from purchasing.auth.roles import Actor, Role
from purchasing.billing.rendering import RenderPool
from purchasing.billing.run import (
    BillingRunResult,
    carry_out_billing_run,
    start_billing_run,
)
from purchasing.billing.services import Renderer
from purchasing.billing.settings import settings_from_config

logger = logging.getLogger(__name__)

#: Background runs of this process, by run id: what :func:`wait_for_billing_run` joins.
_THREADS: dict[int, threading.Thread] = {}


@dataclass(frozen=True)
class StartedBy:
    """Who started a run, as the services need it (an :class:`~purchasing.auth.roles.Actor`),
    detached from the session that loaded the user: the run works in another session,
    thread or machine."""

    id: int
    email: str
    role: Role
    member_id: int | None

    @classmethod
    def of(cls, actor: Actor | None) -> StartedBy | None:
        if actor is None:
            return None
        return cls(id=actor.id, email=actor.email, role=Role(actor.role), member_id=actor.member_id)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> StartedBy | None:
        if data is None:
            return None
        return cls(
            id=int(data["id"]),
            email=str(data["email"]),
            role=Role(data["role"]),
            member_id=data.get("member_id"),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"role": self.role.value}


def launch_billing_run(
    app: Flask,
    period: str,
    *,
    started_by: Actor | None,
    issue_date: date | None = None,
) -> int:
    """Start the billing run of ``period`` ("2026-11") and return its id at once.

    The run's row is committed, status ``running`` with its ``members_total``, before this
    returns; the run then works elsewhere: on a Celery worker when ``app`` has a
    ``CELERY_BROKER_URL``, else in a background thread of this process with a session of
    its own. Its ``members_done`` moves on as groups of members are committed; it ends
    ``completed``, or ``failed`` with its ``error``, and running the period again resumes
    it. ``issue_date`` defaults to the day the run works (Paris time).

    Raises ``ValidationFailed`` naming ``period`` for a malformed month: nothing starts.
    ``started_by`` is read now (id, e-mail, role, member), not later.
    """
    starter = StartedBy.of(started_by)
    session = app.extensions["centrale.sessionmaker"]()
    try:
        run_id = start_billing_run(session, period, started_by=starter).id
    finally:
        session.close()
    if app.config.get("CELERY_BROKER_URL"):
        from purchasing.billing.tasks import run_billing_task
        from purchasing.celery_app import BILLING_QUEUE, celery_for

        celery_for(app)
        run_billing_task.apply_async(
            kwargs={
                "run_id": run_id,
                "started_by": starter.to_json() if starter else None,
                "issue_date": issue_date.isoformat() if issue_date else None,
            },
            queue=BILLING_QUEUE,
        )
        return run_id
    thread = threading.Thread(
        target=_carry_out_in_thread,
        args=(app, run_id, starter, issue_date),
        name=f"billing-run-{run_id}",
        daemon=False,  # the process waits for a run to commit its group before it exits
    )
    _THREADS[run_id] = thread
    thread.start()
    return run_id


def wait_for_billing_run(run_id: int, timeout: float | None = None) -> bool:
    """Wait for a run this process started in a thread; False if still working at
    ``timeout``. (A run sent to Celery is followed through its row instead.)"""
    thread = _THREADS.get(run_id)
    if thread is None:
        return True
    thread.join(timeout)
    if thread.is_alive():
        return False
    _THREADS.pop(run_id, None)
    return True


@contextmanager
def billing_renderer(config: Mapping[str, Any]) -> Iterator[Renderer | None]:
    """The renderer a billing run working in this process uses: the Celery workers when
    a broker is configured, else a pool of ``INVOICE_RENDER_PROCESSES`` processes, else
    None (each PDF rendered in the run's own process)."""
    settings = settings_from_config(config)
    if config.get("CELERY_BROKER_URL"):
        from purchasing.billing.tasks import CeleryRenderer

        yield CeleryRenderer(
            renderer=settings.invoice_renderer, chunk=int(config.get("CELERY_RENDER_CHUNK", 10))
        )
        return
    processes = int(config.get("INVOICE_RENDER_PROCESSES", 1))
    if processes <= 1:
        yield None
        return
    with RenderPool(renderer=settings.invoice_renderer, processes=processes) as pool:
        yield pool


def _carry_out_in_thread(
    app: Flask, run_id: int, started_by: StartedBy | None, issue_date: date | None
) -> None:
    session = app.extensions["centrale.sessionmaker"]()
    try:
        with billing_renderer(app.config) as render:
            _carry_out(app, session, run_id, started_by, issue_date, render)
    except Exception:
        # Recorded on the run's row (status failed, error); the log has the traceback.
        logger.exception("billing run %s failed", run_id)
    finally:
        session.close()
        _THREADS.pop(run_id, None)


def carry_out_in_worker(
    app: Flask, run_id: int, *, started_by: Mapping[str, Any] | None, issue_date: date | None
) -> dict[str, int]:
    """The Celery run task's work: the run in the worker's session, its PDFs rendered on
    the ``render`` workers. What it did, for the task's result."""
    from purchasing.billing.tasks import CeleryRenderer
    from purchasing.db import get_session

    settings = settings_from_config(app.config)
    render = CeleryRenderer(
        renderer=settings.invoice_renderer, chunk=int(app.config.get("CELERY_RENDER_CHUNK", 10))
    )
    result = _carry_out(
        app, get_session(), run_id, StartedBy.from_json(started_by), issue_date, render
    )
    return {"run_id": run_id, "invoices": len(result.issued), "members": result.members_seen}


def _carry_out(
    app: Flask,
    session: Any,
    run_id: int,
    started_by: StartedBy | None,
    issue_date: date | None,
    render: Renderer | None,
) -> BillingRunResult:
    return carry_out_billing_run(
        session,
        run_id,
        settings=settings_from_config(app.config),
        started_by=started_by,
        issue_date=issue_date,
        render=render,
        chunk_members=int(app.config.get("BILLING_RUN_CHUNK", 50)),
    )
