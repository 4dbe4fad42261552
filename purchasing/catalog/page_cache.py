"""A cache of the catalogue's API answers, keyed on everything an answer depends on.

A page of products depends on the catalogue (its version, see
:mod:`purchasing.catalog.versions`), on who reads it (members and staff get different
documents), and on the query once parsed (its date included: "today" is resolved in Paris
before the key is made). The body kept is the exact one the first reader received;
answers under an older version are never served again and age out of the LRU.

Each process keeps its own, bounded, cache: nothing is shared between workers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

from flask import Flask, Response

V = TypeVar("V")

#: Entries kept per process: a page of 20 products is about 12 kB.
DEFAULT_SIZE = 512


class LruCache(Generic[V]):
    """A thread-safe, bounded map that forgets what was used least recently."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)


class PageCache(LruCache[bytes]):
    """Response bodies, in an LRU."""

    @staticmethod
    def key(version: str | None, audience: str, query: Mapping[str, Any]) -> Hashable:
        return (version, audience, tuple(sorted(query.items())))

    def response(self, app: Flask, key: Hashable, build: Callable[[], Response]) -> Response:
        """The answer kept under ``key``, else ``build()``'s, kept when it is a 200.

        ``key``'s version must be read before ``build`` reads the catalogue: an answer is
        then never kept under a version newer than the data it shows.
        """
        body = self.get(key)
        if body is not None:
            return app.response_class(body, mimetype=app.json.mimetype)
        response = build()
        if response.status_code == 200 and response.mimetype == app.json.mimetype:
            self.put(key, response.get_data())
        return response


def page_cache(app: Flask, name: str) -> PageCache:
    """The application's cache ``name``, created on first use."""
    caches = app.extensions.setdefault("centrale.page_caches", {})
    cache = caches.get(name)
    if cache is None:
        cache = caches.setdefault(name, PageCache())
    return cache
