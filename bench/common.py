"""Shared helpers for the benchmarks (not tests): timing, raw-SQL anchors, result files.

Raw-SQL anchors run the way Django runs queries: client-side parameter binding and no
server-side prepared statements (psycopg 3's auto-prepare would flatter the anchor).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def setup_django() -> None:
    """Django as production runs it: DEBUG off (with DEBUG on every query is also logged in
    memory and templates carry debug information), unless DEBUG is set explicitly."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmagic.settings")
    os.environ.setdefault("DEBUG", "0")
    if os.environ["DEBUG"] in ("0", "false", "False", "no", "off", ""):
        os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-0123456789")
    import django

    django.setup()


def require_postgres() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit(
            "benchmarks run on PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db>"
        )


def raw_connection():
    """A separate psycopg connection with Django's settings and no auto-prepare."""
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    conn = psycopg.connect(**params, prepare_threshold=None, autocommit=True)
    return conn


def measure(fn: Callable[[], object], *, repeat: int = 30, warmup: int = 3) -> dict:
    """Run `fn` repeatedly; return median / p95 / min in milliseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.95))], 3),
        "min_ms": round(samples[0], 3),
        "n": repeat,
    }


def ratio(ours: dict, anchor: dict) -> float:
    return round(ours["median_ms"] / anchor["median_ms"], 2) if anchor["median_ms"] else 0.0


def machine() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        db_version = cursor.fetchone()[0]
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "database": db_version,
    }


def write_result(name: str, data: dict) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {"benchmark": name, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    payload.update(data)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def reset_database(name: str) -> None:
    """Point Django at a new, migrated database `name` (dropped first if it exists), for a
    benchmark that must start from empty tables. The caller restores NAME afterwards."""
    from django.core.management import call_command
    from django.db import connection

    admin = raw_connection()
    admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.execute(f"CREATE DATABASE {name}")
    admin.close()
    connection.close()
    connection.settings_dict["NAME"] = name
    call_command("migrate", verbosity=0)
