"""Lead counts per status, read from crm_leadtally (kept true by database triggers, see
crm/migrations/0007_lead_tally_triggers.py) instead of counting a million leads.

- `tally_counts()` → {field: {value: count}} for the tallied fields;
- `funnel_counts()` → the all-time counts of DESIGN.md's funnel stages the CRM owns;
- `period_funnel_counts(since)` → the same stages counted by the day each was reached;
- `tally_compact()` folds the delta rows into one row per value (scheduled every minute);
- `tally_rebuild()` recounts from crm_business (after a restore or a manual fix).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.conf import settings
from django.db import connection, transaction

from crm.lifecycle import ENGAGEMENT_RANK, statuses_reached
from crm.models import ContactStatus, WebsiteStatus

TALLIED_FIELDS = (
    "contact_status",
    "furthest_contact_status",
    "website_status",
    "qualification_score",
)
SITE_GENERATED = (WebsiteStatus.GENERATED, WebsiteStatus.DEPLOYED, WebsiteStatus.SOLD)

# SQL shared by the day-tally triggers (crm/migrations/0014) and the rebuild: a lead's
# engagement rank (0–6) and whether it has a generated site. `{t}` is the row alias.
RANK_SQL = (
    "(CASE {t}.furthest_contact_status "
    + " ".join(f"WHEN '{s}' THEN {r}" for s, r in ENGAGEMENT_RANK.items() if r)
    + " ELSE 0 END)"
)
SITE_SQL = "{t}.website_status IN (" + ", ".join(f"'{s}'" for s in SITE_GENERATED) + ")"
SQLITE_RANKS = "(" + " UNION ALL ".join(f"SELECT {n} AS n" for n in range(1, 7)) + ")"
# Day-tally value of each funnel stage on the engagement ladder.
STAGE_RANK = {
    stage: ENGAGEMENT_RANK[status]
    for stage, status in (
        ("contacted", ContactStatus.EMAILED),
        ("engaged", ContactStatus.OPENED),
        ("replied", ContactStatus.REPLIED),
        ("purchased", ContactStatus.PURCHASED),
    )
}

DAY_BACKFILL = {
    "postgresql": (
        "INSERT INTO crm_leaddaytally (day, field, value, delta) SELECT d, f, v, count(*) FROM ("
        "SELECT (b.created_at AT TIME ZONE 'UTC')::date AS d, 'created' AS f, "
        "b.qualification_score::text AS v FROM crm_business b "
        "UNION ALL SELECT (b.contact_status_changed_at AT TIME ZONE 'UTC')::date, 'reached', "
        f"r::text FROM crm_business b, generate_series(1, {RANK_SQL.format(t='b')}) AS r "
        "UNION ALL SELECT (b.website_status_changed_at AT TIME ZONE 'UTC')::date, 'site', "
        f"'generated' FROM crm_business b WHERE {SITE_SQL.format(t='b')}"
        ") x GROUP BY d, f, v"
    ),
    "sqlite": (
        "INSERT INTO crm_leaddaytally (day, field, value, delta) SELECT d, f, v, count(*) FROM ("
        "SELECT date(b.created_at) AS d, 'created' AS f, CAST(b.qualification_score AS TEXT) "
        "AS v FROM crm_business b "
        "UNION ALL SELECT date(b.contact_status_changed_at), 'reached', CAST(r.n AS TEXT) "
        f"FROM crm_business b JOIN {SQLITE_RANKS} r ON r.n <= {RANK_SQL.format(t='b')} "
        "UNION ALL SELECT date(b.website_status_changed_at), 'site', 'generated' "
        f"FROM crm_business b WHERE {SITE_SQL.format(t='b')}"
        ") GROUP BY d, f, v"
    ),
}


def tally_counts() -> dict[str, dict[str, int]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT field, value, SUM(delta) FROM crm_leadtally GROUP BY field, value")
        rows = cursor.fetchall()
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for field, value, total in rows:
        if total:
            counts[field][value] = int(total)
    return dict(counts)


def funnel_counts(counts: dict[str, dict[str, int]] | None = None) -> dict[str, int]:
    """All-time stage counts: leads that *reached* each stage (furthest_contact_status)."""
    counts = tally_counts() if counts is None else counts
    furthest = counts.get("furthest_contact_status", {})
    scores = counts.get("qualification_score", {})
    website = counts.get("website_status", {})

    def reached(stage: str) -> int:
        return sum(furthest.get(s, 0) for s in statuses_reached(stage))

    return {
        "scraped": sum(counts.get("contact_status", {}).values()),
        "qualified": sum(n for v, n in scores.items() if int(v) >= settings.QUALIFIED_SCORE),
        "site_generated": sum(website.get(s, 0) for s in SITE_GENERATED),
        "contacted": reached(ContactStatus.EMAILED),
        "engaged": reached(ContactStatus.OPENED),
        "replied": reached(ContactStatus.REPLIED),
        "purchased": reached(ContactStatus.PURCHASED),
    }


def period_funnel_counts(since: date) -> dict[str, int]:
    """Leads that reached each stage on or after the UTC day `since` (each stage by the day
    it was reached), from crm_leaddaytally: a sum over a few thousand rows, not a scan."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT field, value, SUM(delta) FROM crm_leaddaytally WHERE day >= %s "
            "GROUP BY field, value",
            [since],
        )
        rows = cursor.fetchall()
    created: dict[int, int] = defaultdict(int)
    reached: dict[int, int] = defaultdict(int)
    site = 0
    for field, value, total in rows:
        if field == "created":
            created[int(value)] += int(total)
        elif field == "reached":
            reached[int(value)] += int(total)
        elif field == "site":
            site += int(total)
    return {
        "scraped": sum(created.values()),
        "qualified": sum(n for score, n in created.items() if score >= settings.QUALIFIED_SCORE),
        "site_generated": site,
        **{stage: reached.get(rank, 0) for stage, rank in STAGE_RANK.items()},
    }


def _fold(cursor, table: str, keys: str) -> int:
    """Fold `table`'s delta rows into one row per `keys`; returns the rows removed."""
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


def tally_compact() -> int:
    """Fold the delta rows into one row per (field, value). Returns the rows removed.

    Only rows this transaction can see are folded; rows committed meanwhile stay as they
    are, so the sum never changes."""
    with transaction.atomic(), connection.cursor() as cursor:
        return _fold(cursor, "crm_leadtally", "field, value") + _fold(
            cursor, "crm_leaddaytally", "day, field, value"
        )


def tally_rebuild() -> None:
    """Recount everything from crm_business (takes a table lock on PostgreSQL)."""
    union = " UNION ALL ".join(
        f"SELECT '{f}', CAST({f} AS TEXT), COUNT(*) FROM crm_business GROUP BY {f}"
        for f in TALLIED_FIELDS
    )
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("LOCK TABLE crm_business IN SHARE MODE")
        cursor.execute("DELETE FROM crm_leadtally")
        cursor.execute(f"INSERT INTO crm_leadtally (field, value, delta) {union}")
        # Day tallies: after a bulk load a lead's stages are dated by its last status change.
        cursor.execute("DELETE FROM crm_leaddaytally")
        cursor.execute(DAY_BACKFILL[connection.vendor])
