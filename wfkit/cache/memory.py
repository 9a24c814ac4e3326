"""``InMemoryCache``: node results kept in this process, with expiry."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from wfkit.cache.base import BaseCache, FullKey, Namespace

__all__ = ["InMemoryCache"]


class InMemoryCache(BaseCache):
    """A dict per namespace, safe across threads. Values are copied in and
    out, so a node that mutates what it returned (or got from the cache)
    cannot change the cached entry.

    >>> cache = InMemoryCache()
    >>> cache.set({(("node",), "k"): ({"x": 1}, None)})
    >>> cache.get([(("node",), "k"), (("node",), "other")])
    {(('node',), 'k'): {'x': 1}}
    """

    def __init__(self, *, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[Namespace, dict[str, tuple[Any, float | None]]] = {}
        self._lock = threading.Lock()

    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]:
        found: dict[FullKey, Any] = {}
        now = self._clock()
        with self._lock:
            for ns, key in keys:
                entries = self._entries.get(ns)
                if entries is None or key not in entries:
                    continue
                value, expires = entries[key]
                if expires is not None and now >= expires:
                    del entries[key]
                    continue
                found[(ns, key)] = copy.deepcopy(value)
        return found

    def set(self, pairs: Mapping[FullKey, tuple[Any, float | None]]) -> None:
        now = self._clock()
        with self._lock:
            for (ns, key), (value, ttl) in pairs.items():
                expires = None if ttl is None else now + ttl
                self._entries.setdefault(ns, {})[key] = (copy.deepcopy(value), expires)

    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        with self._lock:
            if namespaces is None:
                self._entries.clear()
            else:
                for ns in namespaces:
                    self._entries.pop(ns, None)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(e) for e in self._entries.values())
