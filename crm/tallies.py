"""Lead counts per status, read from crm_leadtally (kept true by database triggers, see
crm/migrations/0007_lead_tally_triggers.py) instead of counting a million leads.

- `tally_counts()` → {field: {value: count}} for the tallied fields;
- `funnel_counts()` → the all-time counts of DESIGN.md's funnel stages the CRM owns;
- `period_funnel_counts(first, last)` → the same stages counted by the day each was reached
  (days in CRM_TIME_ZONE: `tally_zone_sync` recounts them when the setting changes);
- `tally_compact()` folds the delta rows into one row per value (scheduled every minute);
- `tally_rebuild()` recounts from crm_business (after a restore or a manual fix).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.backends.signals import connection_created
from django.db.models import Count

from crm import sql
from crm.lifecycle import ENGAGEMENT_RANK, statuses_reached
from crm.models import Business, ContactStatus, TallyZone, WebsiteStatus

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


# --- the tally zone ----------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(name or "UTC")


def _sqlite_tally_day(value: str | None, zone: str | None) -> str | None:
    """crm_tally_day(ts, zone) for SQLite's triggers: Django keeps UTC text there."""
    if value is None:
        return None
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(_zone(zone)).date().isoformat()


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """connection_created receiver: SQLite's day-tally triggers call crm_tally_day()."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "crm_tally_day", 2, _sqlite_tally_day, deterministic=True
        )


def connect() -> None:
    connection_created.connect(register_sqlite_functions, dispatch_uid="crm.tallies.sqlite")


def tally_zone_sync() -> bool:
    """Make the day tallies count days in CRM_TIME_ZONE: when the zone the triggers read
    differs from the setting (a deploy changed it), set it and recount every day. Returns
    whether it recounted."""
    wanted = settings.CRM_TIME_ZONE
    if TallyZone.objects.filter(pk=1, zone=wanted).exists():
        return False
    with transaction.atomic():
        # The row lock makes a second process wait, then see the zone already set.
        current = TallyZone.objects.select_for_update().filter(pk=1).first()
        if current is not None and current.zone == wanted:
            return False
        TallyZone.objects.update_or_create(pk=1, defaults={"zone": wanted})
        sql.day_tallies_recount(engagement_rank=ENGAGEMENT_RANK, site_generated=SITE_GENERATED)
    return True


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


def period_funnel_counts(first_day: date | None, last_day: date | None = None) -> dict[str, int]:
    """Leads that reached each stage from `first_day` to `last_day` (days in CRM_TIME_ZONE,
    both included, None = open), each stage by the day it was reached, from
    crm_leaddaytally: a sum over a few thousand rows, not a scan."""
    tally_zone_sync()
    rows = sql.leaddaytally_sums(first_day, last_day)
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
    """Recount everything from crm_business (takes a table lock on PostgreSQL), the days in
    CRM_TIME_ZONE. After a bulk load a lead's stages are dated by its last status change."""
    with transaction.atomic():
        TallyZone.objects.update_or_create(pk=1, defaults={"zone": settings.CRM_TIME_ZONE})
        sql.tallies_recount(
            fields=TALLIED_FIELDS, engagement_rank=ENGAGEMENT_RANK, site_generated=SITE_GENERATED
        )


def period_funnel(period) -> dict[str, int]:
    """The CRM-owned funnel stages for a crm.periods.Period: the all-time tallies, or each
    stage counted on the days (in CRM_TIME_ZONE) it was reached."""
    if period is None or period.is_all:
        return funnel_counts()
    return period_funnel_counts(period.first_day, period.last_day)


def lead_status_counts(period) -> dict[str, dict[str, int]]:
    """{field: {value: leads}} for the leads created in `period` (all leads: the tallies)."""
    if period is None or period.is_all:
        return tally_counts()
    leads = period.filter(Business.objects.all(), "created_at").order_by()
    return {
        field: {
            str(value): n
            for value, n in leads.values_list(field).annotate(n=Count("id")).order_by()
        }
        for field in ("contact_status", "furthest_contact_status", "website_status")
    }
