"""The analytics reads: funnel, conversion cohorts, revenue by source, campaign performance,
time to convert and time in stage. Shared by the analytics page, its CSV exports and the
JSON API (webmagic/api_analytics.py).

Every aggregation is one or a few grouped queries: the database does the counting, Python
only shapes the (few) result rows. Money is integer cents per currency, never floats.
Rates are fractions (0–1) so the API stays unit-free; the page formats them as percents.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Case, Count, F, Max, Min, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.models import (
    Payment,
    PaymentStatus,
    Subscription,
    SubscriptionState,
)
from billing.queries import MRR_STATUSES, monthly_cents
from campaigns.models import Campaign, Direction, Message
from crm.models import ContactStatus
from crm.queries import STALL_DAYS
from crm.tallies import funnel_counts, period_funnel_counts
from webmagic import sql

PERIODS: dict[str, tuple[str, int | None]] = {
    "30d": ("Last 30 days", 30),
    "90d": ("Last 90 days", 90),
    "365d": ("Last 12 months", 365),
    "all": ("All time", None),
}
DEFAULT_PERIOD = "90d"
GROUPINGS = ("week", "month")
DEFAULT_GROUPING = "week"
DIMENSIONS = ("category", "city", "campaign")
NO_CAMPAIGN = "(no campaign)"
UNKNOWN = "(unknown)"

CAMPAIGN_SORTS = (
    "name",
    "sent",
    "open_rate",
    "click_rate",
    "reply_rate",
    "purchase_rate",
    "purchases",
    "revenue_cents",
)


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    since: datetime | None

    @property
    def days(self) -> int | None:
        return PERIODS[self.key][1]


def period_parse(key: str | None, *, now: datetime | None = None) -> Period:
    """A period key (30d, 90d, 365d, all) → Period. Raises ValueError for anything else."""
    key = key or DEFAULT_PERIOD
    if key not in PERIODS:
        raise ValueError(f"Unknown period {key!r}: use one of {', '.join(PERIODS)}.")
    label, days = PERIODS[key]
    now = now or timezone.now()
    return Period(key=key, label=label, since=now - timedelta(days=days) if days else None)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


# --- 1. Funnel ----------------------------------------------------------------------------


FUNNEL_LABELS = (
    ("scraped", "Scraped"),
    ("qualified", "Qualified"),
    ("site_generated", "Site generated"),
    ("contacted", "Contacted"),
    ("engaged", "Opened / clicked"),
    ("replied", "Replied"),
    ("purchased", "Purchased"),
    ("subscribed", "Active subscription"),
)


def _subscribed(since: datetime | None) -> int:
    subs = Subscription.objects.filter(status=SubscriptionState.ACTIVE)
    if since is not None:
        subs = subs.filter(started_at__gte=since)
    return subs.values("customer__business_id").distinct().count()


def funnel_counts_for(since: datetime | None) -> dict[str, int]:
    """Stage counts: leads that *reached* each stage. All time: the trigger-kept tallies
    (crm.tallies.funnel_counts). A period: each stage counted on the (UTC) day it was
    reached, from the trigger-kept day tallies (crm.tallies.period_funnel_counts); active
    subscriptions by their start."""
    if since is None:
        counts = dict(funnel_counts())
    else:
        counts = period_funnel_counts(since.astimezone(UTC).date())
    counts["subscribed"] = _subscribed(since)
    return counts


def analytics_funnel(period: Period) -> list[dict[str, Any]]:
    """DESIGN.md's eight stages with stage-to-stage and overall conversion."""
    counts = funnel_counts_for(period.since)
    rows: list[dict[str, Any]] = []
    top = counts.get("scraped") or 0
    for key, label in FUNNEL_LABELS:
        count = counts.get(key) or 0
        previous = rows[-1]["count"] if rows else None
        rows.append(
            {
                "stage": key,
                "label": label,
                "count": count,
                "step_rate": None if previous is None else _rate(count, previous),
                "overall_rate": _rate(count, top),
            }
        )
    return rows


# --- 2. Conversion rates over time (cohorts by first contact) -----------------------------


def _outreach_per_lead(
    since: datetime | None,
    *,
    converted_only: bool = False,
    converted_since: datetime | None = None,
):
    """(sql, params): one row per contacted lead from its outbound messages alone (no pass
    over the lead table): first send, and whether any message was opened (or clicked),
    clicked, replied to, or converted (the checkout came from it)."""

    def flag(condition: Q):
        return Max(Case(When(condition, then=Value(1)), default=Value(0)))

    inner = (
        Message.objects.filter(direction=Direction.OUTBOUND, sent_at__isnull=False)
        .order_by()
        .values("business_id")
        .annotate(
            first_sent=Min("sent_at"),
            opened=flag(Q(opened_at__isnull=False) | Q(clicked_at__isnull=False)),
            clicked=flag(Q(clicked_at__isnull=False)),
            replied=flag(Q(replied_at__isnull=False)),
            purchased=flag(Q(converted_at__isnull=False)),
            converted=Min("converted_at"),
        )
    )
    if since is not None:
        inner = inner.filter(first_sent__gte=since)
    if converted_only:
        # Only leads a message converted: a semi-join keeps the grouping small.
        converted = Message.objects.filter(converted_at__isnull=False).values("business_id")
        if converted_since is not None:
            converted = converted.filter(converted_at__gte=converted_since)
        inner = inner.filter(business_id__in=converted).filter(converted__isnull=False)
        if converted_since is not None:
            inner = inner.filter(converted__gte=converted_since)
    return inner.query.sql_with_params()


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def conversion_cohorts(period: Period, grouping: str = DEFAULT_GROUPING) -> list[dict[str, Any]]:
    """Leads grouped by the week (or month) of their first outbound message, with the share
    whose messages were then opened, clicked, replied to and converted into a purchase.
    One pass over the messages, grouped per lead, then per cohort."""
    if grouping not in GROUPINGS:
        raise ValueError(f"Unknown grouping {grouping!r}: use week or month.")
    inner_sql, params = _outreach_per_lead(period.since)
    result = sql.cohort_rows(inner_sql, params, grouping)
    rows = []
    for bucket_value, contacted, opened, clicked, replied, purchased in result:
        contacted = int(contacted)
        rows.append(
            {
                "cohort": _as_date(bucket_value),
                "contacted": contacted,
                "opened": int(opened or 0),
                "clicked": int(clicked or 0),
                "replied": int(replied or 0),
                "purchased": int(purchased or 0),
                "open_rate": _rate(int(opened or 0), contacted),
                "click_rate": _rate(int(clicked or 0), contacted),
                "reply_rate": _rate(int(replied or 0), contacted),
                "purchase_rate": _rate(int(purchased or 0), contacted),
            }
        )
    return rows


# --- 3. Revenue by source -----------------------------------------------------------------


def _dimension_fields(by: str, lead: str, checkout: list[str]) -> dict[str, Any]:
    """Two grouping keys for `by` (city also keeps the state apart: Springfield, IL ≠ MO)."""
    if by == "category":
        return {"k1": F(f"{lead}__category"), "k2": Value("")}
    if by == "city":
        return {"k1": F(f"{lead}__city"), "k2": F(f"{lead}__state")}
    if by == "campaign":
        paths = [F(f"{path}__message__campaign_id") for path in checkout]
        return {"k1": Coalesce(*paths) if len(paths) > 1 else paths[0], "k2": Value("")}
    raise ValueError(f"Unknown grouping {by!r}: use one of {', '.join(DIMENSIONS)}.")


def _payments_by_campaign(
    since: datetime | None, campaign_ids: list[int] | None = None
) -> list[dict[str, Any]]:
    """Succeeded payments per converting campaign and currency. A renewal has no checkout of
    its own: it is credited through its subscription's checkout. Resolving that checkout
    first keeps it to one join with the messages (the ORM's two join chains scan them twice)."""
    if campaign_ids is not None and not campaign_ids:
        return []
    rows = sql.payments_by_campaign(
        status=PaymentStatus.SUCCEEDED, since=since, campaign_ids=campaign_ids
    )
    return [
        {"k1": k1, "k2": "", "currency": cur, "cents": cents, "payments": n, "leads": leads}
        for k1, cur, cents, n, leads in rows
    ]


def revenue_by_source(period: Period, by: str = "category") -> list[dict[str, Any]]:
    """Revenue (succeeded payments in the period, by paid_at) and current MRR per category,
    city or converting campaign (the message the checkout came from) and currency.
    Sorted by revenue, largest first. Two grouped queries plus the campaign names."""
    sub_keys = _dimension_fields(by, "customer__business", ["checkout"])
    if by == "campaign":
        revenue: Any = _payments_by_campaign(period.since)
    else:
        payments = Payment.objects.filter(status=PaymentStatus.SUCCEEDED)
        if period.since is not None:
            payments = payments.filter(paid_at__gte=period.since)
        revenue = (
            payments.order_by()
            .annotate(**_dimension_fields(by, "business", []))
            .values("k1", "k2", "currency")
            .annotate(
                cents=Sum("amount_cents"),
                payments=Count("id"),
                leads=Count("business_id", distinct=True),
            )
        )
    sub_keys = _dimension_fields(by, "customer__business", ["checkout"])
    mrr = (
        Subscription.objects.filter(status__in=MRR_STATUSES)
        .order_by()
        .annotate(**sub_keys)
        .values("k1", "k2", "currency")
        .annotate(cents=Sum(monthly_cents()), subscriptions=Count("id"))
    )
    table: dict[tuple, dict[str, Any]] = {}

    def row(k1, k2, currency):
        key = (k1, k2 or "", currency)
        if key not in table:
            table[key] = {
                "key": k1,
                "state": k2 or "",
                "currency": currency,
                "revenue_cents": 0,
                "payments": 0,
                "customers": 0,
                "mrr_cents": 0,
                "subscriptions": 0,
            }
        return table[key]

    for r in revenue:
        target = row(r["k1"], r["k2"], r["currency"])
        target.update(
            revenue_cents=int(r["cents"] or 0), payments=r["payments"], customers=r["leads"]
        )
    for r in mrr:
        target = row(r["k1"], r["k2"], r["currency"])
        target.update(mrr_cents=int(r["cents"] or 0), subscriptions=r["subscriptions"])
    names: dict[int, str] = {}
    if by == "campaign":
        ids = [k for (k, _, _) in table if k is not None]
        names = dict(Campaign.objects.filter(pk__in=ids).values_list("id", "name"))
    rows = []
    for r in table.values():
        if by == "campaign":
            r["campaign_id"] = r["key"]
            r["label"] = names.get(r["key"], NO_CAMPAIGN) if r["key"] is not None else NO_CAMPAIGN
        elif by == "city":
            r["label"] = ", ".join(p for p in (r["key"], r["state"]) if p) or UNKNOWN
        else:
            r["label"] = r["key"] or UNKNOWN
        r["key"] = "" if r["key"] is None else str(r["key"])
        r.pop("state")
        rows.append(r)
    rows.sort(key=lambda r: (-r["revenue_cents"], -r["mrr_cents"], r["label"], r["currency"]))
    return rows


# --- 4. Campaign performance --------------------------------------------------------------


def campaign_performance(period: Period, sort: str = "-revenue_cents") -> list[dict[str, Any]]:
    """Per campaign (created in the period): sent, delivered, opened, clicked, replied,
    bounced and purchases (messages that converted), each rate over sent, and revenue in
    cents per currency from the payments its messages brought in."""
    desc = sort.startswith("-")
    sort_key = sort.lstrip("-")
    if sort_key not in CAMPAIGN_SORTS:
        raise ValueError(f"Unknown sort {sort!r}: use one of {', '.join(CAMPAIGN_SORTS)}.")
    campaigns = Campaign.objects.all()
    if period.since is not None:
        campaigns = campaigns.filter(created_at__gte=period.since)
    info = {c["id"]: c for c in campaigns.values("id", "name", "channel", "status", "created_at")}
    if not info:
        return []
    counts = {
        r["campaign_id"]: r
        for r in Message.objects.filter(
            direction=Direction.OUTBOUND, campaign_id__in=campaigns.values("id")
        )
        .order_by()
        .values("campaign_id")
        .annotate(
            sent=Count("id", filter=Q(sent_at__isnull=False)),
            delivered=Count("id", filter=Q(delivered_at__isnull=False)),
            opened=Count("id", filter=Q(opened_at__isnull=False) | Q(clicked_at__isnull=False)),
            clicked=Count("id", filter=Q(clicked_at__isnull=False)),
            replied=Count("id", filter=Q(replied_at__isnull=False)),
            bounced=Count("id", filter=Q(bounced_at__isnull=False)),
            purchases=Count("id", filter=Q(converted_at__isnull=False)),
        )
    }
    revenue: dict[int, dict[str, int]] = {}
    for r in _payments_by_campaign(None, list(info)):
        revenue.setdefault(r["k1"], {})[r["currency"]] = int(r["cents"] or 0)
    rows = []
    for pk, c in info.items():
        n = counts.get(pk, {})
        sent = n.get("sent", 0)
        money = revenue.get(pk, {})
        row = {
            "campaign_id": pk,
            "name": c["name"],
            "channel": c["channel"],
            "status": c["status"],
            "created_at": c["created_at"],
            **{k: n.get(k, 0) for k in ("sent", "delivered", "opened", "clicked", "replied")},
            "bounced": n.get("bounced", 0),
            "purchases": n.get("purchases", 0),
            "open_rate": _rate(n.get("opened", 0), sent),
            "click_rate": _rate(n.get("clicked", 0), sent),
            "reply_rate": _rate(n.get("replied", 0), sent),
            "purchase_rate": _rate(n.get("purchases", 0), sent),
            "revenue": [{"currency": cur, "cents": cents} for cur, cents in sorted(money.items())],
            # One number to sort by: the revenue in the main price currency.
            "revenue_cents": money.get(settings.PRICE_CURRENCY, 0),
        }
        rows.append(row)
    if sort_key == "name":
        rows.sort(key=lambda r: (r["name"].lower(), r["campaign_id"]), reverse=desc)
    else:
        rows.sort(key=lambda r: (r[sort_key], r["campaign_id"]), reverse=desc)
    return rows


# --- 5. Time to convert and time in stage -------------------------------------------------


@dataclass
class ConvertTimes:
    converted: int = 0
    median_days: float | None = None
    average_days: float | None = None
    fastest_days: float | None = None
    slowest_days: float | None = None


def time_to_convert(period: Period) -> ConvertTimes:
    """Days from a lead's first outbound message to the purchase one of its messages
    brought in (converted_at), for purchases in the period."""
    inner_sql, params = _outreach_per_lead(None, converted_only=True, converted_since=period.since)
    result = ConvertTimes()
    if connection.vendor == "postgresql":
        n, median, avg, low, high = sql.convert_days_summary(inner_sql, params)
    else:
        # SQLite has no percentile: the few purchase durations come back to Python.
        values = sql.convert_days(inner_sql, params)
        n = len(values)
        median = statistics.median(values) if values else None
        avg = statistics.fmean(values) if values else None
        low, high = (min(values), max(values)) if values else (None, None)
    result.converted = int(n or 0)

    def _r(value):
        return None if value is None else round(float(value), 2)

    result.median_days, result.average_days = _r(median), _r(avg)
    result.fastest_days, result.slowest_days = _r(low), _r(high)
    return result


def time_in_stage(now: datetime | None = None) -> list[dict[str, Any]]:
    """Per current contact status: leads, average and longest days there, and how many
    have waited longer than crm.queries.STALL_DAYS. One grouped query."""
    now = now or timezone.now()
    stall_before = now - timedelta(days=STALL_DAYS)
    found = {r[0]: r for r in sql.time_in_stage_rows(now=now, stall_before=stall_before)}
    rows = []
    for status, label in ContactStatus.choices:
        r = found.get(status)
        if r is None:
            continue
        _, n, avg, longest, stalled = r
        rows.append(
            {
                "status": status,
                "label": label,
                "leads": int(n),
                "average_days": round(float(avg or 0), 1),
                "longest_days": round(float(longest or 0), 1),
                "stalled": int(stalled or 0),
                "stalled_share": _rate(int(stalled or 0), int(n)),
            }
        )
    return rows
