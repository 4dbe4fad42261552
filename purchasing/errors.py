"""Domain errors: named failures that carry field-level messages.

Services raise them; ``purchasing.api`` turns them into HTTP answers in one place, and the
CLI into an error line and a non-zero exit. This module imports nothing of the project.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DomainError(Exception):
    """A refusal the user can act on. ``errors`` maps a field name to its messages."""

    #: HTTP status the API answers with.
    status_code = 422

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        errors: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        merged: dict[str, list[str]] = {k: list(v) for k, v in (errors or {}).items()}
        if field is not None:
            merged.setdefault(field, []).append(message)
        self.errors = merged


class ValidationFailed(DomainError):
    """Input broke a business rule (bad value, missing reference...)."""


class NotFound(DomainError):
    """The object does not exist, or the caller may not know it exists."""

    status_code = 404


class PermissionDenied(DomainError):
    """The caller is known but their role does not allow this action."""

    status_code = 403


class Conflict(DomainError):
    """The request clashes with the current state (duplicate, illegal transition...)."""

    status_code = 409


class InvalidTransition(Conflict):
    """A lifecycle transition that the current status does not allow."""

    def __init__(self, entity: str, current: str, target: str) -> None:
        super().__init__(
            f"{entity} cannot go from '{current}' to '{target}'",
            field="status",
        )
        self.current = current
        self.target = target


class ImportRefused(ValidationFailed):
    """A data file (CSV, YAML) was refused whole; ``problems`` locates each fault."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        super().__init__(
            f"{source}: {len(problems)} problem(s), nothing imported",
            errors={"file": list(problems)},
        )
        self.source = source
        self.problems = list(problems)
