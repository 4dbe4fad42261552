"""Marshmallow fields and schemas shared by every domain's API and data files.

Amounts and rates travel as strings and are read exactly: a float has already lost the
value a person wrote, and an input with more decimals than the column keeps is refused
rather than silently rounded.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from marshmallow import Schema, ValidationError, fields, validate

#: Largest amount a Numeric(14, 2) column holds.
MAX_AMOUNT = Decimal("999999999999.99")
PARIS = ZoneInfo("Europe/Paris")


def today_in_paris() -> date:
    """Today's date where the centre works: a price list or a period turns at midnight in Paris."""
    return datetime.now(PARIS).date()


class ExactDecimal(fields.Decimal):
    """A decimal read from a string or an integer, never a float, never rounded on input.

    The bounds are checked here rather than by a ``Range`` validator, which OpenAPI would
    render as numeric bounds of what is a string.
    """

    default_error_messages = {
        "float": 'send it as a string, e.g. "1234.56": a JSON or YAML float is inexact',
        "places": "at most {places} decimal places",
        "range": "must be from {low} to {high}",
    }

    def __init__(
        self, *, places: int, low: Decimal, high: Decimal, example: str, **kwargs: Any
    ) -> None:
        metadata = {"type": "string", "format": "decimal", "example": example}
        metadata |= kwargs.pop("metadata", {})
        super().__init__(places=places, as_string=True, metadata=metadata, **kwargs)
        self.max_places = places
        self.low = low
        self.high = high

    def _validated(self, value: Any) -> Decimal:
        if isinstance(value, float):
            raise self.make_error("float")
        if isinstance(value, str | int | Decimal) and not isinstance(value, bool):
            try:
                exponent = Decimal(str(value).strip()).as_tuple().exponent
            except InvalidOperation:
                exponent = 0  # not a number: the parent class names the fault
            if isinstance(exponent, int) and exponent < -self.max_places:
                raise self.make_error("places", places=self.max_places)
        number = super()._validated(value)
        if not self.low <= number <= self.high:
            raise self.make_error("range", low=self.low, high=self.high)
        return number


class Amount(ExactDecimal):
    """An amount in euros, 0 or more (or signed), travelling as a string: "1234.56"."""

    def __init__(self, *, allow_negative: bool = False, **kwargs: Any) -> None:
        low = -MAX_AMOUNT if allow_negative else Decimal(0)
        super().__init__(places=2, low=low, high=MAX_AMOUNT, example="1234.56", **kwargs)


class Rate(ExactDecimal):
    """A rate from 0 to 0.9999, four decimals, travelling as a string: "0.2000" is 20 %."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            places=4, low=Decimal(0), high=Decimal("0.9999"), example="0.2000", **kwargs
        )


class Quantity(ExactDecimal):
    """A quantity, more than 0, at most three decimals (days, metres): "2" or "1.5"."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            places=3, low=Decimal("0.001"), high=Decimal("999999999"), example="2", **kwargs
        )


class StrictBoolean(fields.Boolean):
    """``true`` or ``false`` only: in a data file, 1 or "yes" is more likely a slip."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class _LengthUnlessNone(validate.Length):
    """``Length`` that lets None through: an optional blank text reads as None."""

    def __call__(self, value: Any) -> Any:
        return value if value is None else super().__call__(value)


#: Characters no document may carry: control characters but tab and line breaks, lone
#: surrogates and the two non-characters XML refuses (invoices embed text in Factur-X XML).
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


class Text(fields.String):
    """Trimmed text. Blank is refused when required, None when nullable, else "";
    control characters are refused."""

    default_error_messages = {
        "blank": "may not be blank",
        "unprintable": "may not contain control characters",
    }

    def __init__(self, *, max_length: int | None = None, **kwargs: Any) -> None:
        validators = [_LengthUnlessNone(max=max_length)] if max_length is not None else []
        extra = kwargs.pop("validate", None)
        if extra is not None:
            validators.extend(extra if isinstance(extra, list | tuple) else [extra])
        super().__init__(validate=validators, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if _UNPRINTABLE.search(text):
            raise self.make_error("unprintable")
        if text:
            return text
        if self.required:
            raise self.make_error("blank")
        return None if self.allow_none else ""


#: The largest id an id column holds (32-bit on PostgreSQL).
MAX_ID = 2**31 - 1

#: The last page a list serves: its offset must fit a 64-bit integer on SQLite and PostgreSQL.
MAX_PAGE = 1_000_000


def Id(**kwargs: Any) -> fields.Integer:
    """The id of a row: a whole number from 1 up to what an id column holds; a larger one
    is refused, never looked up (PostgreSQL would fail on it)."""
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class PaginationQuerySchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


__all__ = [
    "MAX_AMOUNT",
    "MAX_ID",
    "Amount",
    "ExactDecimal",
    "Id",
    "PaginationQuerySchema",
    "Quantity",
    "Rate",
    "StrictBoolean",
    "Text",
    "ValidationError",
    "today_in_paris",
]
