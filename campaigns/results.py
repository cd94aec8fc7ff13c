"""Campaign reads: results (counts and rates), progress, the per-recipient table.

Shared by the campaign pages and the JSON API."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum

from campaigns.models import Campaign, Direction, Message, MessageStatus, WaitingFor
from crm.models import Business

MS = MessageStatus
METRICS = (
    "sent",
    "delivered",
    "opened",
    "clicked",
    "replied",
    "unsubscribed",
    "bounced",
    "converted",
)


def campaign_results(campaign: Campaign) -> dict:
    """Counts (distinct leads) and rates (over leads sent to) of every funnel metric, the
    progress of the sending, and revenue from leads of the campaign who purchased since."""
    out = Message.objects.filter(campaign=campaign, direction=Direction.OUTBOUND)
    sent_q = Q(messages__sent_at__isnull=False) | Q(
        messages__status__in=[MS.SENT, MS.DELIVERED, MS.BOUNCED]
    )
    mine = Q(messages__campaign=campaign)
    leads = Business.objects.filter(mine)
    since = campaign.started_at or campaign.created_at
    agg = leads.aggregate(
        recipients=Count("pk", distinct=True),
        sent=Count("pk", filter=mine & sent_q, distinct=True),
        delivered=Count("pk", filter=mine & Q(messages__delivered_at__isnull=False), distinct=True),
        opened=Count("pk", filter=mine & Q(messages__opened_at__isnull=False), distinct=True),
        clicked=Count("pk", filter=mine & Q(messages__clicked_at__isnull=False), distinct=True),
        replied=Count("pk", filter=mine & Q(messages__replied_at__isnull=False), distinct=True),
        bounced=Count(
            "pk",
            filter=mine & (Q(messages__status=MS.BOUNCED) | Q(messages__bounced_at__isnull=False)),
            distinct=True,
        ),
        converted=Count(
            "pk",
            filter=mine & (Q(messages__converted_at__isnull=False) | Q(contact_status="purchased")),
            distinct=True,
        ),
        unsubscribed=Count(
            "pk",
            filter=mine
            & (
                Q(email_opt_out_at__gte=since)
                | Q(sms_opt_out_at__gte=since)
                | Q(contact_status="unsubscribed")
            ),
            distinct=True,
        ),
    )
    sent = agg["sent"]
    metrics = {
        name: {
            "count": agg[name],
            "rate": round(agg[name] / sent, 4) if sent and name != "sent" else (1.0 if sent else 0),
        }
        for name in METRICS
    }
    by_status = dict(
        out.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    total = sum(by_status.values())
    done = total - by_status.get(MS.QUEUED, 0) - by_status.get(MS.SENDING, 0)
    return {
        "campaign": campaign.pk,
        "status": campaign.status,
        "status_reason": campaign.status_reason,
        "recipients": agg["recipients"],
        "metrics": metrics,
        "messages": {"total": total, **{s: by_status.get(s, 0) for s in MS.values}},
        "progress": round(done / total, 4) if total else 0.0,
        "stuck_sending": by_status.get(MS.SENDING, 0),
        # Queued pitches waiting for their preview site to be generated.
        "waiting_for_site": out.filter(status=MS.QUEUED, waiting_for=WaitingFor.SITE).count(),
        "revenue": campaign_revenue(campaign),
    }


def campaign_revenue(campaign: Campaign) -> list[dict]:
    """Succeeded payments of the campaign's leads since it started, by currency (billing's
    rows reached through the lead's reverse relation: campaigns does not import billing)."""
    since = campaign.started_at or campaign.created_at
    rows = (
        Business.objects.filter(
            pk__in=Message.objects.filter(campaign=campaign).values("business_id"),
            payments__status="succeeded",
            payments__paid_at__gte=since,
        )
        .values("payments__currency")
        .annotate(cents=Sum("payments__amount_cents"))
        .order_by("payments__currency")
    )
    return [{"currency": r["payments__currency"], "amount_cents": r["cents"] or 0} for r in rows]


def campaign_recipients(campaign: Campaign, *, status: str = "") -> QuerySet[Message]:
    qs = Message.objects.filter(campaign=campaign).select_related("business").order_by("pk")
    if status:
        qs = qs.filter(status=status)
    return qs


def campaign_list_qs() -> QuerySet[Campaign]:
    return (
        Campaign.objects.annotate(
            n_messages=Count("messages"),
            n_sent=Count("messages", filter=Q(messages__sent_at__isnull=False)),
            n_queued=Count("messages", filter=Q(messages__status=MS.QUEUED)),
        )
        .select_related("created_by")
        .order_by("-created_at", "-pk")
    )
