"""gunicorn settings read by ``gunicorn wsgi:app`` run from this directory.

The bind address stays on the command line; what is here applies to every deployment, and
a command-line option overrides it. Serve behind a reverse proxy that buffers requests and
answers (nginx, say), as gunicorn advises for sync workers: a slow client then never holds
a worker.
"""

import gc
import os

#: One process per core, each serving one request at a time. A request here is CPU work
#: (routing, validation, serialisation, the ORM) with short waits on the database. Measured
#: on two cores (``bench/api_load.py``): sync workers, one per core, served more requests
#: with a shorter 99th percentile than threaded workers, whose threads contend for the
#: interpreter's lock and whose kept-alive connections stay with the worker that accepted
#: them, leaving another idle. ``WEB_CONCURRENCY`` sets another count.
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)
worker_class = "sync"

#: The application is loaded once, before the workers are forked (and frozen, below).
preload_app = True


def when_ready(_server: object) -> None:
    """Before the workers are forked: move what the loaded application holds (modules,
    mappers, compiled SQL) out of the garbage collector's sight. Without it, the
    collector's full passes walk those objects again and again in every worker, a few
    milliseconds each time, in the middle of requests."""
    gc.collect()
    gc.freeze()
