"""The Celery application, configured from the Flask application's config.

Billing runs and the rendering of their PDFs go to Celery workers when
``CELERY_BROKER_URL`` is set (Redis: ``redis://127.0.0.1:6379/0``); see
:mod:`purchasing.billing.dispatch`. A worker serves both queues::

    CELERY_BROKER_URL=redis://... celery -A purchasing.celery_worker worker -Q billing,render -c 2

and more machines serve the ``render`` queue alone to render a run's PDFs faster
(``-Q render``). A billing run waits for the PDFs of each group of members while its
transaction holds their numbers: a worker serving ``billing`` needs a second process (or
another worker) serving ``render``, or the run waits for nothing and fails at its timeout.

Tasks run inside an application context (the database session of ``purchasing.db``),
exchange JSON only (no pickle: a message never runs code), and their results expire
after an hour.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask

#: Queues: the runs (a coordinator each), and the rendering of their PDFs.
BILLING_QUEUE = "billing"
RENDER_QUEUE = "render"
RUN_TASK = "centrale.billing.run"
RENDER_TASK = "centrale.billing.render_invoices"


def celery_for(app: Flask) -> Celery:
    """The Celery application of ``app``, made on first use from its config."""
    if "celery" in app.extensions:
        return app.extensions["celery"]
    broker = app.config.get("CELERY_BROKER_URL")
    if not broker:
        raise RuntimeError("CELERY_BROKER_URL is not set: billing runs go in-process")

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask, include=["purchasing.billing.tasks"])
    celery.conf.update(
        broker_url=broker,
        result_backend=app.config.get("CELERY_RESULT_BACKEND") or broker,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=3600,
        task_routes={
            RUN_TASK: {"queue": BILLING_QUEUE},
            RENDER_TASK: {"queue": RENDER_QUEUE},
        },
        # A billing run is long: a worker takes one message at a time, and acknowledges
        # it once done, so a worker lost half-way leaves the run to another.
        worker_prefetch_multiplier=1,
        task_acks_late=True,
        broker_connection_retry_on_startup=True,
    )
    app.extensions["celery"] = celery
    return celery
