"""Every raw SQL statement of the composition root (webmagic/: analytics, the health check),
and the demo world's bulk load), in one place. Each says why the ORM does not do it and the
figure that pays for it; prefer the ORM, and add a statement here only with a measurement
beside it. Figures: `bench/README.md` (2-core CI machine, 1,000,000 leads) unless a line
says otherwise; "measured 2026-12-06" ones were taken on the same machine (shared, so read
the ratios) on a `seed_demo --leads 100000` world in PostgreSQL 15.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from django.core.management.color import no_style
from django.db import DatabaseError, connection, models, transaction

from billing.models import Checkout, Payment, Subscription
from campaigns.models import Message
from crm.models import Business


def database_ping() -> None:
    """One round trip that proves the database answers (the health check).

    Why raw: `SELECT 1` reads no table, so a health probe every few seconds costs the
    database nothing and cannot be slowed by a table lock. Figure (measured 2026-12-06,
    100,000-lead world, median of 300): 84 µs, against 353 µs for
    `Business.objects.exists()`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


# --- analytics (webmagic/analytics.py) ----------------------------------------------------------


def _bucket(column: str, grouping: str) -> str:
    """The UTC week's Monday or month's first day of `column`, as a date."""
    if connection.vendor == "postgresql":
        return f"CAST(date_trunc('{grouping}', {column} AT TIME ZONE 'UTC') AS date)"
    # SQLite keeps UTC text; go back six days, then forward to Monday: the week's Monday.
    if grouping == "week":
        return f"date({column}, '-6 days', 'weekday 1')"
    return f"strftime('%Y-%m-01', {column})"


def _days(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0"
    return f"(julianday({later}) - julianday({earlier}))"


def cohort_rows(per_lead_sql: str, params: Sequence[Any], grouping: str) -> list[tuple]:
    """(bucket, contacted, opened, clicked, replied, purchased) per week or month of first
    contact, over `per_lead_sql` (the ORM's one row per lead: first_sent and 0/1 flags).

    Why raw: a GROUP BY over the ORM's own grouped subquery (an aggregate of aggregates by a
    truncated date) is not expressible through the ORM without a second pass in Python over
    every lead. Figure: weekly cohorts 499.6 ms at 1M leads against a 471.9 ms raw floor
    (1.06×), under the tab's 1 s budget."""
    sql = (
        f"SELECT {_bucket('t.first_sent', grouping)} AS bucket, COUNT(*), SUM(t.opened), "
        f"SUM(t.clicked), SUM(t.replied), SUM(t.purchased) FROM ({per_lead_sql}) t "
        "GROUP BY 1 ORDER BY 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def payments_by_campaign(
    *, status: str, since: datetime | None, campaign_ids: Sequence[int] | None
) -> list[tuple]:
    """(campaign id, currency, cents, payments, leads) of the payments in `status` since
    `since`, credited to the campaign whose message the checkout came from (a renewal
    through its subscription's checkout).

    Why raw: resolving the crediting checkout first (`COALESCE(p.checkout_id,
    s.checkout_id)`) keeps it to one join with the messages; the ORM's two join chains
    (payment → checkout → message, payment → subscription → checkout → message) scan the
    messages twice. Figure (measured 2026-12-06, 100,000-lead world, 6,384 payments, median of
    7): 44 ms, against 80 ms for the ORM's Coalesce over both chains (same rows); at 1M leads
    the revenue-by-campaign tab takes 346 ms (budget 1 s)."""
    where = ["p.status = %s"]
    params: list[Any] = [status]
    if since is not None:
        where.append("p.paid_at >= %s")
        params.append(since)
    if campaign_ids is not None:
        where.append(f"m.campaign_id IN ({', '.join(['%s'] * len(campaign_ids))})")
        params.extend(campaign_ids)
    sql = (
        "SELECT m.campaign_id, p.currency, SUM(p.amount_cents), COUNT(*), "
        "COUNT(DISTINCT p.business_id) "
        f"FROM {Payment._meta.db_table} p "
        f"LEFT JOIN {Subscription._meta.db_table} s ON s.id = p.subscription_id "
        f"LEFT JOIN {Checkout._meta.db_table} c ON c.id = COALESCE(p.checkout_id, s.checkout_id) "
        f"LEFT JOIN {Message._meta.db_table} m ON m.id = c.message_id "
        f"WHERE {' AND '.join(where)} GROUP BY m.campaign_id, p.currency"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _convert_where(per_lead_sql: str) -> str:
    return f"FROM ({per_lead_sql}) p WHERE p.converted IS NOT NULL AND p.converted >= p.first_sent"


def convert_days_summary(per_lead_sql: str, params: Sequence[Any]) -> tuple:
    """(purchases, median, average, fastest, slowest) days from first contact to purchase
    (PostgreSQL).

    Why raw: Django has no percentile aggregate; `percentile_cont(0.5) WITHIN GROUP` gives
    the median in the same pass as the other four. Figure: the time-to-convert tab 212.6 ms
    at 1M leads against a 202.1 ms raw floor (1.05×)."""
    days = _days("p.converted", "p.first_sent")
    sql = (
        f"SELECT COUNT(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY {days}), AVG({days}), "
        f"MIN({days}), MAX({days}) {_convert_where(per_lead_sql)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def convert_days(per_lead_sql: str, params: Sequence[Any]) -> list[float]:
    """Every purchase's days from first contact (SQLite, which has no percentile: the
    summary is computed in Python from these).

    Why raw: the same subquery and day arithmetic as convert_days_summary. Figure
    (measured 2026-12-06, SQLite, the 2,000-lead `make run` world): 33 durations in 0.7 ms."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_days('p.converted', 'p.first_sent')} {_convert_where(per_lead_sql)}",
            params,
        )
        return [float(v) for (v,) in cursor.fetchall()]


def time_in_stage_rows(*, now: datetime, stall_before: datetime) -> list[tuple]:
    """(contact status, leads, average days there, longest, stalled since `stall_before`).

    Why raw: the days since each lead's last status change, averaged per status, need the
    epoch of a timestamp difference, which Django's database functions do not offer (its
    Extract has no `epoch`). Figure: the stages tab 290.8 ms at 1M leads against a
    236.0 ms raw floor (1.23×)."""
    if connection.vendor == "postgresql":
        now_param: Any = now
        stall_param: Any = stall_before
        days_sql = _days("CAST(%s AS timestamptz)", "contact_status_changed_at")
    else:
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        now_param = now.astimezone(UTC).strftime(fmt)
        stall_param = stall_before.astimezone(UTC).strftime(fmt)
        days_sql = _days("%s", "contact_status_changed_at")
    sql = (
        f"SELECT contact_status, COUNT(*), AVG({days_sql}), MAX({days_sql}), "
        "SUM(CASE WHEN contact_status_changed_at < %s THEN 1 ELSE 0 END) "
        f"FROM {Business._meta.db_table} GROUP BY contact_status"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, (now_param, now_param, stall_param))
        return cursor.fetchall()


# --- the demo world's bulk load (webmagic/demo/, PostgreSQL) ------------------------------------


def demo_copy(raw, model: type[models.Model], fields: Sequence[models.Field], rows: Iterable):
    """COPY `rows` (one value per field) into `model`'s table through `raw`, the psycopg
    connection of the build's transaction (used from the writer thread while the next chunk
    of leads is generated).

    Why raw: COPY streams rows without an INSERT per batch or a model instance per row, and
    the writer thread overlaps the server's work with the generation. Figure (measured
    2026-12-06): 50,000 timeline rows by COPY 1.25 s, by bulk_create (batches of 500)
    4.7 s."""
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    sql = f"COPY {qn(model._meta.db_table)} ({columns}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def demo_truncate(world_models: Sequence[type[models.Model]]) -> None:
    """Empty every table of the demo world at once (seed_demo --reset).

    Why raw: TRUNCATE drops the tables' files instead of deleting row by row; the ORM's
    `delete()` collects related rows in Python and fires per-row signals and triggers.
    Figure (measured 2026-12-06, 100,000 leads and 477,533 timeline rows): 59 ms,
    against 49 s for `delete()` model by model."""
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in world_models)
    with connection.cursor() as cursor:
        # Deferred checks of rows written earlier in this transaction would block it.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@contextmanager
def demo_bulk_load(tables: Sequence[type[models.Model]]) -> Iterator[None]:
    """Inside the build's transaction: load without secondary indexes, unique constraints
    (primary keys aside) and per-row foreign-key triggers, then rebuild them (all undone on
    error). The rows are consistent by construction (ids assigned by the demo), and
    rebuilding a unique index or constraint re-checks its rule. Skipping the foreign-key
    triggers needs a superuser; without one each row is checked as it is written.

    Why raw: schema changes for the length of one load have no ORM form (migrations are
    for lasting ones). Figure (measured 2026-12-06, seed_demo --leads 100000, same hour):
    80 s with this, 118 s loading into the indexed tables."""
    with connection.cursor() as cursor:
        # Deferred checks still pending (e.g. the campaigns) would block CREATE INDEX; run
        # them now, and check any later row at once when the triggers cannot be skipped.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        # Index builds sort in memory instead of spilling to disk (this transaction only).
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        try:
            with transaction.atomic():
                cursor.execute("SET LOCAL session_replication_role = replica")
        except DatabaseError:
            pass
        definitions: list[tuple[str, str]] = []
        constraints: list[tuple[str, str, str]] = []
        for model in tables:
            table = model._meta.db_table
            cursor.execute(
                "SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                "WHERE c.conrelid = %s::regclass AND c.contype = 'u' AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)",
                [table],
            )
            constraints += [(table, name, definition) for name, definition in cursor.fetchall()]
            cursor.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                "WHERE i.schemaname = current_schema() AND i.tablename = %s "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname "
                "AND c.conrelid = %s::regclass)",
                [table, table],
            )
            definitions += cursor.fetchall()
        qn = connection.ops.quote_name
        for name, _ in definitions:
            cursor.execute(f"DROP INDEX {qn(name)}")
        for table, name, _ in constraints:
            cursor.execute(f"ALTER TABLE {qn(table)} DROP CONSTRAINT {qn(name)}")
    yield
    with connection.cursor() as cursor:
        for table, name, definition in constraints:
            cursor.execute(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {definition}")
        for _, definition in definitions:
            cursor.execute(definition)
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def demo_sequences_and_statistics(tables: Sequence[type[models.Model]]) -> None:
    """Move each table's id sequence past the ids the demo assigned, and ANALYZE the tables.

    Why raw: Django's own `sequence_reset_sql` statements are raw SQL to run; ANALYZE has
    no ORM form. Without it the planner knows nothing of the rows just loaded until
    autovacuum comes by, and the lead page's counts read the planner's estimate. Figure
    (measured 2026-12-06, 100,000-lead world, 13 tables): 8.1 s, a tenth of the seed."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(tables))
    names = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in tables)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
        cursor.execute(f"ANALYZE {names}")
