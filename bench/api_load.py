"""Benchmark: the API under load, gunicorn on PostgreSQL, driven by wrk on loopback.

    .venv/bin/python bench/api_load.py                     # 15 s per scenario
    .venv/bin/python bench/api_load.py --seconds 30 --workers 5 --connections 32
    .venv/bin/python bench/api_load.py --worker-class gthread --workers 4 --threads 4

Needs ``wrk`` (Debian: ``apt-get install -y wrk``); without it the benchmark says so and
is skipped. Builds ``bench_api`` on the PostgreSQL server of ``BENCH_POSTGRES_URL`` (the
shipped catalogue, the demo members, one member agent with an API token per member),
serves it with gunicorn on 127.0.0.1 with the settings of ``gunicorn.conf.py`` (one sync
worker per core, which closes each connection after one answer; ``--workers``,
``--worker-class`` and ``--threads`` override them) and runs, each for ``--seconds``
after ``--warmup`` seconds of the same requests that are checked but not counted (a
worker's first requests fill its caches and prepare its statements):

- catalogue reads: ``GET /api/v1/catalog/products`` (a page of 20 priced products), by member
  agents; target at least 1 000 requests/s, 99th percentile under 50 ms;
- order placement: ``POST /api/v1/orders`` with two lines (a draft numbered in the CMD
  series, its prices frozen), by member agents in turn; target at least 200 orders/s,
  99th percentile under 100 ms.

Every answer, the warm-up's included, must be the expected one (200, 201): wrk counts the
others, and the orders written are counted in the database afterwards. The database is
dropped at the end. On Linux, each scenario also prints the CPU a request cost the gunicorn
workers and the local PostgreSQL server, and the share of the time the cores stood idle.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import runpy
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import _support as support  # bench/, on the path of a script run from it

DATABASE = "bench_api"
SCENARIOS = {
    # name: (method, path, expected status, requests/s target, p99 target in ms)
    "catalogue reads": ("GET", "/api/v1/catalog/products?per_page=20", 200, 1000.0, 50.0),
    "order placement": ("POST", "/api/v1/orders", 201, 200.0, 100.0),
}
ORDER = {
    "lines": [{"sku": "MC-MESSAGERIE", "quantity": "5"}, {"sku": "MC-DOMAINE", "quantity": "1"}]
}
WRK_SCRIPT = """
local tokens = {%(tokens)s}
local counter = 0
wrk.method = "%(method)s"
wrk.headers["Content-Type"] = "application/json"
%(body)s
request = function()
  counter = counter + 1
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end  -- Host among them
  headers["Authorization"] = "Bearer " .. tokens[(counter %% #tokens) + 1]
  return wrk.format(nil, nil, headers, wrk.body)
end
"""


def build(url: str) -> tuple[list[str], list[str]]:
    """The data set; the API tokens of the member agents, and of those whose member may
    order the benchmark's items (it joined the Mairie Connectée domain)."""
    from decimal import Decimal

    from sqlalchemy import select

    from purchasing import demo
    from purchasing.errors import DomainError
    from purchasing.members.models import Member
    from purchasing.orders.services import LineInput, create_order

    support.build_schema(url)
    readers, orderers = [], []
    with support.app_session(url) as session:
        support.load_catalogue(session)
        demo.load_demo_members(session, demo.DEMO_DIR / "members.csv")
        for member in session.scalars(select(Member).order_by(Member.id)).all():
            user, token = demo.ensure_user(
                session,
                email=f"agent.{member.id}@bench.example",
                role="member",
                full_name=f"Agent de {member.name}",
                member_id=member.id,
            )
            readers.append(token)
            lines = [
                LineInput(sku=line["sku"], quantity=Decimal(line["quantity"]))
                for line in ORDER["lines"]
            ]
            try:
                create_order(session, actor=user, lines=lines)
            except DomainError:
                continue  # this member may not order these items: it reads the catalogue only
            orderers.append(token)
    return readers, orderers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument(
        "--warmup", type=int, default=3, help="seconds before each scenario, not counted"
    )
    parser.add_argument("--workers", type=int, help="default: gunicorn.conf.py's")
    parser.add_argument("--worker-class", choices=("gthread", "sync"), help="default: sync")
    parser.add_argument("--threads", type=int, help="per gthread worker (default 1)")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("API load: skipped, wrk is not installed (Debian: apt-get install -y wrk)")
        return 0
    unavailable = support.postgres_available()
    if unavailable:
        print(f"API load: skipped, PostgreSQL unreachable ({unavailable})")
        return 0

    url = support.create_database(DATABASE)
    failed = False
    try:
        readers, orderers = build(url)
        port = _free_port()
        server_options = _server_options(args)
        print(
            f"API load: gunicorn ({_describe(server_options)}) on 127.0.0.1:{port}, "
            f"PostgreSQL, wrk with {args.connections} connections, {args.warmup} s of warm-up "
            f"then {args.seconds} s per scenario, {len(readers)} member agents "
            f"({len(orderers)} ordering); {os.cpu_count()} CPU(s)"
        )
        with _gunicorn(url, port, server_options) as server:
            for name, (method, path, status, target_rate, target_p99) in SCENARIOS.items():
                tokens = orderers if method == "POST" else readers
                warmup = _wrk(port, method, path, tokens, args.connections, args.warmup)
                before = support.machine_seconds(children_of=server.process.pid)
                figures = _wrk(port, method, path, tokens, args.connections, args.seconds)
                figures["cpu"] = support.seconds_between(
                    before, support.machine_seconds(children_of=server.process.pid)
                )
                figures["unexpected"] += warmup["unexpected"]
                figures["socket_errors"] += warmup["socket_errors"]
                failed |= not _report(name, figures, status, target_rate, target_p99)
        orders = _count_orders(url)
        print(f"  orders written: {orders:,}")
    finally:
        support.drop_database(DATABASE)
    return 1 if failed else 0


def _server_options(args: argparse.Namespace) -> dict[str, str]:
    """gunicorn's worker settings: those of ``gunicorn.conf.py``, overridden by the command."""
    conf = runpy.run_path(str(support.ROOT / "gunicorn.conf.py"))
    options = {"workers": str(conf["workers"]), "worker-class": conf["worker_class"]}
    if args.workers:
        options["workers"] = str(args.workers)
    if args.worker_class:
        options["worker-class"] = args.worker_class
    if options["worker-class"] == "gthread":
        options["threads"] = str(args.threads or 1)
    return options


def _describe(options: dict[str, str]) -> str:
    threads = f" of {options['threads']} threads" if "threads" in options else ""
    return f"{options['workers']} {options['worker-class']} workers{threads}"


class _gunicorn:
    def __init__(self, url: str, port: int, options: dict[str, str]) -> None:
        self.url, self.port, self.options = url, port, options

    def __enter__(self) -> _gunicorn:
        env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "SECRET_KEY": "bench-secret",
            "SESSION_COOKIE_SECURE": "0",
        }
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "--config",
                str(support.ROOT / "gunicorn.conf.py"),
                *(part for name, value in self.options.items() for part in (f"--{name}", value)),
                "--bind",
                f"127.0.0.1:{self.port}",
                "wsgi:app",
            ],
            cwd=support.ROOT,
            env=env,
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/api/v1/openapi.json", timeout=5
                ):
                    return self
            except OSError:
                time.sleep(0.5)
        self.log.seek(0)
        raise RuntimeError("gunicorn did not answer:\n" + self.log.read().decode()[-3000:])

    def __exit__(self, *_exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wrk(
    port: int, method: str, path: str, tokens: list[str], connections: int, seconds: int
) -> dict[str, float]:
    body = f"wrk.body = '{json.dumps(ORDER)}'" if method == "POST" else ""
    script = WRK_SCRIPT % {
        "tokens": ", ".join(f'"{token}"' for token in tokens),
        "method": method,
        "body": body,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        out = subprocess.run(
            [
                "wrk",
                "--threads",
                "2",
                "--connections",
                str(connections),
                "--duration",
                f"{seconds}s",
                "--latency",
                "--script",
                lua.name,
                f"http://127.0.0.1:{port}{path}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return _parse_wrk(out)


def _parse_wrk(out: str) -> dict[str, float]:
    def milliseconds(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    percentiles = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.MULTILINE))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    other = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50": milliseconds(percentiles["50"]),
        "p99": milliseconds(percentiles["99"]),
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
        "unexpected": int(other.group(1)) if other else 0,
    }


def _report(name: str, figures: dict, status: int, target_rate: float, target_p99: float):
    print(
        f"  {name}: {figures['rate']:,.0f} requests/s ({figures['requests']:,} in all), "
        f"latency p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms, "
        f"{figures['unexpected']} unexpected answer(s), {figures['socket_errors']} socket error(s)"
    )
    cpu, requests = figures.get("cpu"), figures["requests"]
    if cpu and requests:
        print(
            f"    CPU per request: gunicorn workers {1000 * cpu['children'] / requests:.2f} ms, "
            f"PostgreSQL {1000 * cpu['postgres'] / requests:.2f} ms; "
            f"cores idle {support.idle_share(cpu):.0%}"
        )
    checks = {
        f"at least {target_rate:,.0f} requests/s": figures["rate"] >= target_rate,
        f"p99 under {target_p99:.0f} ms": figures["p99"] < target_p99,
        f"every answer {status}, no socket error": figures["requests"] > 0
        and figures["unexpected"] == 0
        and figures["socket_errors"] == 0,
    }
    for label, ok in checks.items():
        print(f"    {'ok  ' if ok else 'FAIL'} {label}")
    return all(checks.values())


def _count_orders(url: str) -> int:
    from sqlalchemy import func, select

    from purchasing.orders.models import Order

    with support.app_session(url) as session:
        return session.scalar(select(func.count()).select_from(Order))


if __name__ == "__main__":
    sys.exit(main())
