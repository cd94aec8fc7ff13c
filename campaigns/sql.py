"""Every raw SQL statement of the campaigns app (migrations apart), in one place. Each says
why the ORM does not do it and the figure that pays for it; prefer the ORM, and add a
statement here only with a measurement beside it. Figures: `bench/README.md` (2-core CI
machine) unless a line says otherwise; "measured 2026-12-06" ones were taken on the same
machine on a `seed_demo --leads 100000` world in PostgreSQL 15, in transactions rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import connection

MESSAGE_COLUMNS = """
    campaign_id, step, direction, business_id, site_id, channel, to_address,
    from_address, subject, body, status, token, send_after, opened_count,
    clicked_count, error, created_at, waiting_for
"""
# pg_advisory_xact_lock key of campaign starts ("WMCS" in ASCII).
CAMPAIGN_START_LOCK = 0x574D4353
# The held-leads CTE when the contact policy does not apply (a cooldown override).
NOTHING_HELD = ("SELECT NULL AS business_id WHERE 1 = 0", ())


def campaign_starts_lock() -> None:
    """Serialise campaign starts until the caller's transaction ends (PostgreSQL).

    Why raw: the start freezes its audience with one INSERT … SELECT that leaves out leads
    other campaigns hold (campaigns.policy); two starts running at once would not see each
    other's uncommitted rows and could both take a lead. There is no row to lock for "the
    leads a campaign may take" (and FOR UPDATE is not allowed beside the window function
    the INSERT numbers its rows with), so starts take one transaction-scoped advisory lock;
    Django has no API for it. Figure (measured 2026-12-06, PostgreSQL 15): 0.04 ms
    uncontended; a start holds it for its INSERT (11 s for 100,000 recipients on a loaded
    2-core machine, bench/campaign_start.py). SQLite serialises writers itself."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CAMPAIGN_START_LOCK])


def _send_after(vendor: str) -> str:
    """`start + offset seconds` of the n-th recipient (`rn`): `daily_cap` a day, spread at
    `rate_per_minute`. Parameters: start, daily_cap, daily_cap, rate_per_minute."""
    offset = "(((rn - 1) / %s) * 86400 + ((rn - 1) %% %s) * 60.0 / %s)"
    if vendor == "postgresql":
        return f"(%s::timestamptz + {offset} * interval '1 second')"
    return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', %s, '+' || {offset} || ' seconds')"


def _token(vendor: str) -> str:
    if vendor == "postgresql":
        return "replace(gen_random_uuid()::text, '-', '')"
    return "lower(hex(randomblob(16)))"


def _db_time(value: datetime) -> Any:
    """Django stores naive UTC text in SQLite."""
    if connection.vendor == "sqlite":
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    return value


def messages_insert_select(
    *,
    audience_sql: str,
    audience_params: Sequence[Any],
    held: tuple[str, Sequence[Any]] | None,
    campaign_id: int,
    step: int,
    channel: str,
    start_at: datetime,
    now: datetime,
    rate_per_minute: int,
    daily_cap: int,
    waiting_for: str,
) -> int:
    """Insert one queued message per row of the audience query (lead id, address, site id)
    whose lead is not in `held` (a query of `business_id`s, or None), each with its token
    and paced send time; a row without a site waits for one (`waiting_for`) when the
    campaign links it. Returns the rows inserted.

    Why raw: the ORM has no `INSERT … SELECT`; `bulk_create` would bring every recipient to
    Python and back. Figure: campaign start of 100,000 recipients 3.67 s, against 2.94 s
    for the bare statement (1.25×, bench/campaign_start.py); measured 2026-12-06 on the
    100,000-lead world, an audience of 57,887: 4.6 s, against 10.0 s through values_list
    + bulk_create.

    `held` is read once, as a MATERIALIZED CTE, before the statement writes: looked up per
    lead inside the INSERT, PostgreSQL (statistics: an empty table) walked every row the
    statement had inserted so far for each lead, 200–300 s for 100,000 recipients against
    11 s now (measured 2026-12-06, bench/README.md)."""
    vendor = connection.vendor
    send_after = _send_after(vendor)
    held_sql, held_params = held or NOTHING_HELD
    not_held = (
        "WHERE NOT EXISTS (SELECT 1 FROM held WHERE held.business_id = src.b_id)" if held else ""
    )
    values = f"""
        %s, %s, 'outbound', b_id, b_site, %s, b_to, '', '', '', 'queued', {_token(vendor)},
        {send_after}, 0, 0, '', %s, CASE WHEN b_site IS NULL THEN %s ELSE '' END
    """
    own = (
        campaign_id, step, channel, _db_time(start_at), daily_cap, daily_cap, rate_per_minute,
        _db_time(now), waiting_for,
    )  # fmt: skip
    if vendor == "sqlite":
        # SQLite has no column list on a derived-table alias: name the columns in a CTE.
        sql = f"""
            WITH src (b_id, b_to, b_site) AS ({audience_sql}), held AS ({held_sql})
            INSERT INTO campaigns_message ({MESSAGE_COLUMNS})
            SELECT {values}
            FROM (SELECT src.*, row_number() OVER (ORDER BY b_id) AS rn FROM src {not_held})
                AS numbered
        """
        params = (*audience_params, *held_params, *own)
    else:
        sql = f"""
            WITH held AS MATERIALIZED ({held_sql})
            INSERT INTO campaigns_message ({MESSAGE_COLUMNS})
            SELECT {values}
            FROM (
                SELECT src.*, row_number() OVER (ORDER BY src.b_id) AS rn
                FROM ({audience_sql}) AS src (b_id, b_to, b_site) {not_held}
            ) AS numbered
        """
        params = (*held_params, *own, *audience_params)
    with connection.cursor() as cursor:
        if vendor == "postgresql" and connection.in_atomic_block:
            # Why: the per-row site subquery inflates the estimate past JIT's threshold, and
            # compiling cost more than it saved on this plan. Figure: ≈1.4 s of JIT
            # compilation on a 100,000-recipient start (commit bf9d4d3).
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        if vendor == "sqlite":
            # Python's sqlite3 reports rowcount -1 for a statement that starts with WITH.
            cursor.execute("SELECT changes()")
            return cursor.fetchone()[0]
        return cursor.rowcount


def messages_restagger(
    *, campaign_id: int, start_at: datetime, rate_per_minute: int, daily_cap: int
) -> None:
    """Give a campaign's still-queued messages fresh send times from `start_at`, in their
    order, at the campaign's pace (a resumed campaign); their hand-outs lapse.

    Why raw: the new time depends on each message's rank (`row_number()`), which an ORM
    `update()` cannot take from a window function; the alternative is one UPDATE per
    message. Figure (measured 2026-12-06, PostgreSQL, 20,000 queued messages): this one
    statement 1.2 s, one ORM update per message 16.3 s."""
    vendor = connection.vendor
    sql = f"""
        UPDATE campaigns_message SET send_after = {_send_after(vendor)}, dispatched_at = NULL
        FROM (
            SELECT id AS numbered_id, row_number() OVER (ORDER BY send_after, id) AS rn
            FROM campaigns_message WHERE campaign_id = %s AND status = 'queued'
        ) AS numbered
        WHERE campaigns_message.id = numbered.numbered_id AND campaigns_message.status = 'queued'
    """
    params = (_db_time(start_at), daily_cap, daily_cap, rate_per_minute, campaign_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def message_track_update(
    *,
    message_table: str,
    lead_table: str,
    moves_from: Sequence[str],
    to: str | None,
    field: str,
    counter: str | None,
    at: datetime,
    reason: str | None,
    key_column: str,
    key: Any,
) -> tuple | None:
    """One provider mark on a message: its status moves `moves_from` → `to` (and `reason`
    becomes its error), `field` keeps the earliest provider time, `counter` counts; returns
    (id, business_id, channel, to_address, lead contact_status, lead furthest status) or
    None when no message has `key_column` = `key`.

    Why raw: finding the message, marking it conditionally and reading the lead's statuses
    is one `UPDATE … RETURNING` with a subquery; the ORM needs a read, an update and a
    second read. Figure: with crm.sql's inbox statements, a tracking webhook went from 14
    statements to 6, 0.25× → 0.54× of the bare-SQL view's rate (bench/webhooks.py)."""
    at_db = connection.ops.adapt_datetimefield_value(at)
    sets, params = [], []
    if to:
        marks = ", ".join(["%s"] * len(moves_from))
        sets.append(f"status = CASE WHEN status IN ({marks}) THEN %s ELSE status END")
        params += [*moves_from, to]
        if reason is not None:
            sets.append(f"error = CASE WHEN status IN ({marks}) THEN %s ELSE error END")
            params += [*moves_from, reason[:5000]]
    sets.append(f"{field} = CASE WHEN {field} IS NULL OR {field} > %s THEN %s ELSE {field} END")
    params += [at_db, at_db]
    if counter:
        sets.append(f"{counter} = {counter} + 1")
    table, leads = f'"{message_table}"', f'"{lead_table}"'
    lead = f"(SELECT {{}} FROM {leads} WHERE {leads}.id = {table}.business_id)"
    sql = (
        f"UPDATE {table} SET {', '.join(sets)} WHERE {key_column} = %s RETURNING id, business_id,"
        f" channel, to_address, {lead.format('contact_status')},"
        f" {lead.format('furthest_contact_status')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, key])
        return cursor.fetchone()
