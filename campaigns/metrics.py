"""Campaign metrics: the one definition of each number every surface shows — the campaigns
list, a campaign's results (table and progress line), the analytics Campaigns tab and its
CSV, the dashboard, `GET /api/v1/crm/campaigns/{id}/results` and
`GET /api/v1/crm/analytics/campaign-performance`.

Engagement metrics count **leads** (the campaign's recipients), not messages: a lead with a
first message and two follow-ups that were all opened is one opened recipient. Messages
(follow-ups included) are counted apart, by status. A metric that does not apply (opened,
for SMS) is None, shown as "—". Rates are shares of the recipients who were sent a message;
the sent rate is the share of all recipients.

Converted and revenue read the attribution stored on each checkout when it was created
(billing/attribution.py): converted = recipients whose checkout credited to the campaign was
paid; revenue = every succeeded payment of those purchases (the first charge and every
renewal: lifetime revenue), per currency. campaigns may not import billing (the layers point
the other way), so those two reads reach billing's rows through Django's model registry.

Each metric's `meaning` is the one-line legend pages and the API schema show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.apps import apps
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from campaigns.models import Campaign, Channel, Direction, Message, MessageStatus
from crm.models import Business

# --- opens -----------------------------------------------------------------------------------
# A *human* open. Every recorded open counts today. Machine opens (Apple Mail Privacy
# Protection's proxy, security scanners opening within seconds of delivery) are to be stored
# and shown but never count as engagement: when they are told apart, this condition excludes
# them, and every metric, rate and attribution below follows.
HUMAN_OPEN = Q(opened_at__isnull=False)

# --- what one message must show for its lead to count (any message of the campaign) --------
SENT = Q(sent_at__isnull=False) | Q(delivered_at__isnull=False) | Q(bounced_at__isnull=False)
DELIVERED = Q(delivered_at__isnull=False)
CLICKED = Q(clicked_at__isnull=False)
OPENED = HUMAN_OPEN | CLICKED  # a click proves the email was opened (images off)
REPLIED = Q(replied_at__isnull=False)
BOUNCED = Q(bounced_at__isnull=False)

# billing's values, named here because campaigns cannot import billing.models.
CHECKOUT_PAID = "paid"
PAYMENT_SUCCEEDED = "succeeded"


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    meaning: str
    email_only: bool = False


METRICS: tuple[Metric, ...] = (
    Metric("recipients", "Recipients", "Leads the campaign was addressed to (its audience)."),
    Metric(
        "sent",
        "Sent",
        "Recipients at least one of whose messages left (sent, delivered or bounced).",
    ),
    Metric("delivered", "Delivered", "Recipients with a message the provider delivered."),
    Metric(
        "opened",
        "Opened",
        "Recipients who opened an email (human opens; a click counts as an open). "
        "Not applicable to SMS.",
        email_only=True,
    ),
    Metric("clicked", "Clicked", "Recipients who clicked a message's link."),
    Metric("replied", "Replied", "Recipients who replied to a message."),
    Metric(
        "unsubscribed",
        "Unsubscribed",
        "Recipients who opted out of the channel when this campaign's message was the last "
        "one they had been sent on it.",
    ),
    Metric("bounced", "Bounced", "Recipients with a message that hard-bounced."),
    Metric(
        "converted",
        "Converted",
        "Recipients who purchased: their checkout, credited to this campaign when it was "
        "created, was paid.",
    ),
)
BY_NAME = {m.name: m for m in METRICS}
NAMES = tuple(m.name for m in METRICS)
REVENUE_MEANING = (
    "Every succeeded payment of the campaign's purchases — the first charge and every "
    "renewal (lifetime revenue) — per currency."
)
RATE_MEANING = "Share of the sent recipients (sent: share of all recipients)."
MESSAGES_MEANING = "Messages, follow-ups included, by their current status (not leads)."
PURCHASES_MEANING = BY_NAME["converted"].meaning  # campaign-performance's name for it
STARTED_MEANING = "A period selects the campaigns started in it; their numbers are lifetime."


def legend(*names: str) -> list[Metric]:
    """The metrics (by name, all by default) a page's legend explains."""
    return [BY_NAME[n] for n in names] if names else list(METRICS)


@dataclass
class CampaignMetrics:
    campaign_id: int
    channel: str
    counts: dict[str, int | None]
    revenue: list[dict[str, Any]] = field(default_factory=list)  # [{currency, cents}]
    messages: dict[str, int] = field(default_factory=dict)  # status → n, total, followups

    def rate(self, name: str) -> float | None:
        value = self.counts.get(name)
        if value is None or name == "recipients":
            return None
        whole = self.counts["recipients"] if name == "sent" else self.counts["sent"]
        return round(value / whole, 4) if whole else 0.0

    @property
    def rates(self) -> dict[str, float | None]:
        return {name: self.rate(name) for name in NAMES}

    def revenue_cents(self, currency: str) -> int:
        return next((r["cents"] for r in self.revenue if r["currency"] == currency), 0)

    @property
    def progress(self) -> float:
        """Share of the messages that are done (neither queued nor sending)."""
        total = self.messages.get("total", 0)
        waiting = self.messages.get(MessageStatus.QUEUED, 0) + self.messages.get(
            MessageStatus.SENDING, 0
        )
        return round((total - waiting) / total, 4) if total else 0.0


def _ids(campaigns: Iterable[Campaign | int]) -> list[int]:
    return sorted({c.pk if isinstance(c, Campaign) else int(c) for c in campaigns})


def _lead_counts(ids: list[int]) -> dict[int, dict[str, int]]:
    """One grouped pass over the campaigns' outbound messages: distinct leads per metric,
    and the message counts per status."""
    lead = "business_id"
    statuses = {
        f"status_{s}": Count("id", filter=Q(status=s))
        for s in MessageStatus.values
        if s != MessageStatus.RECEIVED
    }
    rows = (
        Message.objects.filter(campaign_id__in=ids, direction=Direction.OUTBOUND)
        .order_by()
        .values("campaign_id")
        .annotate(
            recipients=Count(lead, distinct=True),
            sent=Count(lead, filter=SENT, distinct=True),
            delivered=Count(lead, filter=DELIVERED, distinct=True),
            opened=Count(lead, filter=OPENED, distinct=True),
            clicked=Count(lead, filter=CLICKED, distinct=True),
            replied=Count(lead, filter=REPLIED, distinct=True),
            bounced=Count(lead, filter=BOUNCED, distinct=True),
            total=Count("id"),
            followups=Count("id", filter=Q(step__gt=1)),
            **statuses,
        )
    )
    return {r.pop("campaign_id"): r for r in rows}


def _opt_out_campaigns(channel: str, campaign_ids: QuerySet | list[int]) -> QuerySet:
    """Leads who opted out of `channel`, with the campaign of the last message sent to them
    on it at or before their opt-out (None when a one-off message was that last one)."""
    opted = "email_opt_out_at" if channel == Channel.EMAIL else "sms_opt_out_at"
    last = (
        Message.objects.filter(
            business_id=OuterRef("pk"),
            direction=Direction.OUTBOUND,
            channel=channel,
            sent_at__lte=OuterRef(opted),
        )
        .order_by("-sent_at", "-pk")
        .values("campaign_id")[:1]
    )
    # Driven from the opted-out leads (a few percent of all): one index probe each.
    return (
        Business.objects.filter(**{f"{opted}__isnull": False})
        .annotate(credited=Subquery(last))
        .filter(credited__in=campaign_ids)
    )


def _unsubscribed(ids: list[int], channels: dict[int, str]) -> dict[int, int]:
    out: dict[int, int] = {}
    for channel in (Channel.EMAIL, Channel.SMS):
        mine = [pk for pk in ids if channels.get(pk) == channel]
        if not mine:
            continue
        rows = (
            _opt_out_campaigns(channel, mine)
            .order_by()
            .values("credited")
            .annotate(n=Count("pk", distinct=True))
        )
        out.update({r["credited"]: r["n"] for r in rows})
    return out


def _converted(ids: list[int]) -> dict[int, int]:
    checkout = apps.get_model("billing", "Checkout")
    rows = (
        checkout.objects.filter(campaign_id__in=ids, status=CHECKOUT_PAID)
        .order_by()
        .values("campaign_id")
        .annotate(n=Count("business_id", distinct=True))
    )
    return {r["campaign_id"]: r["n"] for r in rows}


def revenue_by_campaign(
    *,
    campaign_ids: list[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Succeeded payments per credited campaign (None: no campaign) and currency, paid in
    [since, until) when given: cents, payments and paying leads. A renewal has no checkout
    of its own; it is credited through its subscription's checkout."""
    payment = apps.get_model("billing", "Payment")
    credited = Coalesce(F("checkout__campaign_id"), F("subscription__checkout__campaign_id"))
    qs = payment.objects.filter(status=PAYMENT_SUCCEEDED).annotate(campaign=credited)
    if since is not None:
        qs = qs.filter(paid_at__gte=since)
    if until is not None:
        qs = qs.filter(paid_at__lt=until)
    if campaign_ids is not None:
        qs = qs.filter(campaign__in=campaign_ids)
    rows = (
        qs.order_by()
        .values("campaign", "currency")
        .annotate(
            cents=Sum("amount_cents"),
            payments=Count("id"),
            leads=Count("business_id", distinct=True),
        )
        .order_by("campaign", "currency")
    )
    return [
        {
            "campaign_id": r["campaign"],
            "currency": r["currency"],
            "cents": int(r["cents"] or 0),
            "payments": r["payments"],
            "leads": r["leads"],
        }
        for r in rows
    ]


def campaign_metrics(campaigns: Iterable[Campaign | int]) -> dict[int, CampaignMetrics]:
    """Every metric of each campaign (lifetime): a few grouped queries for any number."""
    campaigns = list(campaigns)
    ids = _ids(campaigns)
    if not ids:
        return {}
    if all(isinstance(c, Campaign) for c in campaigns):
        channels = {c.pk: c.channel for c in campaigns}
    else:
        channels = dict(Campaign.objects.filter(pk__in=ids).values_list("pk", "channel"))
    leads = _lead_counts(ids)
    unsubscribed = _unsubscribed(ids, channels)
    converted = _converted(ids)
    revenue: dict[int, list[dict[str, Any]]] = {}
    for r in revenue_by_campaign(campaign_ids=ids):
        revenue.setdefault(r["campaign_id"], []).append(
            {"currency": r["currency"], "cents": r["cents"]}
        )
    out = {}
    for pk in ids:
        if pk not in channels:
            continue
        row = leads.get(pk, {})
        counts: dict[str, int | None] = {
            name: int(row.get(name, 0)) for name in ("recipients", "sent", "delivered")
        }
        counts["opened"] = int(row.get("opened", 0)) if channels[pk] == Channel.EMAIL else None
        counts.update(
            clicked=int(row.get("clicked", 0)),
            replied=int(row.get("replied", 0)),
            unsubscribed=unsubscribed.get(pk, 0),
            bounced=int(row.get("bounced", 0)),
            converted=converted.get(pk, 0),
        )
        messages = {
            s: int(row.get(f"status_{s}", 0))
            for s in MessageStatus.values
            if s != MessageStatus.RECEIVED
        }
        messages["total"] = int(row.get("total", 0))
        messages["followups"] = int(row.get("followups", 0))
        out[pk] = CampaignMetrics(
            campaign_id=pk,
            channel=channels[pk],
            counts=counts,
            revenue=revenue.get(pk, []),
            messages=messages,
        )
    return out


def campaign_metrics_one(campaign: Campaign | int) -> CampaignMetrics:
    pk = campaign.pk if isinstance(campaign, Campaign) else int(campaign)
    return campaign_metrics([campaign])[pk]


def campaigns_started_in(period) -> QuerySet[Campaign]:
    """The campaigns a period selects: started in it (all of them for All time)."""
    qs = Campaign.objects.all()
    if period is None or period.is_all:
        return qs
    return period.filter(qs, "started_at")
