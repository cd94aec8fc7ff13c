"""Pages that compose every app: the home redirect, the health check and the staff
dashboard (pipeline funnel, revenue, campaigns), which needs sites, campaigns and billing
rows."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from billing.queries import mrr_by_currency, revenue_by_currency
from campaigns import metrics
from crm.formatting import format_money
from crm.periods import period_choices, period_from_params
from crm.permissions import staff_required
from crm.queries import recent_activity
from webmagic.analytics import analytics_funnel
from webmagic.sql import database_ping

DEFAULT_PERIOD = "month"
# The dashboard's campaign table: the most recently started campaigns of the period.
DASHBOARD_CAMPAIGNS = 5
DASHBOARD_METRICS = ("recipients", "sent", "opened", "clicked", "replied", "converted")


def home(request: HttpRequest) -> HttpResponse:
    return redirect("crm:dashboard")


def healthz(request: HttpRequest) -> JsonResponse:
    database_ping()
    return JsonResponse({"ok": True})


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
    stages = analytics_funnel(period)
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
            "campaigns": dashboard_campaigns(period),
            "recent": recent_activity(),
        },
    )
