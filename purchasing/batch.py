"""Long batch work (a billing run, the PDFs it renders, the ledger's posting): fewer
passes of Python's cyclic garbage collector while it works.

Such work makes hundreds of thousands of short-lived objects (rows, ORM states, decimals,
PDF operators). The collector's default, a young pass every 700 new objects and an older
one every tenth of those, ran some 1 700 passes for a run of 1 000 invoices, a tenth of the
run process's CPU, scanning again and again the objects that live through the run. With a
young pass every 10 000 objects it runs a few dozen. Reference counting still frees nearly
everything as soon as it is dropped; only cycles wait a little longer.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: New objects between two young passes of the collector during batch work.
YOUNG_THRESHOLD = 10_000

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the collector's young threshold to :data:`YOUNG_THRESHOLD` for the block,
    then restore what it was. The setting is the process's: blocks may nest or run in
    several threads at once, and the last to end restores it. A collector switched off
    (threshold 0) stays off."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            young, older, oldest = _saved
            if young:
                gc.set_threshold(max(young, YOUNG_THRESHOLD), older, oldest)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_saved)
