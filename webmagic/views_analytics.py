"""The staff analytics page (/admin/crm/analytics/): funnel, conversion cohorts, revenue by
source, campaign performance and time to convert, each drawn as a server-rendered SVG
chart (no JavaScript, no CDN) with its numbers as a table and as CSV
(`?format=csv&chart=<name>`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from billing.models import Currency
from campaigns import metrics
from crm.csv_export import csv_response
from crm.formatting import format_days, format_money
from crm.periods import Period, period_choices, period_from_params
from crm.permissions import staff_required
from crm.queries import STALL_DAYS
from webmagic import analytics

CHART_W = 640
COLORS = {
    "open_rate": "#2e90fa",
    "click_rate": "#6172f3",
    "reply_rate": "#9e77ed",
    "purchase_rate": "#12b76a",
}
SERIES_LABELS = {
    "open_rate": "Opened",
    "click_rate": "Clicked",
    "reply_rate": "Replied",
    "purchase_rate": "Purchased",
}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@dataclass
class Table:
    """A chart's numbers: the HTML table and the CSV carry the same rows."""

    headers: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    # Raw values for CSV (cents stay integers, rates stay fractions).
    raw: list[list[Any]] = field(default_factory=list)
    raw_headers: list[str] = field(default_factory=list)


# --- SVG geometry ---------------------------------------------------------------------------


def funnel_svg(stages: list[dict[str, Any]]) -> dict[str, Any]:
    """Centred bars narrowing with the counts: a funnel."""
    bar_h, gap, top = 30, 8, 6
    inner = CHART_W - 290  # room for the label on the left and the numbers on the right
    largest = max((s["count"] for s in stages), default=0) or 1
    bars = []
    for i, s in enumerate(stages):
        w = max(2.0, inner * s["count"] / largest) if s["count"] else 0.0
        y = top + i * (bar_h + gap)
        bars.append(
            {
                "x": round(150 + (inner - w) / 2, 1),
                "y": y,
                "w": round(w, 1),
                "h": bar_h,
                "label": s["label"],
                "text_y": y + bar_h / 2 + 5,
                "count": f"{s['count']:,}",
                "rate": _pct(s["step_rate"]) if s["step_rate"] is not None else "",
                "shade": f"hsl(152, 55%, {32 + i * 6}%)",
            }
        )
    return {
        "width": CHART_W,
        "height": top * 2 + len(stages) * (bar_h + gap),
        "bars": bars,
        "count_x": 150 + inner + 10,
        "rate_x": 150 + inner + 70,
    }


def line_svg(cohorts: list[dict[str, Any]]) -> dict[str, Any]:
    """One line per rate (0–100 %) over the cohorts."""
    left, right, top, bottom = 44, 40, 12, 40
    h = 240
    plot_w, plot_h = CHART_W - left - right, h - top - bottom
    n = len(cohorts)
    top_rate = max((c[k] for c in cohorts for k in COLORS), default=0.0)
    # Round the axis up to a tidy percentage so small rates still fill the chart.
    ceiling = next((t for t in (0.04, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0) if top_rate <= t), 1.0)

    def x(i: int) -> float:
        return round(left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2), 1)

    def y(v: float) -> float:
        return round(top + plot_h * (1 - v / ceiling), 1)

    lines = []
    for key, color in COLORS.items():
        points = [(x(i), y(c[key])) for i, c in enumerate(cohorts)]
        lines.append(
            {
                "label": SERIES_LABELS[key],
                "color": color,
                "points": " ".join(f"{px},{py}" for px, py in points),
                "dots": [{"x": px, "y": py} for px, py in points],
            }
        )
    grid = [
        {"y": y(ceiling * f), "label": f"{round(ceiling * f * 100, 1):g}%"}
        for f in (0, 0.25, 0.5, 0.75, 1)
    ]
    step = max(1, n // 8)
    xlabels = [
        {"x": x(i), "label": c["cohort"].strftime("%b %d")}
        for i, c in enumerate(cohorts)
        if i % step == 0
    ]
    return {
        "width": CHART_W,
        "height": h,
        "left": left,
        "right": CHART_W - right,
        "base": top + plot_h,
        "label_y": top + plot_h + 18,
        "lines": lines,
        "grid": grid,
        "xlabels": xlabels,
    }


def bar_svg(
    items: list[tuple[str, int, str]], *, limit: int = 12, width: int = CHART_W
) -> dict[str, Any]:
    """Horizontal bars: (label, value, value text), largest first, at most `limit`."""
    items = items[:limit]
    bar_h, gap = 20, 7
    label_w, value_w = (190, 110) if width >= CHART_W else (130, 105)
    inner = width - label_w - value_w
    largest = max((v for _, v, _ in items), default=0) or 1
    bars = []
    for i, (label, value, text) in enumerate(items):
        y = 4 + i * (bar_h + gap)
        bars.append(
            {
                "y": y,
                "w": round(max(1.0, inner * value / largest) if value else 0.0, 1),
                "h": bar_h,
                "label": label if len(label) <= label_w // 7 else label[: label_w // 7 - 1] + "…",
                "full_label": label,
                "text_y": y + bar_h / 2 + 4,
                "value": text,
            }
        )
    return {
        "width": width,
        "height": 8 + len(items) * (bar_h + gap),
        "x": label_w,
        "value_x": label_w + inner + 8,
        "bars": bars,
    }


# --- the sections ---------------------------------------------------------------------------


def _funnel(period, **_) -> tuple[dict, Table]:
    stages = analytics.analytics_funnel(period)
    table = Table(
        headers=["Stage", "Leads", "From previous stage", "From scraped"],
        rows=[
            [s["label"], f"{s['count']:,}", _pct(s["step_rate"]), _pct(s["overall_rate"])]
            for s in stages
        ],
        raw_headers=["stage", "count", "step_rate", "overall_rate"],
        raw=[[s["stage"], s["count"], s["step_rate"], s["overall_rate"]] for s in stages],
    )
    return {"stages": stages, "svg": funnel_svg(stages)}, table


def _cohorts(period, group: str, **_) -> tuple[dict, Table]:
    cohorts = analytics.conversion_cohorts(period, group)
    keys = ["contacted", "opened", "clicked", "replied", "purchased"]
    rates = list(COLORS)
    table = Table(
        headers=["Cohort (first contact)", "Contacted", *[SERIES_LABELS[r] for r in rates]],
        rows=[
            [
                c["cohort"].isoformat(),
                f"{c['contacted']:,}",
                *[f"{_pct(c[r])} ({c[k]:,})" for r, k in zip(rates, keys[1:], strict=True)],
            ]
            for c in cohorts
        ],
        raw_headers=["cohort", *keys, *rates],
        raw=[
            [c["cohort"].isoformat(), *[c[k] for k in keys], *[c[r] for r in rates]]
            for c in cohorts
        ],
    )
    return {"cohorts": cohorts, "svg": line_svg(cohorts) if cohorts else None}, table


def _revenue(period, by: str, **_) -> tuple[dict, Table]:
    rows = analytics.revenue_by_source(period, by)
    currencies = sorted({r["currency"] for r in rows})
    charts = []
    for currency in currencies:
        mine = [r for r in rows if r["currency"] == currency]
        charts.append(
            {
                "currency": currency,
                "revenue": bar_svg(
                    [
                        (r["label"], r["revenue_cents"], format_money(r["revenue_cents"], currency))
                        for r in mine
                        if r["revenue_cents"]
                    ],
                    width=440,
                ),
                "mrr": bar_svg(
                    sorted(
                        [
                            (r["label"], r["mrr_cents"], format_money(r["mrr_cents"], currency))
                            for r in mine
                            if r["mrr_cents"]
                        ],
                        key=lambda item: -item[1],
                    ),
                    width=440,
                ),
            }
        )
    table = Table(
        headers=[by.capitalize(), "Currency", "Revenue", "Payments", "Customers", "MRR", "Subs"],
        rows=[
            [
                {
                    "text": r["label"],
                    "href": reverse("campaigns:campaign-detail", args=[r["campaign_id"]]),
                }
                if r.get("campaign_id")
                else r["label"],
                r["currency"],
                format_money(r["revenue_cents"], r["currency"]),
                r["payments"],
                r["customers"],
                format_money(r["mrr_cents"], r["currency"]),
                r["subscriptions"],
            ]
            for r in rows
        ],
        raw_headers=[
            by,
            "currency",
            "revenue_cents",
            "payments",
            "customers",
            "mrr_cents",
            "subscriptions",
        ],
        raw=[
            [
                r["label"],
                r["currency"],
                r["revenue_cents"],
                r["payments"],
                r["customers"],
                r["mrr_cents"],
                r["subscriptions"],
            ]
            for r in rows
        ],
    )
    return {"charts": charts}, table


# The Campaigns tab's columns: (key, label, metric whose meaning is the header's tooltip,
# sortable). Counts are leads (campaigns.metrics); rates are over the sent recipients.
CAMPAIGN_COLUMNS = [
    ("name", "Campaign", None, True),
    ("recipients", "Recipients", "recipients", False),
    ("sent", "Sent", "sent", True),
    ("delivered", "Delivered", "delivered", False),
    ("open_rate", "Opened", "opened", True),
    ("click_rate", "Clicked", "clicked", True),
    ("reply_rate", "Replied", "replied", True),
    ("unsubscribed", "Unsubscribed", "unsubscribed", False),
    ("bounced", "Bounced", "bounced", False),
    ("purchases", "Purchases", "converted", True),
    ("purchase_rate", "Purchase rate", "converted", True),
    ("revenue_cents", "Revenue", None, True),
]
CAMPAIGN_CSV = [
    "campaign_id",
    "name",
    "channel",
    "started_at",
    *[n for n in metrics.NAMES if n != "converted"],
    "purchases",
    "messages",
    "open_rate",
    "click_rate",
    "reply_rate",
    "purchase_rate",
]


def _count_rate(count: int | None, rate: float | None) -> str:
    if count is None:
        return "—"
    return f"{count:,} ({_pct(rate)})"


def _campaigns(period, sort: str, **_) -> tuple[dict, Table]:
    rows = analytics.campaign_performance(period, sort)
    currencies = list(Currency.values)

    def money(r):
        return " · ".join(format_money(m["cents"], m["currency"]) for m in r["revenue"]) or "—"

    def cells(r) -> list[dict]:
        return [
            {
                "text": r["name"],
                "href": reverse("campaigns:campaign-detail", args=[r["campaign_id"]]),
                "campaign": r["campaign_id"],
            },
            {"metric": "recipients", "value": r["recipients"], "text": f"{r['recipients']:,}"},
            {"metric": "sent", "value": r["sent"], "text": f"{r['sent']:,}"},
            {"metric": "delivered", "value": r["delivered"], "text": f"{r['delivered']:,}"},
            {
                "metric": "opened",
                "value": r["opened"],
                "text": _count_rate(r["opened"], r["open_rate"]),
            },
            {
                "metric": "clicked",
                "value": r["clicked"],
                "text": _count_rate(r["clicked"], r["click_rate"]),
            },
            {
                "metric": "replied",
                "value": r["replied"],
                "text": _count_rate(r["replied"], r["reply_rate"]),
            },
            {
                "metric": "unsubscribed",
                "value": r["unsubscribed"],
                "text": f"{r['unsubscribed']:,}",
            },
            {"metric": "bounced", "value": r["bounced"], "text": f"{r['bounced']:,}"},
            {"metric": "converted", "value": r["purchases"], "text": f"{r['purchases']:,}"},
            {
                "metric": "purchase_rate",
                "value": r["purchase_rate"],
                "text": _pct(r["purchase_rate"]),
            },
            {"metric": "revenue", "value": "", "text": money(r)},
        ]

    table = Table(
        headers=[label for _, label, _, _ in CAMPAIGN_COLUMNS],
        rows=[cells(r) for r in rows],
        raw_headers=[*CAMPAIGN_CSV, *[f"revenue_{c.lower()}_cents" for c in currencies]],
        raw=[
            [
                *[r[k] for k in CAMPAIGN_CSV],
                *[
                    next((m["cents"] for m in r["revenue"] if m["currency"] == c), 0)
                    for c in currencies
                ],
            ]
            for r in rows
        ],
    )
    chart = bar_svg(
        [(r["name"], round(r["purchase_rate"] * 10000), _pct(r["purchase_rate"])) for r in rows]
    )
    return {
        "rows": rows,
        "svg": chart,
        "ids": [r["campaign_id"] for r in rows],
        "legend": metrics.legend(),
        "meanings": {
            "revenue": metrics.REVENUE_MEANING,
            "rate": metrics.RATE_MEANING,
            "messages": metrics.MESSAGES_MEANING,
            "period": metrics.STARTED_MEANING,
        },
    }, table


def _convert(period, **_) -> tuple[dict, Table]:
    times = analytics.time_to_convert(period)
    measures = [
        ("median", "Median", times.median_days),
        ("average", "Average", times.average_days),
        ("fastest", "Fastest", times.fastest_days),
        ("slowest", "Slowest", times.slowest_days),
    ]
    table = Table(
        headers=["First contact to purchase", "Time"],
        rows=[[label, format_days(v)] for _, label, v in measures],
        raw_headers=["measure", "days", "purchases"],
        raw=[[key, v, times.converted] for key, _, v in measures],
    )
    chart = bar_svg(
        [(label, round(v * 100), format_days(v)) for _, label, v in measures if v is not None],
        limit=4,
    )
    return {"times": times, "svg": chart}, table


def _stages(period, **_) -> tuple[dict, Table]:
    stages = analytics.time_in_stage(period)
    table = Table(
        headers=[
            "Current stage",
            "Leads there now",
            "Median time there",
            "90th percentile",
            f"Stalled (> {STALL_DAYS} days)",
        ],
        rows=[
            [
                s["label"],
                f"{s['leads']:,}",
                format_days(s["median_days"]),
                format_days(s["p90_days"]),
                f"{s['stalled']:,} ({_pct(s['stalled_share'])})",
            ]
            for s in stages
        ],
        raw_headers=["status", "leads", "median_days", "p90_days", "stalled"],
        raw=[
            [s["status"], s["leads"], s["median_days"], s["p90_days"], s["stalled"]] for s in stages
        ],
    )
    chart = bar_svg(
        [
            (s["label"], round((s["median_days"] or 0) * 100), format_days(s["median_days"]))
            for s in stages
        ],
        limit=len(stages),
    )
    return {"svg": chart, "stall_days": STALL_DAYS}, table


SECTIONS: dict[str, Callable[..., tuple[dict, Table]]] = {
    "funnel": _funnel,
    "cohorts": _cohorts,
    "revenue": _revenue,
    "campaigns": _campaigns,
    "convert": _convert,
    "stages": _stages,
}


SECTION_LABELS = {
    "funnel": "Funnel",
    "cohorts": "Conversion over time",
    "revenue": "Revenue by source",
    "campaigns": "Campaigns",
    "convert": "Time to convert",
    "stages": "Where leads stall",
}


def _csv(name: str, table: Table, period: Period) -> HttpResponse:
    span = period.key if period.key != "custom" else f"{period.first_day}-{period.last_day}"
    return csv_response(f"analytics-{name}-{span}.csv", table.raw_headers, table.raw)


@staff_required
@require_GET
def analytics_page(request: HttpRequest) -> HttpResponse:
    params = request.GET
    try:
        period = period_from_params(params, default=analytics.DEFAULT_PERIOD)
        group = params.get("group") or analytics.DEFAULT_GROUPING
        by = params.get("by") or "category"
        sort = params.get("sort") or "-revenue_cents"
        if group not in analytics.GROUPINGS:
            raise ValueError(f"Unknown grouping {group!r}: use week or month.")
        if by not in analytics.DIMENSIONS:
            raise ValueError(f"Unknown grouping {by!r}: use category, city or campaign.")
        if sort.lstrip("-") not in analytics.CAMPAIGN_SORTS:
            raise ValueError(f"Unknown sort {sort!r}.")
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    section = params.get("section") or "funnel"
    if section not in SECTIONS:
        return HttpResponseBadRequest(
            f"section must be one of {', '.join(SECTIONS)}", content_type="text/plain"
        )
    choice = {**period.params(), "section": section, "group": group, "by": by, "sort": sort}
    if params.get("format") == "csv":
        chart = params.get("chart", "")
        if chart not in SECTIONS:
            return HttpResponseBadRequest(
                f"chart must be one of {', '.join(SECTIONS)}", content_type="text/plain"
            )
        _, table = SECTIONS[chart](period, group=group, by=by, sort=sort)
        return _csv(chart, table, period)
    # One chart per page load: each tab is its own request, so each stays fast at scale.
    data, table = SECTIONS[section](period, group=group, by=by, sort=sort)
    sections = {
        section: {
            **data,
            "table": table,
            "csv_url": "?" + urlencode({**choice, "format": "csv", "chart": section}),
        }
    }

    def link(**change) -> str:
        return "?" + urlencode({**choice, **change})

    sort_links = [
        {
            "label": label,
            "meaning": metrics.BY_NAME[metric].meaning if metric else "",
            "url": link(sort=(key if sort == f"-{key}" else f"-{key}")) if sortable else "",
            "active": sort.lstrip("-") == key,
            "desc": sort.startswith("-"),
        }
        for key, label, metric, sortable in CAMPAIGN_COLUMNS
    ]
    return render(
        request,
        "analytics/analytics_page.html",
        {
            "period": period,
            "choice": choice,
            "picker": period_choices(period, {k: v for k, v in choice.items() if k != "period"}),
            "groups": [(g, g.capitalize(), link(group=g)) for g in analytics.GROUPINGS],
            "dimensions": [(d, d.capitalize(), link(by=d)) for d in analytics.DIMENSIONS],
            "sections": sections,
            "tabs": [(key, label, link(section=key)) for key, label in SECTION_LABELS.items()],
            "sort_links": sort_links,
        },
    )
