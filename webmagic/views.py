"""Pages that compose every app: the home redirect, the health check and the staff
dashboard (pipeline funnel + revenue), which needs sites, campaigns and billing rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from billing.queries import format_money, mrr_by_currency, revenue_by_currency
from crm.permissions import staff_required
from crm.queries import recent_activity
from crm.tallies import SITE_GENERATED
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


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers and crawlers ask for whatever the page links: the static
    icon itself (no redirect), cacheable for a day."""
    path = finders.find("favicon.ico")
    if not path:
        raise Http404("no favicon.ico among the static files")
    response = HttpResponse(Path(path).read_bytes(), content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def healthz(request: HttpRequest) -> JsonResponse:
    database_ping()
    return JsonResponse({"ok": True})


@dataclass
class FunnelStage:
    key: str
    label: str
    count: int
    previous: int | None = None
    href: str = ""  # the leads (or subscriptions) counted, listed

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
        href = funnel_stage_url(key, since)
        stages.append(FunnelStage(key, label, counts.get(key) or 0, previous, href))
    return stages


# Each funnel stage as the lead FilterSet's own parameters (crm/filters.py): the leads it
# counts. Reached stages filter on furthest_contact_status, as the funnel counts them.
STAGE_FILTERS: dict[str, dict[str, object]] = {
    "scraped": {},
    "qualified": {},  # + min_score=QUALIFIED_SCORE, read when asked (tests change it)
    "site_generated": {"website_status": list(SITE_GENERATED)},
    "contacted": {"engagement": "contacted"},
    "engaged": {"engagement": "opened"},
    "replied": {"engagement": "replied"},
    "purchased": {"engagement": "purchased"},
}
# A period counts these stages by the day the lead was created, which the lead table
# filters too (created_after); the others by the day a stage was reached, which it cannot,
# so their link lists every lead that reached the stage.
STAGES_BY_CREATION = ("scraped", "qualified")


def funnel_stage_url(key: str, since: datetime | None = None) -> str:
    """The lead table filtered to a funnel stage (in the period where it can be); active
    subscriptions are listed on the billing page."""
    if key == "subscribed":
        return reverse("billing:billing-home") + "?tab=subscriptions&status=active"
    params = dict(STAGE_FILTERS[key])
    if key == "qualified":
        params["min_score"] = settings.QUALIFIED_SCORE
    if since is not None and key in STAGES_BY_CREATION:
        params["created_after"] = timezone.localdate(since).isoformat()
    query = urlencode(params, doseq=True)
    return reverse("crm:lead-list") + (f"?{query}" if query else "")


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
            "billing_url": reverse("billing:billing-home"),
            "revenue": [format_money(c, cur) for cur, c in revenue.items()] or ["$0.00"],
            "mrr": [format_money(c, cur) for cur, c in mrr.items()] or ["$0.00"],
            "recent": recent_activity(),
        },
    )
