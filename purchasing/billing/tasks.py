"""Celery tasks of billing: a billing run, and the rendering of a slice of its PDFs.

The run task is the run's coordinator: it invoices the members a group at a time, as in
process (:func:`~.run.carry_out_billing_run`), and hands each group's documents to the
render task in slices (``CELERY_RENDER_CHUNK``), on as many workers as serve the
``render`` queue, then stores what comes back in the group's transaction. The render task
is a pure function of the documents: it reads no database, so any machine that has the
code and the fonts can render.

Documents travel as JSON (:func:`document_to_json`), PDFs and XML base64-encoded; the
coordinator checks each PDF against the SHA-256 its renderer computed before storing it.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import types
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Union, get_args, get_origin, get_type_hints

from celery import group, shared_task
from flask import current_app

from purchasing.billing.document import InvoiceDocument
from purchasing.billing.rendering import RenderedInvoice, check_renderer, render_elsewhere
from purchasing.celery_app import RENDER_QUEUE, RENDER_TASK, RUN_TASK

#: How long a run waits for the PDFs of one group before it gives up (and fails).
RENDER_TIMEOUT_SECONDS = 600


@shared_task(name=RUN_TASK)
def run_billing_task(
    run_id: int, started_by: dict[str, Any] | None = None, issue_date: str | None = None
) -> dict[str, int]:
    """Carry out the started billing run ``run_id`` (see :mod:`.dispatch`)."""
    from purchasing.billing.dispatch import carry_out_in_worker

    return carry_out_in_worker(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        run_id,
        started_by=started_by,
        issue_date=date.fromisoformat(issue_date) if issue_date else None,
    )


@shared_task(name=RENDER_TASK)
def render_invoices_task(documents: list[dict[str, Any]], renderer: str) -> list[dict[str, str]]:
    """The PDFs of ``documents`` (JSON, see :func:`document_to_json`), in order."""
    rendered = render_elsewhere(
        [document_from_json(data) for data in documents], check_renderer(renderer)
    )
    return [rendered_to_json(item) for item in rendered]


class CeleryRenderer:
    """Renders a group's documents on the Celery workers serving the ``render`` queue,
    ``chunk`` documents per task, and waits for all of them (in order)."""

    def __init__(self, *, renderer: str, chunk: int, timeout: float = RENDER_TIMEOUT_SECONDS):
        self.renderer = check_renderer(renderer)
        self.chunk = max(1, chunk)
        self.timeout = timeout

    def __call__(self, documents: Sequence[InvoiceDocument]) -> list[RenderedInvoice]:
        return self.submit(documents)()

    def submit(self, documents: Iterable[InvoiceDocument]) -> Callable[[], list[RenderedInvoice]]:
        """Send ``documents`` to the workers; what to call for the PDFs, in order."""
        documents = list(documents)  # sent together, as one group of tasks
        slices = [
            [document_to_json(doc) for doc in documents[start : start + self.chunk]]
            for start in range(0, len(documents), self.chunk)
        ]
        job = group(
            render_invoices_task.s(part, self.renderer).set(queue=RENDER_QUEUE) for part in slices
        ).apply_async()

        def collect() -> list[RenderedInvoice]:
            try:
                # The run's own task waits for its subtasks on purpose: it holds the
                # group's transaction, and with it the numbers the PDFs carry.
                results = job.get(timeout=self.timeout, disable_sync_subtasks=False)
            finally:
                job.forget()
            return [rendered_from_json(item) for part in results for item in part]

        return collect


# --- Documents as JSON ------------------------------------------------------------------


def document_to_json(doc: InvoiceDocument) -> dict[str, Any]:
    """``doc`` as JSON values: Decimals and dates as strings, enums as their values."""
    return _encode(doc)


def document_from_json(data: dict[str, Any]) -> InvoiceDocument:
    """The document :func:`document_to_json` wrote, field types read from its class."""
    return _decode(InvoiceDocument, data)


def rendered_to_json(rendered: RenderedInvoice) -> dict[str, str]:
    return {
        "pdf": base64.b64encode(rendered.pdf).decode("ascii"),
        "xml": base64.b64encode(rendered.xml).decode("ascii"),
        "sha256": rendered.sha256,
    }


def rendered_from_json(data: dict[str, str]) -> RenderedInvoice:
    return RenderedInvoice(
        pdf=base64.b64decode(data["pdf"]),
        xml=base64.b64decode(data["xml"]),
        sha256=data["sha256"],
    )


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _encode(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal | date):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if isinstance(value, tuple | list):
        return [_encode(item) for item in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    raise TypeError(f"cannot send {type(value).__name__} to a worker: {value!r}")


def _decode(kind: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        (inner,) = [arg for arg in get_args(kind) if arg is not type(None)]
        return _decode(inner, data)
    if origin is tuple:
        return tuple(_decode(get_args(kind)[0], item) for item in data)
    if dataclasses.is_dataclass(kind):
        hints = get_type_hints(kind)
        return kind(**{name: _decode(hints[name], value) for name, value in data.items()})
    if kind is Decimal:
        return Decimal(data)
    if kind is date:
        return date.fromisoformat(data)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(data)
    return data
