"""Helpers shared by the ``centrale`` commands of every domain."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from purchasing.errors import DomainError


def reports_domain_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a DomainError into error lines on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DomainError as exc:
            click.echo(f"error: {exc.message}", err=True)
            for field, messages in exc.errors.items():
                for message in messages:
                    click.echo(f"error: {field}: {message}", err=True)
            sys.exit(1)

    return wrapper
