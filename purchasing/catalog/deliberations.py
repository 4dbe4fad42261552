"""The syndicat's deliberations behind its tariffs, as a value: a reference and a date.

Every tariff of the centre is set by a deliberation of the syndicat's committee: the margin
rate of each family, each catalogue price version, each adhesion fee schedule. An auditor
reading any of them must find the act that set it, written as French acts cite each other:
"délibération 2024-17 du 12/03/2024".

**Why a value copied onto each tariff row, not a table of deliberations.** A deliberation
has no life of its own in this service: the syndicat keeps its register elsewhere (its acts
are sent to the prefecture's legality control). What the centre must guarantee is that a
tariff keeps, for ever, the act it was set by: like the prices frozen on an order line, the
reference and the date are copied onto the tariff when it is recorded, so that correcting
a shared register row could never silently change the legal basis of tariffs already
applied. What a table would add, one date per reference, is checked instead where tariffs
are recorded (:func:`date_clashes`): a reference cited twice must carry the same date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

#: Longest reference kept ("2024-17", "DEL-2024-017", "2024/17 bis"...).
REFERENCE_LENGTH = 100

#: "2024-17 du 12/03/2024": the reference, " du ", then the date as French acts write it.
_CITED = re.compile(
    r"^(?P<reference>\S.*?)\s+du\s+(?P<day>\d{1,2})/(?P<month>\d{1,2})/(?P<year>\d{4})$"
)
EXAMPLE = "2024-17 du 12/03/2024"


class NotADeliberation(ValueError):
    """The text is not a deliberation as French acts cite one; the message says how."""


@dataclass(frozen=True)
class Deliberation:
    """A deliberation of the syndicat: its reference and the day it was adopted."""

    reference: str
    adopted_on: date

    def __post_init__(self) -> None:
        reference = (self.reference or "").strip()
        if not reference:
            raise NotADeliberation("a deliberation needs its reference")
        if len(reference) > REFERENCE_LENGTH:
            raise NotADeliberation(f"a reference has at most {REFERENCE_LENGTH} characters")
        object.__setattr__(self, "reference", reference)

    @classmethod
    def parse(cls, text: str) -> Deliberation:
        """Read "2024-17 du 12/03/2024"; ``NotADeliberation`` saying how to write it."""
        match = _CITED.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise NotADeliberation(f'write the reference, then " du " and the date: "{EXAMPLE}"')
        try:
            adopted_on = date(int(match["year"]), int(match["month"]), int(match["day"]))
        except ValueError:
            raise NotADeliberation(
                f"no such date: {match['day']}/{match['month']}/{match['year']}"
            ) from None
        return cls(match["reference"], adopted_on)

    @classmethod
    def of(cls, reference: str | None, adopted_on: date | None) -> Deliberation | None:
        """The deliberation kept in two columns; None when neither is set."""
        if reference is None and adopted_on is None:
            return None
        if reference is None or adopted_on is None:
            raise ValueError("a deliberation's reference and date are set together")
        return cls(reference, adopted_on)

    def __str__(self) -> str:
        return f"{self.reference} du {self.adopted_on:%d/%m/%Y}"


def date_clashes(deliberations: Iterable[Deliberation]) -> dict[str, set[date]]:
    """References cited with more than one date, and those dates: a reference names one act."""
    dates: dict[str, set[date]] = {}
    for deliberation in deliberations:
        dates.setdefault(deliberation.reference, set()).add(deliberation.adopted_on)
    return {reference: days for reference, days in dates.items() if len(days) > 1}


__all__ = ["EXAMPLE", "REFERENCE_LENGTH", "Deliberation", "NotADeliberation", "date_clashes"]
