"""Lead counts per status, read from crm_leadtally (kept true by database triggers, see
crm/migrations/0007_lead_tally_triggers.py) instead of counting a million leads.

- `tally_counts()` → {field: {value: count}} for the tallied fields;
- `funnel_counts()` → the all-time counts of DESIGN.md's funnel stages the CRM owns;
- `tally_compact()` folds the delta rows into one row per value (scheduled every minute);
- `tally_rebuild()` recounts from crm_business (after a restore or a manual fix).
"""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.db import connection, transaction

from crm.lifecycle import statuses_reached
from crm.models import ContactStatus, LeadTally, WebsiteStatus

TALLIED_FIELDS = (
    "contact_status",
    "furthest_contact_status",
    "website_status",
    "qualification_score",
)
SITE_GENERATED = (WebsiteStatus.GENERATED, WebsiteStatus.DEPLOYED, WebsiteStatus.SOLD)


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


def tally_compact() -> int:
    """Fold the delta rows into one row per (field, value). Returns the rows removed.

    Only rows this transaction can see are folded; rows committed meanwhile stay as they
    are, so the sum never changes."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "WITH gone AS (DELETE FROM crm_leadtally RETURNING field, value, delta) "
                "INSERT INTO crm_leadtally (field, value, delta) "
                "SELECT field, value, SUM(delta) FROM gone GROUP BY field, value "
                "HAVING SUM(delta) <> 0"
            )
            kept = cursor.rowcount
        else:  # SQLite: one writer at a time, the transaction holds it
            cursor.execute(
                "SELECT field, value, SUM(delta) FROM crm_leadtally GROUP BY field, value"
            )
            rows = [r for r in cursor.fetchall() if r[2]]
            cursor.execute("DELETE FROM crm_leadtally")
            LeadTally.objects.bulk_create(LeadTally(field=f, value=v, delta=d) for f, v, d in rows)
            kept = len(rows)
        cursor.execute("SELECT COUNT(*) FROM crm_leadtally")
        return max(0, cursor.fetchone()[0] - kept)


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
