"""The one caching primitive: named, per-process caches with configured lifetimes.

Every cache in engage is made here, so that each has a name, a size bound and a
lifetime that an operator can read in one place (``LIFETIMES``) and change from the
environment (``ENGAGE_CACHE_<NAME>_SECONDS``). The caches are cachetools' TTL and LRU
caches behind a lock; tests empty them all with ``clear_all()``.

A lifetime of 0 seconds means "never keep": ``get`` always misses. A lifetime of
``None`` means the entries never expire by age (an LRU cache bounded by size only),
which is right for pure functions of their arguments such as parsed header values.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from typing import Any

from cachetools import LRUCache, TTLCache

#: Lifetimes in seconds by cache name; ``None`` keeps entries until pushed out by size.
LIFETIMES: dict[str, float | None] = {}

_MISSING = object()
_registry: dict[str, NamedCache] = {}
_registry_lock = threading.Lock()


def lifetime(name: str, default: float | None) -> float | None:
    """The lifetime of cache ``name``: ``ENGAGE_CACHE_<NAME>_SECONDS`` if set, else
    ``default``. The value is recorded in ``LIFETIMES``."""
    raw = os.environ.get(f"ENGAGE_CACHE_{name.upper()}_SECONDS")
    seconds: float | None = default
    if raw is not None and raw.strip():
        seconds = float(raw)
        if seconds < 0:
            raise ValueError(f"ENGAGE_CACHE_{name.upper()}_SECONDS must be 0 or more")
    LIFETIMES[name] = seconds
    return seconds


class NamedCache:
    """A bounded, thread-safe mapping from keys to values, dropped after its lifetime."""

    def __init__(self, name: str, maxsize: int, seconds: float | None):
        self.name = name
        self.maxsize = maxsize
        self.seconds = seconds
        self._lock = threading.Lock()
        self._data: LRUCache | TTLCache = self._new()

    def _new(self) -> LRUCache | TTLCache:
        if self.seconds is None:
            return LRUCache(maxsize=self.maxsize)
        return TTLCache(maxsize=self.maxsize, ttl=max(self.seconds, 1e-9))

    def get(self, key: Hashable, default: Any = None) -> Any:
        if self.seconds == 0:
            return default
        with self._lock:
            return self._data.get(key, default)

    def set(self, key: Hashable, value: Any) -> None:
        if self.seconds == 0:
            return
        with self._lock:
            self._data[key] = value

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The kept value for ``key``, or ``make()`` kept for next time.

        ``make`` runs outside the lock: two threads may both make a missing value, and
        the later one is kept (both are correct; no thread waits on another's query).
        """
        found = self.get(key, _MISSING)
        if found is not _MISSING:
            return found
        value = make()
        self.set(key, value)
        return value

    def pop(self, key: Hashable) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


def named_cache(name: str, *, maxsize: int, seconds: float | None) -> NamedCache:
    """The process's cache called ``name`` (made on first use).

    ``seconds`` is the default lifetime; the environment may override it (see
    ``lifetime``). Asking twice for one name gives the same cache.
    """
    with _registry_lock:
        cache = _registry.get(name)
        if cache is None:
            cache = NamedCache(name, maxsize, lifetime(name, seconds))
            _registry[name] = cache
        return cache


def memoize(name: str, *, maxsize: int, seconds: float | None = None):
    """Decorate a function of hashable arguments to keep its results in the named
    cache. Keyword arguments are part of the key."""

    def decorate(function):
        cache = named_cache(name, maxsize=maxsize, seconds=seconds)

        def wrapper(*args, **kwargs):
            key = args if not kwargs else (args, tuple(sorted(kwargs.items())))
            return cache.get_or_make(key, lambda: function(*args, **kwargs))

        wrapper.__wrapped__ = function
        wrapper.__name__ = function.__name__
        wrapper.__qualname__ = function.__qualname__
        wrapper.__doc__ = function.__doc__
        wrapper.cache = cache
        return wrapper

    return decorate


def clear_all() -> None:
    """Empty every named cache (tests; an operator's reload)."""
    with _registry_lock:
        caches = list(_registry.values())
    for cache in caches:
        cache.clear()


def registered() -> dict[str, NamedCache]:
    """The named caches made so far, by name."""
    with _registry_lock:
        return dict(_registry)
