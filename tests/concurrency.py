"""Run calls at the same instant, each thread on its own database connection: the
PostgreSQL-only tests that prove locking and at-most-once use it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


def run_together(calls: list[Callable[[], Any]], timeout: float = 60) -> list[Any]:
    """Start every call at once (a barrier), return their results in order; any exception in
    a thread fails the caller."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def worker(i: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a concurrent call hung"
    assert not errors, errors
    return results
