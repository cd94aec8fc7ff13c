"""Every raw SQL statement of the crm app outside its migrations (which are frozen and keep
their own), in one place. Each says why the ORM does not do it and the figure that pays for
it; prefer the ORM, and add a statement here only with a measurement beside it.

Figures: `bench/README.md` (2-core CI machine, 1,000,000 leads) unless a line says otherwise;
"measured 2026-12-06" ones were taken on the same machine (shared, so read the ratios) on a
`seed_demo --leads 100000` world in PostgreSQL 15, each in a transaction rolled back after.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.db.models import Field, Model, QuerySet
from django.db.models.expressions import RawSQL

# --- the webhook hot path: the inbox and the timeline ------------------------------------------


@cache
def _insert_sql(model: type[Model], conflict: tuple[str, ...]) -> tuple[str, list]:
    # Generated columns (Business.has_email) are the database's to write.
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key or f.generated)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})"
    if conflict:
        sql += f" ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO NOTHING"
    return f"{sql} RETURNING {quote(model._meta.pk.column)}", fields


def row_insert(obj: Model, *, conflict: tuple[str, ...] = ()) -> bool:
    """INSERT `obj` (a new instance) in one statement and set its pk. With `conflict`
    (the columns of a unique constraint) a duplicate is skipped: returns False.

    Why raw: the inbox row and the timeline row are written on every webhook, and
    `Model.objects.create()` compiles its INSERT on every call (about 0.3 ms of Python, as
    much as the statement itself on loopback); `ON CONFLICT DO NOTHING` also makes a
    duplicate delivery a no-op inside a caller's transaction, which create() cannot.
    The values are what the ORM would write (each field's `pre_save` and
    `get_db_prep_save`); the SQL is built once per model. Figure: with the claim below and
    `message_track`, a tracking webhook went from 14 statements and two commits to 6 and
    one, 0.25× → 0.54× of the bare-SQL view (bench/webhooks.py)."""
    sql, fields = _insert_sql(type(obj), conflict)
    values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding, obj._state.db = False, connection.alias
    return True


def provider_event_claim(*, table: str, pk: int, at: datetime, to: str, pending: str) -> int | None:
    """Claim a pending inbox event by writing its likely outcome (`to`, processed_at) in one
    `UPDATE … WHERE status = pending RETURNING attempts`; None when it was not pending.

    Why raw: the ORM's `update()` returns a row count, not the new `attempts`, so the claim
    would cost a second statement on every webhook (part of the 14 → 6 statements above).
    Figure: 0.25× → 0.54× of the bare-SQL view's rate (bench/webhooks.py)."""
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(table)} SET status = %s, attempts = attempts + 1, error = '',"
        " processed_at = %s, next_attempt_at = NULL WHERE id = %s AND status = %s"
        " RETURNING attempts"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [to, connection.ops.adapt_datetimefield_value(at), pk, pending])
        row = cursor.fetchone()
    return None if row is None else row[0]


# --- lead tallies (kept by the triggers of migrations 0007 and 0014) ---------------------------


def leadtally_sums() -> list[tuple[str, str, int]]:
    """(field, value, count) from crm_leadtally's delta rows.

    Why raw: crm_leadtally has no model of its own worth the ORM's grouping here (LeadTally
    is read-only bookkeeping), and this is every dashboard's funnel. Figure: 0.3 ms at 1M
    leads against 326 ms for one `count(*) FILTER (…)` pass over crm_business."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT field, value, SUM(delta) FROM crm_leadtally GROUP BY field, value")
        return cursor.fetchall()


def leaddaytally_sums(since: date) -> list[tuple[str, str, int]]:
    """(field, value, count) from crm_leaddaytally for the UTC days from `since`.

    Why raw: as above; the period funnel. Figure: 3.7 ms for this month at 1M leads
    against 326 ms for the counting pass (dashboard page 29.7 → 24.1 ms for a month)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT field, value, SUM(delta) FROM crm_leaddaytally WHERE day >= %s "
            "GROUP BY field, value",
            [since],
        )
        return cursor.fetchall()


def _fold(cursor, table: str, keys: str) -> int:
    if connection.vendor == "postgresql":
        cursor.execute(
            f"WITH gone AS (DELETE FROM {table} RETURNING {keys}, delta) "
            f"INSERT INTO {table} ({keys}, delta) "
            f"SELECT {keys}, SUM(delta) FROM gone GROUP BY {keys} HAVING SUM(delta) <> 0"
        )
        kept = cursor.rowcount
    else:  # SQLite: one writer at a time, the transaction holds it
        cursor.execute(f"SELECT {keys}, SUM(delta) FROM {table} GROUP BY {keys}")
        rows = [r for r in cursor.fetchall() if r[-1]]
        cursor.execute(f"DELETE FROM {table}")
        marks = ", ".join(["%s"] * (keys.count(",") + 2))
        cursor.executemany(f"INSERT INTO {table} ({keys}, delta) VALUES ({marks})", rows)
        kept = len(rows)
    cursor.execute(f"SELECT COUNT(*) FROM {table}")
    return max(0, cursor.fetchone()[0] - kept)


def tally_fold() -> int:
    """Fold both tally tables' delta rows into one row per key; returns the rows removed.

    Why raw: on PostgreSQL the fold must sum exactly the rows it deletes, while triggers
    keep appending: `WITH gone AS (DELETE … RETURNING) INSERT … SELECT SUM` is one statement
    over one snapshot, which the ORM cannot write (a read, a delete and an insert would lose
    or double the rows committed in between). Figure (measured 2026-12-06, 100,000-lead
    world): after 2,000 single-lead updates, 4,123 + 14,581 delta rows fold to 123 + 10,586
    in 71 ms, well inside the minute between two runs."""
    with transaction.atomic(), connection.cursor() as cursor:
        return _fold(cursor, "crm_leadtally", "field, value") + _fold(
            cursor, "crm_leaddaytally", "day, field, value"
        )


def _rank_sql(engagement_rank: dict[str, int]) -> str:
    """A lead's engagement rank (0–6) as a CASE over furthest_contact_status; `{t}` is
    the row alias."""
    whens = " ".join(f"WHEN '{s}' THEN {r}" for s, r in engagement_rank.items() if r)
    return f"(CASE {{t}}.furthest_contact_status {whens} ELSE 0 END)"


def _day_backfill_sql(engagement_rank: dict[str, int], site_generated: Sequence[str]) -> str:
    rank = _rank_sql(engagement_rank).format(t="b")
    site = "b.website_status IN (" + ", ".join(f"'{s}'" for s in site_generated) + ")"
    if connection.vendor == "postgresql":
        return (
            "INSERT INTO crm_leaddaytally (day, field, value, delta) SELECT d, f, v, count(*) "
            "FROM (SELECT (b.created_at AT TIME ZONE 'UTC')::date AS d, 'created' AS f, "
            "b.qualification_score::text AS v FROM crm_business b "
            "UNION ALL SELECT (b.contact_status_changed_at AT TIME ZONE 'UTC')::date, "
            f"'reached', r::text FROM crm_business b, generate_series(1, {rank}) AS r "
            "UNION ALL SELECT (b.website_status_changed_at AT TIME ZONE 'UTC')::date, 'site', "
            f"'generated' FROM crm_business b WHERE {site}) x GROUP BY d, f, v"
        )
    ranks = "(" + " UNION ALL ".join(f"SELECT {n} AS n" for n in range(1, 7)) + ")"
    return (
        "INSERT INTO crm_leaddaytally (day, field, value, delta) SELECT d, f, v, count(*) FROM "
        "(SELECT date(b.created_at) AS d, 'created' AS f, CAST(b.qualification_score AS TEXT) "
        "AS v FROM crm_business b "
        "UNION ALL SELECT date(b.contact_status_changed_at), 'reached', CAST(r.n AS TEXT) "
        f"FROM crm_business b JOIN {ranks} r ON r.n <= {rank} "
        "UNION ALL SELECT date(b.website_status_changed_at), 'site', 'generated' "
        f"FROM crm_business b WHERE {site}) GROUP BY d, f, v"
    )


def tallies_recount(
    *, fields: Sequence[str], engagement_rank: dict[str, int], site_generated: Sequence[str]
) -> None:
    """Recount both tally tables from crm_business, under a SHARE lock on PostgreSQL (no lead
    changes meanwhile). Day tallies date a lead's stages by its last status change.

    Why raw: each table is refilled by one `INSERT … SELECT … GROUP BY` inside the
    database; through the ORM every group would travel to Python and back, and the day
    rows need generate_series per lead. Figure (measured 2026-12-06): 0.73 s for the
    100,000-lead world (best of 3), the last step of seed_demo."""
    union = " UNION ALL ".join(
        f"SELECT '{f}', CAST({f} AS TEXT), COUNT(*) FROM crm_business GROUP BY {f}" for f in fields
    )
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("LOCK TABLE crm_business IN SHARE MODE")
        cursor.execute("DELETE FROM crm_leadtally")
        cursor.execute(f"INSERT INTO crm_leadtally (field, value, delta) {union}")
        cursor.execute("DELETE FROM crm_leaddaytally")
        cursor.execute(_day_backfill_sql(engagement_rank, site_generated))


# --- imports and score updates (PostgreSQL only; the ORM path serves SQLite) -------------------


def pks_by_values(
    model: type[Model], column: str, chunks: Iterable[list], *, ordered: bool = False
) -> Iterable[tuple[Any, int]]:
    """(value, pk) of the rows whose `column` is one of each chunk's values, one array
    parameter per chunk (`= ANY(%s)`).

    Why raw: `filter(column__in=chunk)` binds one placeholder per value; for an import's
    dedupe keys (tens of thousands) binding them client-side cost more than the query.
    Figure: with COPY from dicts below, this was a third of `import_businesses`' time;
    the import went from 6.2× to 2.6× its COPY floor at 100,000 rows."""
    quote = connection.ops.quote_name
    table, col = quote(model._meta.db_table), quote(model._meta.get_field(column).column)
    order = f" ORDER BY {quote(model._meta.pk.column)}" if ordered else ""
    with connection.cursor() as cursor:
        for chunk in chunks:
            cursor.execute(f"SELECT {col}, id FROM {table} WHERE {col} = ANY(%s){order}", [chunk])
            yield from cursor.fetchall()


def rows_copy(model: type[Model], fields: Sequence[Field], rows: Iterable[Sequence]) -> None:
    """COPY `rows` (one value per field, as psycopg adapts them) into `model`'s table.

    Why raw: `bulk_create` builds a model instance and runs `get_db_prep_save` per cell,
    which cost more than the COPY itself. Figure: the import's COPY was about 3× faster than
    bulk_create for wide lead rows (import of 100,000 rows: 16.2 s against a 6.5 s COPY +
    merge floor); measured 2026-12-06, 50,000 timeline rows: COPY 1.25 s, bulk_create
    4.7 s."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    sql = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def rows_update(model: type[Model], fields: Sequence[Field], rows: Iterable[Sequence]) -> None:
    """Set `fields[1:]` of the rows whose pk is `fields[0]`: COPY into a temporary table,
    then one `UPDATE … FROM`.

    Why raw: `bulk_update` writes one `CASE WHEN pk = … THEN …` per row and field, whose
    planning time grows quadratically with the batch. Figure (measured 2026-12-06, 100,000-lead
    world): 20,000 leads × 2 fields, bulk_update (batches of 2,000) 78.5 s, this 8.2 s."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    typed = ", ".join(
        f"{quote(f.column)} {f.rel_db_type(connection) if f.primary_key else f.db_type(connection)}"
        for f in fields
    )
    sets = ", ".join(f"{quote(f.column)} = t.{quote(f.column)}" for f in fields[1:])
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE wm_update ({typed}) ON COMMIT DROP")
        with cursor.cursor.copy(f"COPY wm_update ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"UPDATE {table} SET {sets} FROM wm_update t WHERE {table}.{pk} = t.{pk}")
        cursor.execute("DROP TABLE wm_update")


# --- the lead table (crm/queries.py) ----------------------------------------------------------


def lead_total_expression(capped: QuerySet) -> RawSQL:
    """`SELECT COUNT(*)` over `capped` (a queryset already limited to the cap + 1 rows), as a
    scalar subquery for the lead page's row query to carry (`annotate(_total=…)`), so a
    small total costs no round trip of its own.

    Why raw: the ORM counts a sliced queryset only with `.count()`, which runs it alone; an
    aggregate over a subquery with a LIMIT is not an expression it can annotate. The SQL
    is the ORM's own (`sql_with_params()`), its values stay bound parameters. Figure: the
    page's own query counts the typical filter (8,064 leads, index-only) for 1.5 ms, where
    the lazy count request it replaces cost about 4 ms more than that (session, user,
    filters and plan again; bench/README.md)."""
    inner, params = capped.query.sql_with_params()
    return RawSQL(f"SELECT COUNT(*) FROM ({inner}) AS capped", params)  # noqa: S611


def lead_rows_filter_first(
    sql: str, params: tuple, *, order: list[tuple[str, bool, bool]], limit: int
) -> list[dict[str, Any]]:
    """The first `limit` rows of `sql` (a Django-compiled `values()` query) in `order`
    ((column alias, descending, nullable), NULL lowest), read by finding every matching row
    first and sorting them.

    Why raw: `MATERIALIZED` keeps PostgreSQL from walking a sort index instead, which the
    ORM cannot say; crm.queries.WALK_GUARD says when. Figure: a contradictory filter (no
    lead matches) 5 s → 10 ms; "texted roofers by name" (3,142 leads) 140 → 47 ms, on the
    shared CI machine at 1,000,000 leads (bench/README.md)."""
    qn = connection.ops.quote_name

    def term(alias: str, desc: bool, nullable: bool) -> str:
        nulls = (" NULLS LAST" if desc else " NULLS FIRST") if nullable else ""
        return f"{qn(alias)} {'DESC' if desc else 'ASC'}{nulls}"

    order_by = ", ".join(term(*spec) for spec in order)
    query = (
        f"WITH matching AS MATERIALIZED ({sql}) "
        f"SELECT * FROM matching ORDER BY {order_by} LIMIT {int(limit)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
