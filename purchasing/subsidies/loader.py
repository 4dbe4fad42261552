"""Read a programme file: one subsidy programme, its receipts and its reversals, in YAML.

::

    code: FEDER-MC-2024
    name: Mairie connectée pour les petites communes
    funder: Union européenne - FEDER
    aid_label: FEDER-MC-2024 Mairie connectée       # optional, default: the code
    period_start: 2024-01-01
    period_end: 2025-12-31
    grant_total: 577013.94
    envelope: 370835.54                             # the syndicat's own share
    aid_in_vat_base: true                           # optional, default true
    member_kinds: [commune]
    max_population: 3499                            # optional: any population
    aid_kind: rate                                  # rate | fixed_per_unit
    aid_rate: 0.5000                                # or aid_per_unit: 10.00
    aid_cap_per_unit: 100.00                        # optional
    aid_cap_per_line: 1000.00                       # optional
    products: [MC-DOMAINE, MC-MESSAGERIE]
    partners:
      - {code: CDG59, name: ..., share: 103089.20}
    receipts:
      - {received_on: 2024-03-15, amount: 173104.18, reference: ...}
    reversals:
      - {partner: CDG59, reversed_on: 2024-04-15, amount: 103089.20, reference: ...}

Numbers are read exactly as written (never through a float), a key given twice is an
error, and every problem is reported with its field before anything is written
(``ImportRefused``). Loading is done by :func:`purchasing.subsidies.services.load_programme`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError

from purchasing.catalog.loader import CatalogYamlLoader
from purchasing.errors import ImportRefused
from purchasing.subsidies.schemas import ProgrammeFileSchema


def read_programme_file(path: Path) -> dict[str, Any]:
    """The checked content of the programme file at ``path``, or ``ImportRefused``."""
    source = str(path)
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=CatalogYamlLoader)
    except UnicodeDecodeError:
        raise ImportRefused(source, ["not UTF-8 text"]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise ImportRefused(source, [f"{where}: {exc.problem or exc.context}"]) from None
    except yaml.YAMLError as exc:
        raise ImportRefused(source, [f"not valid YAML: {exc}"]) from None
    if not isinstance(document, dict):
        raise ImportRefused(source, ["expected the programme's fields at the top level"])
    try:
        return ProgrammeFileSchema().load(document)
    except ValidationError as exc:
        raise ImportRefused(
            source, [f"{field}: {message}" for field, message in _flatten(exc.messages)]
        ) from None


def _flatten(messages: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Marshmallow's nested messages as (field path, message); list positions from 1."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                sub = path
            elif isinstance(key, int):
                sub = f"{path}[{key + 1}]"
            else:
                sub = f"{path}.{key}" if path else str(key)
            yield from _flatten(value, sub)
    elif isinstance(messages, list):
        for message in messages:
            yield from _flatten(message, path)
    else:
        yield path or "file", str(messages)
