"""What the benchmarks share: scratch PostgreSQL databases, memory figures, a data set.

Not a benchmark itself (``make bench`` runs the scripts whose name does not start with
an underscore). The data set is written with bulk inserts, the way a migration from the
previous system would load it, and matches what the application writes: members, the
shipped catalogue, one order per member whose recurring lines are commissioned, each line
with its subscription and first quantity, and a FEDER programme in force.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: The server the benchmarks use; a database name is appended.
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def server_url() -> str:
    """``BENCH_POSTGRES_URL`` (a server URL without database), or the local server."""
    return os.environ.get("BENCH_POSTGRES_URL", DEFAULT_SERVER).rstrip("/")


def database_url(name: str) -> str:
    return f"{server_url()}/{name}"


def _admin_engine():
    from sqlalchemy import create_engine

    return create_engine(database_url("postgres"), isolation_level="AUTOCOMMIT")


def create_database(name: str, *, template: str | None = None) -> str:
    """A fresh database ``name`` (dropped first if it exists), optionally a copy of
    ``template``; its URL. Names start with ``bench_``: nothing else is ever dropped."""
    if not name.startswith("bench_"):
        raise ValueError(f"refusing to recreate {name!r}: bench databases start with bench_")
    from sqlalchemy import text

    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        suffix = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
    engine.dispose()
    return database_url(name)


def drop_database(name: str) -> None:
    if not name.startswith("bench_"):
        raise ValueError(f"refusing to drop {name!r}")
    from sqlalchemy import text

    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def postgres_available() -> str | None:
    """None when the benchmark server answers, else why not."""
    try:
        engine = _admin_engine()
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # any driver or network failure: the bench is skipped
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


def peak_megabytes(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident memory (ru_maxrss: kB on Linux, bytes on macOS) of this process, or
    of its largest waited-for child with ``RUSAGE_CHILDREN``."""
    peak = resource.getrusage(who).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def rss_megabytes() -> float:
    """Current resident memory of this process (Linux), for a sampled peak."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def machine_seconds(children_of: int | None = None) -> dict[str, float] | None:
    """CPU seconds used so far by the local PostgreSQL server's processes (and, with
    ``children_of``, by that process's children, e.g. gunicorn's workers), the machine's
    idle seconds (all cores) and the monotonic clock; None off Linux. Two readings tell
    what a phase cost, and whether the cores were all kept busy."""
    proc = Path("/proc")
    if not (proc / "stat").exists():
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    use = {"postgres": 0.0, "children": 0.0}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        if children_of is not None and int(fields[1]) == children_of:
            use["children"] += seconds
        elif name.startswith("postgres"):
            # With the children it reaped (cutime + cstime): the server's total keeps what
            # the backends of closed connections spent.
            use["postgres"] += seconds + (int(fields[13]) + int(fields[14])) / ticks
    use["idle"] = int((proc / "stat").read_text().splitlines()[0].split()[4]) / ticks
    use["wall"] = time.monotonic()
    return use


def seconds_between(before: dict | None, after: dict | None) -> dict[str, float] | None:
    """What :func:`machine_seconds` counted between two readings."""
    if before is None or after is None:
        return None
    return {key: after[key] - before[key] for key in after}


def idle_share(spent: dict[str, float]) -> float:
    """The share of the cores' time they stood idle over ``spent``."""
    return spent["idle"] / (spent["wall"] * (os.cpu_count() or 1))


@contextmanager
def cpu_profile(enabled: bool = True) -> Iterator[None]:
    """cProfile the block, and print its top 30 functions by CPU time once it ends: CPU
    time, as the benchmarks' figures, since a wait on the database server costs this
    process nothing. Disabled, the block runs as it is."""
    if not enabled:
        yield
        return
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
    print(out.getvalue())


def run_child(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a phase of a benchmark in a fresh interpreter, so its memory is its own."""
    return subprocess.run(
        [sys.executable, *args], check=True, capture_output=True, text=True, **kwargs
    )


# --- Data set ---------------------------------------------------------------------------

#: The month billed by the benchmarks, and the day its invoices are issued.
PERIOD = "2026-11"
ISSUE_DATE = date(2026, 11, 30)
ORDER_DATE = date(2026, 10, 15)
#: A programme in force on the issue date, aiding the basic Mairie Connectée services of
#: communes under 3 500 inhabitants (as demo/feder.yaml, moved to the benchmark's year).
BENCH_PROGRAMME = {
    "code": "FEDER-BENCH-2026",
    "name": "Mairie connectée \u2013 programme de mesure",
    "funder": "Union européenne \u2013 Fonds européen de développement régional (FEDER)",
    "aid_label": "FEDER-BENCH-2026 Mairie connectée",
    "period_start": date(2026, 1, 1),
    "period_end": date(2027, 12, 31),
    "grant_total": Decimal("90000000.00"),
    "envelope": Decimal("90000000.00"),
    "aid_in_vat_base": True,
    "member_kinds": ["commune"],
    "max_population": 3499,
    "aid_kind": "rate",
    "aid_rate": Decimal("0.5000"),
    "aid_cap_per_unit": Decimal("100.00"),
    "products": ["MC-DOMAINE", "MC-MESSAGERIE", "MC-SITE", "MC-DEMARCHES", "MC-LEGALITE"],
    "partners": [],
}


@contextmanager
def app_session(url: str) -> Iterator[Any]:
    """A session on ``url`` outside any Flask request (services take a Session)."""
    from sqlalchemy.orm import Session

    from purchasing.db import make_engine

    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        engine.dispose()


def build_schema(url: str) -> None:
    """Every table of the application, on an empty database."""
    from purchasing.db import drop_every_table, make_engine
    from purchasing.models import metadata

    engine = make_engine(url)
    drop_every_table(engine)
    metadata.create_all(engine)
    engine.dispose()


def load_catalogue(session: Any) -> None:
    """The shipped catalogue and chart of accounts, and the benchmark's FEDER programme."""
    from purchasing.catalog.loader import load_catalog
    from purchasing.subsidies.services import load_programme

    load_catalog(session, ROOT / "catalog", loaded_by=None)
    load_programme(session, dict(BENCH_PROGRAMME), loaded_by=None)


def recurring_quotes(session: Any, on: date) -> list[Any]:
    """Price quotes (frozen prices) of the recurring wholesaler products, by SKU."""
    from sqlalchemy import select

    from purchasing.catalog.models import Product
    from purchasing.catalog.pricing import Billing, PurchaseMode
    from purchasing.catalog.services import price_on

    quotes = [
        price_on(session, product_id, on) for product_id in session.scalars(select(Product.id))
    ]
    return sorted(
        (
            quote
            for quote in quotes
            if quote.purchase_mode is PurchaseMode.WHOLESALER
            and quote.billing is not Billing.ONE_OFF
        ),
        key=lambda quote: quote.sku,
    )


def insert_members_with_subscriptions(
    session: Any, *, members: int, subscriptions: int, first: int = 1
) -> list[int]:
    """``members`` members sharing ``subscriptions`` subscriptions, each member with one
    order of recurring items commissioned in the month billed; the members' ids.

    About a third are communes under 3 500 inhabitants (FEDER aid on their basic
    services), one in five needs Chorus Pro references, one line in seven starts
    mid-month (a prorated period) and items with a set-up fee add its line.
    """
    from sqlalchemy import insert, select, text

    from purchasing.members.models import Member, MemberKind
    from purchasing.orders.models import (
        Order,
        OrderLine,
        OrderStatus,
        Subscription,
        SubscriptionQuantity,
    )

    quotes = recurring_quotes(session, ORDER_DATE)
    per_member = [
        subscriptions // members + (1 if i < subscriptions % members else 0) for i in range(members)
    ]
    member_rows = []
    for n in range(first, first + members):
        small = n % 3 == 0
        departement = "59" if n % 2 else "62"
        member_rows.append(
            {
                "name": f"Commune n° {n}",
                "kind": MemberKind.COMMUNE if n % 10 else MemberKind.EPCI,
                "siret": f"2{n:08d}00017",
                "insee_code": f"{departement}{n % 1000:03d}",
                "population": 1_200 if small else 12_000 + n % 50_000,
                "departement_code": departement,
                "address_line1": "Hôtel de Ville",
                "address_line2": f"{n % 90 + 1} place de la République",
                "postal_code": f"{departement}{n % 1000:03d}",
                "city": f"Commune n° {n}",
                "billing_email": f"factures@commune-{n}.example",
                "chorus_service_code": "FINANCES" if n % 5 == 0 else None,
                "chorus_engagement_required": n % 5 == 0,
                "vat_number": None,
            }
        )
    session.execute(insert(Member), member_rows)
    member_ids = list(
        session.scalars(
            select(Member.id)
            .where(Member.siret.in_([row["siret"] for row in member_rows]))
            .order_by(Member.id)
        )
    )
    session.execute(
        insert(Order),
        [
            {
                "reference": f"CMD-2026-{n:06d}",
                "member_id": member_id,
                "order_date": ORDER_DATE,
                "status": OrderStatus.DELIVERED,
                "engagement_number": f"ENG-{n:06d}" if n % 5 == 0 else None,
                "note": "",
            }
            for n, member_id in enumerate(member_ids, start=first)
        ],
    )
    order_ids = dict(
        session.execute(select(Order.member_id, Order.id).where(Order.member_id.in_(member_ids)))
        .tuples()
        .all()
    )
    line_rows, starts = [], []
    counter = 0
    for member_index, member_id in enumerate(member_ids):
        for position in range(1, per_member[member_index] + 1):
            counter += 1
            quote = quotes[(member_index + position) % len(quotes)]
            start = date(2026, 11, 16) if counter % 7 == 0 else date(2026, 11, 1)
            quantity = Decimal(1 + counter % 12)
            line_rows.append(
                _line_values(session, quote)
                | {
                    "order_id": order_ids[member_id],
                    "position": position,
                    "quantity": quantity,
                    "commissioned_on": start,
                    "setup_fee_due_on": start if quote.setup_fee_price is not None else None,
                }
            )
            starts.append((member_id, quote, quantity, start))
    for chunk in _chunks(list(zip(line_rows, starts, strict=True)), 10_000):
        line_ids = session.execute(
            insert(OrderLine).returning(OrderLine.id, sort_by_parameter_order=True),
            [row for row, _start in chunk],
        ).scalars()
        subscription_rows = [
            {
                "member_id": member_id,
                "product_id": quote.product_id,
                "order_line_id": line_id,
                "billing_period": quote.billing,
                "unit_price": quote.sale_price,
                "unit_cost": quote.supplier_cost,
                "vat_rate": quote.vat_rate,
                "subsidy_eligible": quote.subsidy_eligible,
                "start_date": start,
            }
            for line_id, (_row, (member_id, quote, _quantity, start)) in zip(
                line_ids, chunk, strict=True
            )
        ]
        subscription_ids = session.execute(
            insert(Subscription).returning(Subscription.id, sort_by_parameter_order=True),
            subscription_rows,
        ).scalars()
        session.execute(
            insert(SubscriptionQuantity),
            [
                {"subscription_id": subscription_id, "effective_from": start, "quantity": quantity}
                for subscription_id, (_row, (_m, _q, quantity, start)) in zip(
                    subscription_ids, chunk, strict=True
                )
            ],
        )
    session.commit()
    # Statistics, as autovacuum gathers them after a bulk load: without them the planner
    # takes the fresh tables for empty and joins orders to order lines by nested scans
    # (0.3 s a query at 20 000 lines, rather than 1 ms), which no real database does.
    # Of the tables written only, as autovacuum does: a table analyzed while empty (the
    # invoices, before the first run) is planned as empty by every connection that keeps
    # its plans, so that each foreign key check of an invoice line scanned every invoice
    # of the run (22 s of the server's CPU in a run of 5 000), which a database that has
    # never analyzed the empty table, or has invoiced before, does not do.
    # And vacuumed, as autovacuum does a table that took inserts: a database billed once a
    # month reads subscriptions written long before, where a run right after the bulk
    # load would also pay for setting every row's hint bits, writing the pages it reads.
    written = session.scalars(
        text("SELECT relname FROM pg_stat_user_tables WHERE n_mod_since_analyze > 0")
    ).all()
    session.commit()
    with session.get_bind().connect() as connection:
        # VACUUM runs outside a transaction.
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in written:
            connection.execute(text(f'VACUUM ANALYZE "{table}"'))
    return member_ids


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_LINE_VALUES: dict[int, dict[str, Any]] = {}


def _line_values(session: Any, quote: Any) -> dict[str, Any]:
    """The columns of an order line keeping ``quote``'s prices, as the orders domain
    writes them (``OrderLine.priced``), without its order, position and quantity."""
    from sqlalchemy import inspect

    from purchasing.catalog.models import Product
    from purchasing.catalog.orderable import as_orderable
    from purchasing.orders.models import OrderLine

    if quote.price_version_id not in _LINE_VALUES:
        product = as_orderable(session.get(Product, quote.product_id), quote)
        line = OrderLine.priced(product, quantity=Decimal(1), position=1)
        if line in session:
            session.expunge(line)
        values = {}
        for column in inspect(OrderLine).columns:
            if column.key in {"id", "order_id", "position", "quantity"}:
                continue
            value = getattr(line, column.key)
            if value is None and column.default is not None and column.default.is_scalar:
                value = column.default.arg
            values[column.key] = value
        _LINE_VALUES[quote.price_version_id] = values
    return dict(_LINE_VALUES[quote.price_version_id])
