"""PostgreSQL connections read `timestamptz` columns with psycopg's own loader.

Django registers a pure-Python subclass of psycopg's loader so that it can set the
datetimes' time zone; with USE_TZ and a UTC connection (Django's default) psycopg's
optimised loader returns the very same aware UTC datetimes, at a fraction of the cost: a
50-row lead page's rows took 1.5 ms through the ORM with Django's loader and 1.0 ms with
psycopg's. The loader is registered on each cursor just before it runs (an execute
wrapper): Django checks the connection-level loader when it creates cursors, and that one
stays Django's.
"""

from __future__ import annotations

from datetime import UTC
from functools import cache

from django.db.backends.signals import connection_created


@cache
def _psycopg_timestamptz_loader():
    from psycopg import adapters
    from psycopg.pq import Format

    return adapters.get_loader(adapters.types["timestamptz"].oid, Format.TEXT)


def fast_timestamps(execute, sql, params, many, context):
    """An execute wrapper (Django's `connection.execute_wrapper` protocol)."""
    connection = context["connection"]
    if connection.timezone is UTC:
        loader = _psycopg_timestamptz_loader()
        context["cursor"].cursor.adapters.register_loader("timestamptz", loader)
    return execute(sql, params, many, context)


def _on_connection_created(sender, connection, **kwargs) -> None:
    if connection.vendor != "postgresql":
        return
    if fast_timestamps not in connection.execute_wrappers:
        connection.execute_wrappers.append(fast_timestamps)


def connect() -> None:
    connection_created.connect(_on_connection_created, dispatch_uid="webmagic.db.fast_timestamps")
