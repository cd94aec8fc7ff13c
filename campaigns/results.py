"""Campaign reads: results (campaigns.metrics' numbers shaped for the results page and the
JSON API), the per-recipient table and the campaigns list.

Shared by the campaign pages and the JSON API; every number comes from campaigns.metrics."""

from __future__ import annotations

from django.db.models import QuerySet

from campaigns.metrics import NAMES, CampaignMetrics, campaign_metrics, campaign_metrics_one
from campaigns.models import Campaign, Message, MessageStatus, WaitingFor
from crm.formatting import format_money

MS = MessageStatus


def money_rows(revenue: list[dict], *, key: str = "cents") -> list[dict]:
    """[{currency, cents}] → [{currency, <key>, display}] (display: '$497.00')."""
    return [
        {
            "currency": r["currency"],
            key: r["cents"],
            "display": format_money(r["cents"], r["currency"]),
        }
        for r in revenue
    ]


def campaign_results(campaign: Campaign, metrics: CampaignMetrics | None = None) -> dict:
    """Each metric as {count, rate} (leads; None where it does not apply), the messages by
    status (follow-ups included), the sending's progress, and lifetime revenue."""
    m = metrics or campaign_metrics_one(campaign)
    messages = m.messages
    return {
        "campaign": campaign.pk,
        "status": campaign.status,
        "status_reason": campaign.status_reason,
        "recipients": m.counts["recipients"],
        "metrics": {name: {"count": m.counts[name], "rate": m.rate(name)} for name in NAMES},
        "messages": messages,
        "progress": m.progress,
        "stuck_sending": messages.get(MS.SENDING, 0),
        # Queued pitches waiting for their preview site to be generated.
        "waiting_for_site": Message.objects.filter(
            campaign=campaign, status=MS.QUEUED, waiting_for=WaitingFor.SITE
        ).count(),
        "revenue": money_rows(m.revenue, key="amount_cents"),
    }


def campaign_recipients(campaign: Campaign, *, status: str = "") -> QuerySet[Message]:
    qs = Message.objects.filter(campaign=campaign).select_related("business").order_by("pk")
    if status:
        qs = qs.filter(status=status)
    return qs


def campaign_list_qs() -> QuerySet[Campaign]:
    return Campaign.objects.select_related("created_by").order_by("-created_at", "-pk")


def campaign_rows(campaigns: list[Campaign]) -> list[tuple[Campaign, CampaignMetrics]]:
    """A page of campaigns with their metrics (a few grouped queries for the whole page)."""
    metrics = campaign_metrics(campaigns)
    return [(c, metrics[c.pk]) for c in campaigns]
