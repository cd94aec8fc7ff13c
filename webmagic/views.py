"""Pages that compose every app: the home redirect, the health check and the staff
dashboard (pipeline funnel + revenue), which needs sites, campaigns and billing rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from billing.queries import format_money, mrr_by_currency, revenue_by_currency
from crm.permissions import staff_required
from crm.queries import recent_activity
from webmagic.analytics import funnel_counts_for
from webmagic.sql import database_ping

PERIODS = {
    "week": ("This week", 7),
    "month": ("This month", 30),
    "90d": ("90 days", 90),
    "all": ("All time", None),
}
DEFAULT_PERIOD = "month"


def home(request: HttpRequest) -> HttpResponse:
    return redirect("crm:dashboard")


def healthz(request: HttpRequest) -> JsonResponse:
    database_ping()
    return JsonResponse({"ok": True})


@dataclass
class FunnelStage:
    key: str
    label: str
    count: int
    previous: int | None = None

    @property
    def conversion(self) -> float | None:
        if self.previous is None:
            return None
        return 100 * self.count / self.previous if self.previous else 0.0


def funnel_stages(since: datetime | None = None) -> list[FunnelStage]:
    """DESIGN.md's eight stages, counted once for the dashboard and the analytics page
    (webmagic.analytics.funnel_counts_for): all time from the trigger-kept tallies, a
    period by each stage's own time."""
    counts = funnel_counts_for(since)
    labels = [
        ("scraped", "Scraped"),
        ("qualified", "Qualified"),
        ("site_generated", "Site generated"),
        ("contacted", "Contacted"),
        ("engaged", "Opened / clicked"),
        ("replied", "Replied"),
        ("purchased", "Purchased"),
        ("subscribed", "Active subscription"),
    ]
    stages: list[FunnelStage] = []
    for key, label in labels:
        previous = stages[-1].count if stages else None
        stages.append(FunnelStage(key, label, counts.get(key) or 0, previous))
    return stages


@staff_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    period = request.GET.get("period", DEFAULT_PERIOD)
    if period not in PERIODS:
        period = DEFAULT_PERIOD
    days = PERIODS[period][1]
    since = timezone.now() - timedelta(days=days) if days else None
    stages = funnel_stages(since)
    revenue = revenue_by_currency(since=since)
    mrr = mrr_by_currency()
    return render(
        request,
        "crm/dashboard.html",
        {
            "period": period,
            "periods": [(key, label) for key, (label, _) in PERIODS.items()],
            "period_label": PERIODS[period][0],
            "stages": stages,
            "top": stages[0].count if stages else 0,
            "revenue": [format_money(c, cur) for cur, c in revenue.items()] or ["$0.00"],
            "mrr": [format_money(c, cur) for cur, c in mrr.items()] or ["$0.00"],
            "recent": recent_activity(),
        },
    )
