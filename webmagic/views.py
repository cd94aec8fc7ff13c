"""Pages that compose every app: the home redirect, the health check and the staff
dashboard (pipeline funnel + revenue), which needs sites, campaigns and billing rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from billing.models import Subscription, SubscriptionState
from billing.queries import format_money, mrr_by_currency, revenue_by_currency
from campaigns.models import Direction, Message
from crm.models import Business
from crm.permissions import staff_required
from crm.queries import recent_activity
from crm.tallies import funnel_counts
from sites.models import Site

PERIODS = {
    "week": ("This week", 7),
    "month": ("This month", 30),
    "90d": ("90 days", 90),
    "all": ("All time", None),
}
DEFAULT_PERIOD = "month"


def home(request: HttpRequest) -> HttpResponse:
    return redirect("/admin/crm/")


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
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


def _subscribed_businesses(subscriptions) -> int:
    # Through the customer (one row per paying business), not a join over every site.
    return (
        subscriptions.exclude(customer__business__isnull=True)
        .values("customer__business")
        .distinct()
        .count()
    )


def funnel_stages(since: datetime | None = None) -> list[FunnelStage]:
    """DESIGN.md's eight stages. All time: leads that reached each stage
    (furthest_contact_status); a period counts each stage by its own time (created,
    site created, message sent / opened / clicked / replied, purchase, subscription start)."""
    q_score = Q(qualification_score__gte=settings.QUALIFIED_SCORE)

    if since is None:
        # Trigger-maintained tallies (crm/tallies.py): no scan of the lead table.
        counts = funnel_counts()
        counts["subscribed"] = _subscribed_businesses(
            Subscription.objects.filter(status=SubscriptionState.ACTIVE)
        )
    else:
        created = Business.objects.filter(created_at__gte=since).aggregate(
            scraped=Count("id"), qualified=Count("id", filter=q_score)
        )
        # One pass over the period's messages and one over its sites, each stage a
        # filtered COUNT(DISTINCT business).
        sent, engaged = Q(sent_at__gte=since), Q(opened_at__gte=since) | Q(clicked_at__gte=since)
        replied = Q(replied_at__gte=since)
        messages = (
            Message.objects.filter(direction=Direction.OUTBOUND)
            .filter(sent | engaged | replied)
            .aggregate(
                contacted=Count("business", distinct=True, filter=sent),
                engaged=Count("business", distinct=True, filter=engaged),
                replied=Count("business", distinct=True, filter=replied),
            )
        )
        generated, bought = Q(created_at__gte=since), Q(purchased_at__gte=since)
        sites = (
            Site.objects.filter(business__isnull=False)
            .filter(generated | bought)
            .aggregate(
                site_generated=Count("business", distinct=True, filter=generated),
                purchased=Count("business", distinct=True, filter=bought),
            )
        )
        counts = {
            **created,
            **messages,
            **sites,
            "subscribed": _subscribed_businesses(
                Subscription.objects.filter(status=SubscriptionState.ACTIVE, started_at__gte=since)
            ),
        }
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
