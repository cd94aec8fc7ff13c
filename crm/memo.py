"""Small read-mostly values every staff page shows (the colleagues, the campaign list, the
saved views, the unread-replies count), kept in Django's cache between requests.

Each value is dropped by the code that changes what it reads (`forget`), and expires after
its `ttl` anyway: the cache is per process unless REDIS_URL shares it, and bulk updates
skip model signals, so the ttl bounds how stale another process can be.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import transaction


def remembered(key: str, build: Callable[[], Any], ttl: int) -> Any:
    """The cached value of `key`, built (and stored for `ttl` seconds) when missing."""
    return cache.get_or_set(key, build, ttl)


def forget(*keys: str) -> None:
    """Drop `keys` now, and again when the current transaction commits: a request that
    rebuilds a value before the commit still reads the old rows."""
    cache.delete_many(keys)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: cache.delete_many(keys))
