"""The contact policy (DESIGN.md, "Definitions every surface shares"): one first-touch pitch
per lead within CONTACT_COOLDOWN_DAYS, across every campaign and both channels.

A lead is **held by another campaign** when one of that campaign's messages to it is still to
go out (`queued`), or went out or may have (`sending`, `unknown`, `sent`, `delivered`,
`bounced`) within the cooldown. A lead was **contacted recently** when its
`last_contacted_at` (any message that went out, one-off replies included) is within the
cooldown.

Checked three times with these definitions:
- the audience preview and the start, set-based (`holder_subquery` and
  `contacted_recently` inside campaigns.audience's one CASE); starts are serialised
  (`starts_serialised`), so two starts racing over the same leads cannot both take one;
- the send-time claim (`pitch_refusal`, under the lead's row lock, just before
  queued → sending): there another campaign's *queued* message does not hold the lead
  (whichever is claimed first goes), one that is sending or went out does.

A campaign's own follow-up steps are its sequence and stay allowed. A campaign whose
cooldown staff overrode (explicitly, recorded on the campaign: who and when) skips these
two rules; opt-outs, suppression and every other check still apply.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from campaigns import sql
from campaigns.models import Campaign, Direction, Message, MessageStatus
from crm.models import Business

MS = MessageStatus
# Statuses of a message that reached (or may have reached) the lead.
WENT_OUT = (MS.SENT, MS.DELIVERED, MS.BOUNCED)
MAYBE_OUT = (MS.SENDING, MS.UNKNOWN)

IN_OTHER_CAMPAIGN = "in_other_campaign"
COOLDOWN = "cooldown"


def cooldown_start(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.CONTACT_COOLDOWN_DAYS)


def overridden(campaign: Campaign | None) -> bool:
    return campaign is not None and campaign.cooldown_overridden_at is not None


def holding(*, now: datetime, include_queued: bool) -> Q:
    """Messages (of any campaign) that hold their lead: see the module docstring."""
    since = cooldown_start(now)
    q = Q(status__in=WENT_OUT, sent_at__gte=since) | Q(
        status__in=MAYBE_OUT, sending_started_at__gte=since
    )
    if include_queued:
        q |= Q(status=MS.QUEUED)
    return q


def _holders(
    *, business, exclude_campaign_id: int | None, now: datetime, include_queued: bool
) -> QuerySet[Message]:
    qs = Message.objects.filter(
        holding(now=now, include_queued=include_queued),
        campaign__isnull=False,
        direction=Direction.OUTBOUND,
    )
    if business is not None:
        qs = qs.filter(business_id=business)
    if exclude_campaign_id:
        qs = qs.exclude(campaign_id=exclude_campaign_id)
    return qs.order_by("-created_at", "-pk")


def holder_subquery(*, campaign: Campaign | None, now: datetime) -> Subquery:
    """For each lead (OuterRef "pk"), the id of another campaign holding it, or NULL."""
    return Subquery(
        _holders(
            business=OuterRef("pk"),
            exclude_campaign_id=campaign.pk if campaign is not None else None,
            now=now,
            include_queued=True,
        ).values("campaign_id")[:1]
    )


def held_leads(*, campaign: Campaign, now: datetime) -> QuerySet[Message]:
    """The ids of every lead another campaign holds (`business_id` values): the start's
    INSERT … SELECT anti-joins this set, read once before it writes (campaigns.services)."""
    return (
        _holders(business=None, exclude_campaign_id=campaign.pk, now=now, include_queued=True)
        .order_by()
        .values("business_id")
    )


def contacted_recently(now: datetime) -> Q:
    """Leads whose last contact (any channel, any campaign, a one-off too) is in the cooldown."""
    return Q(last_contacted_at__gte=cooldown_start(now))


def in_other_campaign_label(name: str) -> str:
    return f"In another campaign: {name}"


def pitch_refusal(*, message: Message, now: datetime | None = None) -> tuple[str, str] | None:
    """(reason, text) when this campaign message may not go to its lead now under the
    policy; None when it may. Call it under the lead's row lock, right before the claim
    (campaigns.sending.message_send), so two claims for one lead see each other."""
    campaign = message.campaign
    if campaign is None or overridden(campaign):
        return None
    now = now or timezone.now()
    holder = (
        _holders(
            business=message.business_id,
            exclude_campaign_id=campaign.pk,
            now=now,
            include_queued=False,
        )
        .select_related("campaign")
        .first()
    )
    if holder is not None:
        return IN_OTHER_CAMPAIGN, in_other_campaign_label(holder.campaign.name)
    if message.step <= 1:
        last = (
            Business.objects.filter(pk=message.business_id)
            .values_list("last_contacted_at", flat=True)
            .first()
        )
        if last is not None and last >= cooldown_start(now):
            return COOLDOWN, "Contacted recently (cooldown)"
    return None


def starts_serialised() -> None:
    """Within the caller's transaction, no other campaign start runs (see campaigns.sql)."""
    sql.campaign_starts_lock()
