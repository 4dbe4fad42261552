"""Load the catalogue from its YAML files, all or nothing.

A catalogue directory holds (each file optional, at least one present)::

    accounts.yaml      accounts:  [{number, label}, ...]
    families.yaml      families:  [{code, name, purchase_mode, margin_rate, service_domain,
                                    margin_deliberation, ...}, ...]
    suppliers.yaml     suppliers: [{code, name, siret, ...}, ...]
    markets.yaml       markets:   [{number, title, start_date, end_date,
                                    lots: [{number, title, supplier, yearly_ceiling}]}, ...]
    products/*.yaml    products:  [{sku, ..., market_reference,
                                    prices: [{valid_from, ..., deliberation}, ...]}, ...]

Rows are matched by account number, family code, supplier code, market number (and lot
number within it), product SKU and, within a product, price version start date: a matching
row is updated, a new one created; nothing is ever deleted (a product is withdrawn with
``active: false``). Loading the same files twice changes nothing the second time.

A price version in force keeps its prices and its deliberation for ever: the file may set
its ``valid_to`` or its note, and any other change to it is refused (a new price is a new
version, from a new ``valid_from``). A new version takes its family's margin rate and the
deliberation of that rate, as recorded after this load.

The files hold the tariffs the syndicat adopted: every family cites the deliberation of its
margin rate and every price the deliberation that set it (``"2024-17 du 12/03/2024"``), so
every loaded version is in force (active); a draft awaiting its vote is recorded through
the API. Every product names the market lot it is bought under (``"MAR-2023-01 lot 2"``),
whose holder must be the product's supplier.

Every entry is checked before anything is written: its fields (the schemas in
``schemas.py``), references to families, suppliers, market lots and accounts (in the files
or already in the database), the prices (no overlap with versions in force, no resale below
cost, no change to a version in force...) and the deliberations (one reference, one date).
Any fault refuses the whole load with ``ImportRefused``, each problem located as
``<file>: <entry>: <field>: <message>``, and the database is left as it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from yaml.constructor import ConstructorError

from purchasing.audit.services import record_change, snapshot
from purchasing.auth.roles import Actor
from purchasing.catalog.deliberations import Deliberation, date_clashes
from purchasing.catalog.models import (
    Account,
    AccountKind,
    Market,
    MarketLot,
    PriceVersion,
    PriceVersionStatus,
    Product,
    ProductFamily,
    Supplier,
    lot_reference,
)
from purchasing.catalog.pricing import (
    PriceTerms,
    PurchaseMode,
    Validity,
    overlapping_pairs,
    price_problems,
)
from purchasing.catalog.schemas import (
    AccountEntrySchema,
    FamilyEntrySchema,
    MarketEntrySchema,
    ProductEntrySchema,
    SupplierEntrySchema,
)
from purchasing.catalog.services import recorded_deliberation_dates
from purchasing.db import Base
from purchasing.errors import ImportRefused

#: What the files hold, in loading order.
ENTRY_KINDS = ("accounts", "families", "suppliers", "markets", "products")
#: What the summary counts: the entry kinds, the lots of the markets and the price
#: versions of the products.
KINDS = (*ENTRY_KINDS, "lots", "price_versions")
PRODUCTS_DIR = "products"
#: How a product cites its lot: "MAR-2023-01 lot 2".
_LOT_REFERENCE = re.compile(r"^(?P<market>\S+) lot (?P<lot>\S+)$")


@dataclass(frozen=True)
class _FileKind:
    kind: str
    schema: type[Schema]
    #: The field naming an entry in problem reports.
    id_field: str


_FILE_KINDS = {
    "accounts.yaml": _FileKind("accounts", AccountEntrySchema, "number"),
    "families.yaml": _FileKind("families", FamilyEntrySchema, "code"),
    "suppliers.yaml": _FileKind("suppliers", SupplierEntrySchema, "code"),
    "markets.yaml": _FileKind("markets", MarketEntrySchema, "number"),
}
_PRODUCT_FILES = _FileKind("products", ProductEntrySchema, "sku")


@dataclass
class KindCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def changes(self) -> int:
        return self.created + self.updated


@dataclass(frozen=True)
class LoadSummary:
    """What a load did (or, on a dry run, would do), per kind of row."""

    counts: Mapping[str, KindCounts]
    #: Things an operator should know that are not faults.
    warnings: tuple[str, ...] = ()
    dry_run: bool = False

    @property
    def changes(self) -> int:
        return sum(c.changes for c in self.counts.values())


def load_catalog(
    session: Session, directory: Path | str, *, loaded_by: Actor | None, dry_run: bool = False
) -> LoadSummary:
    """Load the catalogue files of ``directory`` in one transaction; see the module doc.

    ``loaded_by`` is None for the operator command. With ``dry_run`` everything is checked
    and counted, then rolled back.
    """
    directory = Path(directory)
    problems = _Problems()
    entries = _read_directory(directory, problems)
    # Checks across files need every file read: the entries of an unreadable file would
    # only show up again as missing references.
    warnings = [] if entries.unreadable else _check_consistency(session, entries, problems)
    if problems:
        raise ImportRefused(str(directory), problems.lines)
    try:
        counts = _Writer(session, loaded_by).write(entries)
    except BaseException:
        session.rollback()
        raise
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return LoadSummary(counts=counts, warnings=tuple(warnings), dry_run=dry_run)


# --- reading ----------------------------------------------------------------------------


class CatalogYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader, stricter where money and dates are concerned.

    - decimals are read as ``Decimal`` from the digits as written, never through a float;
    - dates stay text, for the schemas to parse (and name the field when they cannot);
    - a key given twice in one mapping is an error (PyYAML would keep the last silently).
    """

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:  # unhashable: the parent class reports it
                    continue
                if duplicate:
                    raise ConstructorError(
                        None, None, f"key {key!r} appears twice", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal | str:
    text = loader.construct_scalar(node)
    try:
        return Decimal(text.replace("_", ""))
    except InvalidOperation:
        return text  # .inf, sexagesimal...: the schema refuses it as "not a valid number"


CatalogYamlLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
CatalogYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


@dataclass(frozen=True)
class _Entry:
    file: str
    #: The entry's id (SKU, code, number) or its position, as problem reports name it.
    ref: str
    data: dict[str, Any]


@dataclass
class _Entries:
    by_kind: dict[str, list[_Entry]] = field(
        default_factory=lambda: {kind: [] for kind in ENTRY_KINDS}
    )
    #: Ids of entries present in a file but refused: references to them are not reported
    #: again as missing.
    refused_ids: dict[str, set[str]] = field(
        default_factory=lambda: {kind: set() for kind in ENTRY_KINDS}
    )
    #: A file could not be read as a list of entries.
    unreadable: bool = False

    def __getitem__(self, kind: str) -> list[_Entry]:
        return self.by_kind[kind]


class _Problems:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.lines)

    def add(self, file: str, ref: str, field_name: str, message: str) -> None:
        self.lines.append(f"{file}: {ref}: {field_name}: {message}")

    def add_file(self, file: str, message: str) -> None:
        self.lines.append(f"{file}: {message}")


def _read_directory(directory: Path, problems: _Problems) -> _Entries:
    if not directory.is_dir():
        raise ImportRefused(str(directory), [f"{directory}: not a directory"])
    entries = _Entries()
    found = False
    expected = (
        "expected accounts.yaml, families.yaml, suppliers.yaml, markets.yaml or products/*.yaml"
    )
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.suffix in {".yaml", ".yml"}:
            if path.name not in _FILE_KINDS:
                problems.add_file(path.name, f"unexpected file: {expected}")
                continue
            found = True
            _read_file(path, path.name, _FILE_KINDS[path.name], entries, problems)
    products_dir = directory / PRODUCTS_DIR
    if products_dir.is_dir():
        for path in sorted(products_dir.iterdir()):
            label = f"{PRODUCTS_DIR}/{path.name}"
            if path.is_file() and path.suffix == ".yml":
                problems.add_file(label, "unexpected file: product files end in .yaml")
            elif path.is_file() and path.suffix == ".yaml":
                found = True
                _read_file(path, label, _PRODUCT_FILES, entries, problems)
    if not found and not problems:
        problems.add_file(str(directory), f"no catalogue file: {expected}")
    _check_duplicates(entries, problems)
    return entries


def _read_file(
    path: Path, label: str, file_kind: _FileKind, entries: _Entries, problems: _Problems
) -> None:
    kind = file_kind.kind
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=CatalogYamlLoader)
    except UnicodeDecodeError:
        problems.add_file(label, "not UTF-8 text")
        entries.unreadable = True
        return
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problems.add_file(label, f"{where}: {exc.problem or exc.context}")
        entries.unreadable = True
        return
    except yaml.YAMLError as exc:
        problems.add_file(label, f"not valid YAML: {exc}")
        entries.unreadable = True
        return
    if not isinstance(document, dict) or list(document) != [kind]:
        problems.add_file(label, f"expected a single top-level key '{kind}:' holding a list")
        entries.unreadable = True
        return
    raw_entries = document[kind]
    if not isinstance(raw_entries, list):
        problems.add_file(label, f"'{kind}' must be a list of entries")
        entries.unreadable = True
        return
    schema = file_kind.schema()
    for position, raw in enumerate(raw_entries, start=1):
        ref = _entry_ref(raw, file_kind.id_field, position)
        if not isinstance(raw, dict):
            problems.add(label, ref, "entry", "must be a mapping of fields")
            continue
        try:
            data = schema.load(raw)
        except ValidationError as exc:
            for field_name, message in _flatten(exc.messages):
                problems.add(label, ref, field_name, message)
            entries.refused_ids[kind].add(ref)
            continue
        entries[kind].append(_Entry(file=label, ref=ref, data=data))


def _entry_ref(raw: Any, id_field: str, position: int) -> str:
    value = raw.get(id_field) if isinstance(raw, dict) else None
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return f"entry {position}"


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
        yield path or "entry", str(messages)


def _check_duplicates(entries: _Entries, problems: _Problems) -> None:
    id_fields = {
        "accounts": "number",
        "families": "code",
        "suppliers": "code",
        "markets": "number",
        "products": "sku",
    }
    for kind, id_field in id_fields.items():
        first_seen: dict[str, _Entry] = {}
        for entry in entries[kind]:
            key = entry.data[id_field]
            if key in first_seen:
                where = first_seen[key].file
                problems.add(entry.file, entry.ref, id_field, f"duplicate: already in {where}")
            else:
                first_seen[key] = entry


# --- checking against each other and the database ---------------------------------------


def _check_consistency(session: Session, entries: _Entries, problems: _Problems) -> list[str]:
    """Check references and prices across files and the database; return warnings."""
    chart = {a.number: a.kind for a in session.scalars(select(Account))}
    chart.update(
        {e.data["number"]: AccountKind.of_number(e.data["number"]) for e in entries["accounts"]}
    )
    db_families = {f.code: f for f in session.scalars(select(ProductFamily))}
    modes = {code: f.purchase_mode for code, f in db_families.items()}
    modes.update({e.data["code"]: e.data["purchase_mode"] for e in entries["families"]})
    sirets = dict(session.execute(select(Supplier.code, Supplier.siret)).tuples().all())
    sirets.update({e.data["code"]: e.data["siret"] for e in entries["suppliers"]})
    known_suppliers = set(sirets) | entries.refused_ids["suppliers"]
    db_products = _products_with_versions(session)

    refused = entries.refused_ids

    def check_account(entry: _Entry, field_name: str, expected: AccountKind) -> None:
        number = entry.data[field_name]
        if number is None or number in refused["accounts"]:
            return
        if number not in chart:
            message = f"no account {number} in accounts.yaml nor in the database"
        elif chart[number] is not expected:
            message = f"account {number} is a {chart[number]} account; {expected} needed"
        elif any(other != number and other.startswith(number) for other in chart):
            message = f"account {number} is a heading: use one of its sub-accounts"
        else:
            return
        problems.add(entry.file, entry.ref, field_name, message)

    warnings = []
    for entry in entries["families"]:
        check_account(entry, "sales_account", AccountKind.REVENUE)
        check_account(entry, "purchase_account", AccountKind.EXPENSE)
        if entry.data["service_domain"] is None:
            problems.add(
                entry.file,
                entry.ref,
                "service_domain",
                "required: the service domain a member joins to order the family's items",
            )
        if entry.data["margin_deliberation"] is None:
            problems.add(
                entry.file,
                entry.ref,
                "margin_deliberation",
                'required: the deliberation setting the margin rate, "2024-17 du 12/03/2024"',
            )
        current = db_families.get(entry.data["code"])
        if current is not None and current.margin_rate != entry.data["margin_rate"]:
            warnings.append(
                f"family {current.code}: margin rate {current.margin_rate} -> "
                f"{entry.data['margin_rate']}; price versions already recorded keep the rate "
                "they were recorded with: add versions to reprice"
            )

    for entry in entries["suppliers"]:
        code, siret = entry.data["code"], entry.data["siret"]
        holders = sorted(other for other, number in sirets.items() if number == siret)
        if holders != [code]:
            others = ", ".join(other for other in holders if other != code)
            problems.add(entry.file, entry.ref, "siret", f"also the SIRET of supplier {others}")

    for entry in entries["markets"]:
        for position, lot in enumerate(entry.data["lots"], start=1):
            if lot["supplier"] not in known_suppliers:
                problems.add(
                    entry.file,
                    entry.ref,
                    f"lots[{position}].supplier",
                    f"no supplier {lot['supplier']!r} in suppliers.yaml nor in the database",
                )

    holders = _lot_holders(session)
    for entry in entries["markets"]:
        for lot in entry.data["lots"]:
            holders[(entry.data["number"], lot["number"])] = lot["supplier"]

    for entry in entries["products"]:
        data = entry.data
        check_account(entry, "sales_account", AccountKind.REVENUE)
        check_account(entry, "purchase_account", AccountKind.EXPENSE)
        if data["supplier"] not in known_suppliers:
            problems.add(
                entry.file,
                entry.ref,
                "supplier",
                f"no supplier {data['supplier']!r} in suppliers.yaml nor in the database",
            )
        _check_lot(entry, holders, refused["markets"], problems, known_suppliers=known_suppliers)
        for position, price in enumerate(data["prices"], start=1):
            if price["deliberation"] is None:
                problems.add(
                    entry.file,
                    entry.ref,
                    f"prices[{position}].deliberation",
                    'required: the deliberation that set these prices, "2024-17 du 12/03/2024"',
                )
        mode = modes.get(data["family"])
        if data["family"] in refused["families"]:
            continue  # its entry's own problems are reported; prices need its mode
        if mode is None:
            problems.add(
                entry.file,
                entry.ref,
                "family",
                f"no family {data['family']!r} in families.yaml nor in the database",
            )
        else:
            _check_prices(entry, mode, db_products.get(data["sku"]), problems)
    _check_deliberation_dates(session, entries, problems)
    return warnings


def _lot_holders(session: Session) -> dict[tuple[str, str], str]:
    """The holder's supplier code of each recorded lot, by (market number, lot number)."""
    rows = session.execute(
        select(Market.number, MarketLot.number, Supplier.code)
        .join(MarketLot, MarketLot.market_id == Market.id)
        .join(Supplier, MarketLot.supplier_id == Supplier.id)
    ).tuples()
    return {(market, lot): supplier for market, lot, supplier in rows}


def _check_lot(
    entry: _Entry,
    holders: dict[tuple[str, str], str],
    refused_markets: set[str],
    problems: _Problems,
    *,
    known_suppliers: set[str],
) -> None:
    """The product's ``market_reference`` names a lot held by the product's supplier (when
    both suppliers are known: an unknown one is reported already)."""
    reference = entry.data["market_reference"]
    match = _LOT_REFERENCE.match(reference)
    if match is None:
        problems.add(
            entry.file,
            entry.ref,
            "market_reference",
            'the market number, " lot ", the lot number: "MAR-2023-01 lot 2"',
        )
        return
    if match["market"] in refused_markets:
        return  # the market's own problems are reported
    holder = holders.get((match["market"], match["lot"]))
    if holder is None:
        problems.add(
            entry.file,
            entry.ref,
            "market_reference",
            f"no lot {match['lot']} of market {match['market']} in markets.yaml nor in the "
            "database",
        )
    elif holder != entry.data["supplier"] and {holder, entry.data["supplier"]} <= known_suppliers:
        problems.add(
            entry.file,
            entry.ref,
            "supplier",
            f"{reference} is held by {holder}: an item is bought from its lot's holder",
        )


def _check_deliberation_dates(session: Session, entries: _Entries, problems: _Problems) -> None:
    """A deliberation reference names one act: the files and the database agree on its date."""
    cited: list[tuple[_Entry, str, Deliberation]] = []
    for entry in entries["families"]:
        if entry.data["margin_deliberation"] is not None:
            cited.append((entry, "margin_deliberation", entry.data["margin_deliberation"]))
    for entry in entries["products"]:
        for position, price in enumerate(entry.data["prices"], start=1):
            if price["deliberation"] is not None:
                cited.append((entry, f"prices[{position}].deliberation", price["deliberation"]))
    recorded = recorded_deliberation_dates(session)
    clashes = date_clashes(deliberation for _entry, _field, deliberation in cited)
    for entry, field_name, deliberation in cited:
        known = recorded.get(deliberation.reference)
        if known is not None and known != deliberation.adopted_on:
            message = f"recorded in the database as adopted on {known.isoformat()}"
        elif deliberation.reference in clashes:
            dates = sorted(day.isoformat() for day in clashes[deliberation.reference])
            message = f"cited in the files with different dates ({', '.join(dates)})"
        else:
            continue
        problems.add(
            entry.file, entry.ref, field_name, f"deliberation {deliberation.reference}: {message}"
        )


def _check_prices(
    entry: _Entry, mode: PurchaseMode, existing: Product | None, problems: _Problems
) -> None:
    billing = entry.data["billing"]
    for position, price in enumerate(entry.data["prices"], start=1):
        terms = PriceTerms(
            supplier_cost=price["supplier_cost"],
            sale_price=price["sale_price"],
            setup_fee_cost=price["setup_fee_cost"],
            setup_fee_price=price["setup_fee_price"],
        )
        for field_name, message in price_problems(
            terms, purchase_mode=mode, billing=billing
        ).items():
            problems.add(entry.file, entry.ref, f"prices[{position}].{field_name}", message)

    _check_versions_in_force_unchanged(entry, existing, problems)

    # The versions in force the product will have: those recorded, updated or joined by
    # the file's (all in force). Drafts recorded through the API do not count: they are
    # checked when put in force, and one starting on a file's day becomes that version.
    versions: dict[date, tuple[str | None, Validity]] = {}
    for version in existing.active_price_versions if existing is not None else ():
        versions[version.valid_from] = (None, version.validity)
    starts: dict[date, str] = {}
    for position, price in enumerate(entry.data["prices"], start=1):
        label = f"prices[{position}]"
        start = price["valid_from"]
        if start in starts:
            problems.add(
                entry.file, entry.ref, f"{label}.valid_from", f"same start as {starts[start]}"
            )
            continue
        starts[start] = label
        versions[start] = (label, Validity(start, price["valid_to"]))

    merged = list(versions.values())
    for first, second in overlapping_pairs([validity for _label, validity in merged]):
        (label_a, period_a), (label_b, period_b) = merged[first], merged[second]
        if label_a is None and label_b is None:  # not the files' doing, but never kept
            problems.add(
                entry.file,
                entry.ref,
                "prices",
                f"versions recorded in the database overlap: {period_a} and {period_b}",
            )
        elif label_b is not None:
            other = label_a or "the version recorded in the database"
            problems.add(
                entry.file, entry.ref, f"{label_b}.valid_from", f"overlaps {other} ({period_a})"
            )
        else:  # a recorded version overlapped by an earlier one of the file
            problems.add(
                entry.file,
                entry.ref,
                f"{label_a}.valid_to",
                f"overlaps the version recorded in the database ({period_b})",
            )


#: What a version in force keeps for ever: its prices and the deliberation that set them.
_FROZEN_PRICE_FIELDS = (
    "supplier_cost",
    "sale_price",
    "setup_fee_cost",
    "setup_fee_price",
    "deliberation",
)


def _check_versions_in_force_unchanged(
    entry: _Entry, existing: Product | None, problems: _Problems
) -> None:
    """A version in force keeps the prices and the deliberation it was adopted with (see
    ``deliberations.py``): the file may close it (``valid_to``) or reword its note, but a
    new price is a new version, from a new ``valid_from``. A draft recorded through the
    API may still be changed: it becomes the file's version."""
    if existing is None:
        return
    in_force = {version.valid_from: version for version in existing.active_price_versions}
    for position, price in enumerate(entry.data["prices"], start=1):
        version = in_force.get(price["valid_from"])
        if version is None:
            continue
        for field_name in _FROZEN_PRICE_FIELDS:
            recorded, given = getattr(version, field_name), price[field_name]
            if field_name == "deliberation" and given is None:
                continue  # reported as required
            if recorded == given:
                continue
            shown = "none" if recorded is None else str(recorded)
            problems.add(
                entry.file,
                entry.ref,
                f"prices[{position}].{field_name}",
                f"the version in force from {version.valid_from.isoformat()} has {shown}: "
                "prices in force and their deliberation never change; add a version from "
                "the day the new prices apply",
            )


def _products_with_versions(session: Session) -> dict[str, Product]:
    # populate_existing: a long-lived session may hold versions read before another
    # transaction added some; the checks must see the recorded ones.
    query = (
        select(Product)
        .options(selectinload(Product.price_versions))
        .execution_options(populate_existing=True)
    )
    return {product.sku: product for product in session.scalars(query)}


# --- writing ----------------------------------------------------------------------------


class _Writer:
    """Creates or updates rows from checked entries, with an audit record per change."""

    def __init__(self, session: Session, loaded_by: Actor | None) -> None:
        self.session = session
        self.loaded_by = loaded_by
        self.counts = {kind: KindCounts() for kind in KINDS}

    def write(self, entries: _Entries) -> dict[str, KindCounts]:
        session = self.session
        accounts = {a.number: a for a in session.scalars(select(Account))}
        for entry in entries["accounts"]:
            data = entry.data
            accounts[data["number"]] = self._upsert(
                "accounts", "account", Account, accounts.get(data["number"]), data
            )

        families = {f.code: f for f in session.scalars(select(ProductFamily))}
        for entry in entries["families"]:
            data = entry.data
            values = {
                "code": data["code"],
                "name": data["name"],
                "purchase_mode": data["purchase_mode"],
                "margin_rate": data["margin_rate"],
                "service_domain": data["service_domain"],
                "margin_deliberation": data["margin_deliberation"],
                "sales_account": accounts.get(data["sales_account"]),
                "purchase_account": accounts.get(data["purchase_account"]),
            }
            families[data["code"]] = self._upsert(
                "families", "product_family", ProductFamily, families.get(data["code"]), values
            )

        suppliers = {s.code: s for s in session.scalars(select(Supplier))}
        for entry in entries["suppliers"]:
            data = entry.data
            suppliers[data["code"]] = self._upsert(
                "suppliers", "supplier", Supplier, suppliers.get(data["code"]), data
            )

        markets = {
            m.number: m for m in session.scalars(select(Market).options(selectinload(Market.lots)))
        }
        lots = {lot.reference: lot for market in markets.values() for lot in market.lots}
        for entry in entries["markets"]:
            data = entry.data
            values = {key: value for key, value in data.items() if key != "lots"}
            market = self._upsert("markets", "market", Market, markets.get(data["number"]), values)
            for lot in data["lots"]:
                reference = lot_reference(market.number, lot["number"])
                values = {
                    "market": market,
                    "number": lot["number"],
                    "title": lot["title"],
                    "supplier": suppliers[lot["supplier"]],
                    "yearly_ceiling": lot["yearly_ceiling"],
                }
                lots[reference] = self._upsert(
                    "lots", "market_lot", MarketLot, lots.get(reference), values
                )

        products = _products_with_versions(session)
        for entry in entries["products"]:
            data = entry.data
            values = {key: value for key, value in data.items() if key != "prices"}
            values |= {
                "family": families[data["family"]],
                "supplier": suppliers[data["supplier"]],
                "lot": lots[data["market_reference"]],
                "sales_account": accounts.get(data["sales_account"]),
                "purchase_account": accounts.get(data["purchase_account"]),
            }
            product = self._upsert(
                "products", "product", Product, products.get(data["sku"]), values
            )
            self._write_prices(product, data["prices"])
        return self.counts

    def _write_prices(self, product: Product, prices: list[dict[str, Any]]) -> None:
        recorded = {v.valid_from: v for v in product.price_versions}
        for price in prices:
            existing = recorded.get(price["valid_from"])
            # The files hold adopted tariffs: each version is in force, with its deliberation.
            values = dict(price) | {"status": PriceVersionStatus.ACTIVE}
            if existing is None:
                # The margin in force when the version is recorded, with the deliberation
                # that set it: see PriceVersion.
                family = product.family
                values |= {
                    "product": product,
                    "margin_rate": family.margin_rate,
                    "margin_deliberation": family.margin_deliberation,
                }
            self._upsert("price_versions", "price_version", PriceVersion, existing, values)

    def _upsert(
        self, kind: str, entity: str, model: type[Base], existing: Any, values: dict[str, Any]
    ) -> Any:
        counts = self.counts[kind]
        if existing is None:
            row = model(**values)
            self.session.add(row)
            self.session.flush()
            self._audit(f"{entity}.created", entity, row, after=snapshot(row))
            counts.created += 1
            return row
        changed = {k: v for k, v in values.items() if getattr(existing, k) != v}
        if not changed:
            counts.unchanged += 1
            return existing
        before = snapshot(existing)
        for key, value in changed.items():
            setattr(existing, key, value)
        self.session.flush()
        self._audit(f"{entity}.updated", entity, existing, before=before, after=snapshot(existing))
        counts.updated += 1
        return existing

    def _audit(self, action: str, entity: str, row: Any, **states: dict[str, Any]) -> None:
        record_change(
            self.session,
            actor=self.loaded_by,
            action=action,
            entity=entity,
            entity_id=row.id,
            **states,
        )
