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
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Case, Count, F, Max, Min, Q, Sum, Value, When

from billing.models import Payment, PaymentStatus, Subscription, SubscriptionState
from billing.queries import MRR_STATUSES, monthly_cents
from campaigns import metrics
from campaigns.models import Campaign, Direction, Message
from crm.models import Business
from crm.periods import Period
from crm.queries import leads_in_period, stage_ages
from crm.tallies import period_funnel
from webmagic import sql

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


def _subscribed(period: Period) -> int:
    subs = period.filter(Subscription.objects.filter(status=SubscriptionState.ACTIVE), "started_at")
    return subs.values("customer__business_id").distinct().count()


def funnel_counts_for(period: Period) -> dict[str, int]:
    """Stage counts: leads that *reached* each stage. All time: the trigger-kept tallies; a
    period: each stage counted on the day (in CRM_TIME_ZONE) it was reached, from the
    trigger-kept day tallies (crm.tallies.period_funnel); active subscriptions by their
    start."""
    counts = dict(period_funnel(period))
    counts["subscribed"] = _subscribed(period)
    return counts


def analytics_funnel(period: Period) -> list[dict[str, Any]]:
    """DESIGN.md's eight stages with stage-to-stage and overall conversion."""
    counts = funnel_counts_for(period)
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


def _outreach_per_lead(period: Period | None, *, converted_in: Period | None = None):
    """(sql, params): one row per contacted lead from its outbound messages alone (no pass
    over the lead table): first send, and whether any message was opened (campaigns.metrics:
    a human open or a click), clicked, replied to, or converted (a paid checkout credited
    to it). `period` bounds the first send; `converted_in` keeps only leads converted then."""

    def flag(condition: Q):
        return Max(Case(When(condition, then=Value(1)), default=Value(0)))

    inner = (
        Message.objects.filter(direction=Direction.OUTBOUND, sent_at__isnull=False)
        .order_by()
        .values("business_id")
        .annotate(
            first_sent=Min("sent_at"),
            opened=flag(metrics.OPENED),
            clicked=flag(metrics.CLICKED),
            replied=flag(metrics.REPLIED),
            purchased=flag(Q(converted_at__isnull=False)),
            converted=Min("converted_at"),
        )
    )
    if period is not None:
        if period.since is not None:
            inner = inner.filter(first_sent__gte=period.since)
        if period.until is not None:
            inner = inner.filter(first_sent__lt=period.until)
    if converted_in is not None:
        # Only leads a message converted: a semi-join keeps the grouping small.
        converted = converted_in.filter(
            Message.objects.filter(converted_at__isnull=False), "converted_at"
        ).values("business_id")
        inner = inner.filter(business_id__in=converted).filter(converted__isnull=False)
        if converted_in.since is not None:
            inner = inner.filter(converted__gte=converted_in.since)
        if converted_in.until is not None:
            inner = inner.filter(converted__lt=converted_in.until)
    return inner.query.sql_with_params()


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def conversion_cohorts(period: Period, grouping: str = DEFAULT_GROUPING) -> list[dict[str, Any]]:
    """Leads grouped by the week (or month) of their first outbound message (first sent in
    the period), with the share whose messages were then opened, clicked, replied to and
    converted into a purchase. One pass over the messages, grouped per lead, then per cohort."""
    if grouping not in GROUPINGS:
        raise ValueError(f"Unknown grouping {grouping!r}: use week or month.")
    inner_sql, params = _outreach_per_lead(period)
    result = sql.cohort_rows(inner_sql, params, grouping, zone=settings.CRM_TIME_ZONE)
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


def _dimension_fields(by: str, lead: str) -> dict[str, Any]:
    """Two grouping keys for `by` (city also keeps the state apart: Springfield, IL ≠ MO)."""
    if by == "category":
        return {"k1": F(f"{lead}__category"), "k2": Value("")}
    if by == "city":
        return {"k1": F(f"{lead}__city"), "k2": F(f"{lead}__state")}
    raise ValueError(f"Unknown grouping {by!r}: use one of {', '.join(DIMENSIONS)}.")


def revenue_by_source(period: Period, by: str = "category") -> list[dict[str, Any]]:
    """Revenue (succeeded payments in the period, by paid_at) and current MRR per category,
    city or credited campaign (the attribution stored on the checkout: campaigns.metrics)
    and currency. Sorted by revenue, largest first. Two grouped queries plus the names."""
    if by not in DIMENSIONS:
        raise ValueError(f"Unknown grouping {by!r}: use one of {', '.join(DIMENSIONS)}.")
    subscriptions = Subscription.objects.filter(status__in=MRR_STATUSES).order_by()
    if by == "campaign":
        revenue: Any = [
            {"k1": r["campaign_id"], "k2": "", **r}
            for r in metrics.revenue_by_campaign(since=period.since, until=period.until)
        ]
        sub_keys: dict[str, Any] = {"k1": F("checkout__campaign_id"), "k2": Value("")}
    else:
        payments = period.filter(Payment.objects.filter(status=PaymentStatus.SUCCEEDED), "paid_at")
        revenue = (
            payments.order_by()
            .annotate(**_dimension_fields(by, "business"))
            .values("k1", "k2", "currency")
            .annotate(
                cents=Sum("amount_cents"),
                payments=Count("id"),
                leads=Count("business_id", distinct=True),
            )
        )
        sub_keys = _dimension_fields(by, "customer__business")
    mrr = (
        subscriptions.annotate(**sub_keys)
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


def _sort_value(value: Any) -> Any:
    return -1 if value is None else value  # "not applicable" sorts below every rate


def campaign_performance(period: Period, sort: str = "-revenue_cents") -> list[dict[str, Any]]:
    """Per campaign started in the period: campaigns.metrics' numbers (leads, lifetime),
    with the names this endpoint has always used (`purchases` is `converted`), each rate
    over the sent recipients, and lifetime revenue per currency."""
    desc = sort.startswith("-")
    sort_key = sort.lstrip("-")
    if sort_key not in CAMPAIGN_SORTS:
        raise ValueError(f"Unknown sort {sort!r}: use one of {', '.join(CAMPAIGN_SORTS)}.")
    campaigns = list(metrics.campaigns_started_in(period))
    measured = metrics.campaign_metrics(campaigns)
    rows = []
    for c in campaigns:
        m = measured[c.pk]
        n = m.counts
        row = {
            "campaign_id": c.pk,
            "name": c.name,
            "channel": c.channel,
            "status": c.status,
            "created_at": c.created_at,
            "started_at": c.started_at,
            **{k: n[k] for k in metrics.NAMES if k != "converted"},
            "purchases": n["converted"],
            "messages": m.messages["total"],
            "open_rate": m.rate("opened"),
            "click_rate": m.rate("clicked"),
            "reply_rate": m.rate("replied"),
            "purchase_rate": m.rate("converted"),
            "revenue": m.revenue,
            # One number to sort by: the revenue in the main price currency.
            "revenue_cents": m.revenue_cents(settings.PRICE_CURRENCY),
        }
        rows.append(row)
    if sort_key == "name":
        rows.sort(key=lambda r: (r["name"].lower(), r["campaign_id"]), reverse=desc)
    else:
        rows.sort(key=lambda r: (_sort_value(r[sort_key]), r["campaign_id"]), reverse=desc)
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
    inner_sql, params = _outreach_per_lead(None, converted_in=period)
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


def time_in_stage(period: Period) -> list[dict[str, Any]]:
    """Where leads stall (crm.queries' one stall rule): per non-terminal stage, the leads
    created in the period that are there now, the median and 90th-percentile days there,
    and how many have stalled."""
    rows = []
    for s in stage_ages(leads_in_period(Business.objects.all(), period)):
        rows.append(
            {
                "status": s.status,
                "label": s.label,
                "leads": s.leads,
                "median_days": s.median_days,
                "p90_days": s.p90_days,
                "stalled": s.stalled,
                "stalled_share": _rate(s.stalled, s.leads),
            }
        )
    return rows
