"""Pages that compose every app: the home redirect, the favicon, the health check and the
staff dashboard (pipeline funnel, revenue, campaigns), which needs sites, campaigns and
billing rows."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from billing.queries import mrr_by_currency, revenue_by_currency
from campaigns import metrics
from crm.formatting import format_money
from crm.periods import Period, period_choices, period_from_params
from crm.permissions import staff_required
from crm.queries import recent_activity
from crm.tallies import SITE_GENERATED
from webmagic.analytics import analytics_funnel
from webmagic.sql import database_ping

DEFAULT_PERIOD = "month"
# The dashboard's campaign table: the most recently started campaigns of the period.
DASHBOARD_CAMPAIGNS = 5
DASHBOARD_METRICS = ("recipients", "sent", "opened", "clicked", "replied", "converted")


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
# filters too (created_after / created_before); the others by the day a stage was reached,
# which it cannot, so their link lists every lead that reached the stage.
STAGES_BY_CREATION = ("scraped", "qualified")


def funnel_stage_url(stage: str, period: Period) -> str:
    """The lead table filtered to a funnel stage (and to the period where it can be);
    active subscriptions are listed on the billing page."""
    if stage == "subscribed":
        return reverse("billing:billing-home") + "?tab=subscriptions&status=active"
    params = dict(STAGE_FILTERS[stage])
    if stage == "qualified":
        params["min_score"] = settings.QUALIFIED_SCORE
    if stage in STAGES_BY_CREATION:
        params |= period.lead_filter_params()
    query = urlencode(params, doseq=True)
    return reverse("crm:lead-list") + (f"?{query}" if query else "")


def dashboard_campaigns(period) -> dict:
    """The campaigns started in the period (latest first, a few) with campaigns.metrics'
    numbers, and how many there are."""
    started = metrics.campaigns_started_in(period)
    latest = list(started.order_by("-started_at", "-pk")[:DASHBOARD_CAMPAIGNS])
    measured = metrics.campaign_metrics(latest)
    legend = metrics.legend(*DASHBOARD_METRICS)
    return {
        "total": started.count(),
        "legend": legend,
        "revenue_meaning": metrics.REVENUE_MEANING,
        "rows": [
            {
                "campaign": c,
                "cells": [{"metric": m, "count": measured[c.pk].counts[m.name]} for m in legend],
                "revenue": [
                    format_money(r["cents"], r["currency"]) for r in measured[c.pk].revenue
                ],
            }
            for c in latest
        ],
    }


@staff_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    try:
        period = period_from_params(request.GET, default=DEFAULT_PERIOD)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    stages = [{**s, "href": funnel_stage_url(s["stage"], period)} for s in analytics_funnel(period)]
    revenue = revenue_by_currency(since=period.since, until=period.until)
    mrr = mrr_by_currency()
    return render(
        request,
        "crm/dashboard.html",
        {
            "period": period,
            "picker": period_choices(period, {}),
            "period_query": urlencode(period.params()),
            "stages": stages,
            "top": stages[0]["count"] if stages else 0,
            "revenue": [format_money(c, cur) for cur, c in revenue.items()] or ["$0.00"],
            "mrr": [format_money(c, cur) for cur, c in mrr.items()] or ["$0.00"],
            "billing_url": reverse("billing:billing-home"),
            "campaigns": dashboard_campaigns(period),
            "recent": recent_activity(),
        },
    )
