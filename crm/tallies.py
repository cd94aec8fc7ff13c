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

from crm import sql
from crm.lifecycle import ENGAGEMENT_RANK, statuses_reached
from crm.models import ContactStatus, WebsiteStatus

TALLIED_FIELDS = (
    "contact_status",
    "furthest_contact_status",
    "website_status",
    "qualification_score",
)
SITE_GENERATED = (WebsiteStatus.GENERATED, WebsiteStatus.DEPLOYED, WebsiteStatus.SOLD)

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


def tally_counts() -> dict[str, dict[str, int]]:
    rows = sql.leadtally_sums()
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
    rows = sql.leaddaytally_sums(since)
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


def tally_compact() -> int:
    """Fold the delta rows into one row per (field, value). Returns the rows removed.

    Only rows this transaction can see are folded; rows committed meanwhile stay as they
    are, so the sum never changes."""
    return sql.tally_fold()


def tally_rebuild() -> None:
    """Recount everything from crm_business (takes a table lock on PostgreSQL). After a
    bulk load a lead's stages are dated by its last status change."""
    sql.tallies_recount(
        fields=TALLIED_FIELDS, engagement_rank=ENGAGEMENT_RANK, site_generated=SITE_GENERATED
    )
