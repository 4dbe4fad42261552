"""Benchmark: what one API request costs in one process, in CPU milliseconds and SQL statements.

    .venv/bin/python bench/api_requests.py                  # 200 requests a scenario, 7 rounds
    .venv/bin/python bench/api_requests.py --requests 500 --rounds 3
    .venv/bin/python bench/api_requests.py --profile "order placement"   # cProfile's top 30

The data set of ``bench/api_load.py`` (PostgreSQL of ``BENCH_POSTGRES_URL``, database
``bench_api_requests``, dropped at the end), driven through the application itself by
Flask's test client: no server, no socket, no load generator. What ``bench/api_load.py``
measures under load is here measured alone, so that a change's effect on the CPU an
answer costs can be read without the noise of a saturated machine:

- catalogue reads: ``GET /api/v1/catalog/products?per_page=20`` by member agents in turn;
- order placement: ``POST /api/v1/orders`` with the two lines of ``bench/api_load.py``.

Each round sends ``--requests`` requests of a scenario; the figure printed is the lowest
round's CPU per request (``time.process_time``, this process only: the database server's
is not counted) and the SQL statements a request cost. Every answer must be the expected
one. On two cores, 200 orders/s leave 10 ms of CPU per order for the workers and the
database server together, and 1 000 reads/s leave 2 ms per read.
"""

from __future__ import annotations

import argparse
import sys
import time

import _support as support  # bench/, on the path of a script run from it
from api_load import ORDER, SCENARIOS
from api_load import build as build_data_set

DATABASE = "bench_api_requests"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="per round and scenario")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--profile", choices=sorted(SCENARIOS), help="print cProfile's top 30, CPU time"
    )
    args = parser.parse_args()
    unavailable = support.postgres_available()
    if unavailable:
        print(f"API requests: skipped, PostgreSQL unreachable ({unavailable})")
        return 0

    url = support.create_database(DATABASE)
    try:
        readers, orderers = build_data_set(url)
        app, statements = _app(url)
        client = app.test_client()
        print(
            f"API requests: Flask test client, PostgreSQL, {len(readers)} member agents "
            f"({len(orderers)} ordering), {args.rounds} rounds of {args.requests} "
            "requests a scenario, lowest round"
        )
        failed = False
        for name, (method, path, status, _rate, _p99) in SCENARIOS.items():
            tokens = orderers if method == "POST" else readers
            send = _sender(client, method, path, tokens)
            send(0)  # the first request warms what a worker keeps (caches, prepared plans)
            best_cpu, best_statements, wrong = float("inf"), 0.0, 0
            for round_ in range(args.rounds):
                before_statements, before_cpu = statements[0], time.process_time()
                answers = [send(round_ * args.requests + i) for i in range(args.requests)]
                cpu = (time.process_time() - before_cpu) / args.requests
                wrong += sum(answer != status for answer in answers)
                if cpu < best_cpu:
                    best_cpu = cpu
                    best_statements = (statements[0] - before_statements) / args.requests
            print(
                f"  {name:<18} {best_cpu * 1000:6.2f} ms CPU a request, "
                f"{best_statements:4.1f} SQL statements"
                + (f", {wrong} unexpected answer(s)" if wrong else "")
            )
            failed |= wrong > 0
            if args.profile == name:
                _print_profile(send, args.requests)
    finally:
        support.drop_database(DATABASE)
    return 1 if failed else 0


def _app(url: str):
    """The application on ``url``, and a one-item list counting the SQL statements it runs."""
    from sqlalchemy import event

    from purchasing import create_app

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret"})
    statements = [0]

    def count(*_args) -> None:
        statements[0] += 1

    event.listen(app.extensions["centrale.engine"], "before_cursor_execute", count)
    return app, statements


def _sender(client, method: str, path: str, tokens: list[str]):
    """A function sending request number ``i`` as the ``i``-th agent in turn; its status."""
    import json

    body = json.dumps(ORDER) if method == "POST" else None

    def send(i: int) -> int:
        response = client.open(
            path,
            method=method,
            data=body,
            headers={
                "Authorization": f"Bearer {tokens[i % len(tokens)]}",
                "Content-Type": "application/json",
            },
        )
        return response.status_code

    return send


def _print_profile(send, requests: int) -> None:
    with support.cpu_profile():
        for i in range(requests):
            send(i)


if __name__ == "__main__":
    sys.exit(main())
