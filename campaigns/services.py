"""Campaign writes: create, start (set-based), schedule, pause, resume, cancel, follow-ups,
the deliverability guard, and one-off messages (campaign NULL).

Status changes of a Campaign are conditional UPDATEs (compare-and-set on the status), so a
double-clicked button or a retried API call never starts a campaign twice.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from campaigns import audience as audience_mod
from campaigns.lifecycle import messages_cancel_queued
from campaigns.models import (
    Campaign,
    CampaignStatus,
    Channel,
    Direction,
    Message,
    MessageStatus,
)
from campaigns.sending import (
    REASONS,
    SendRefused,
    message_send,
    refusal_reason,
    site_for,
    sms_quiet_until,
)
from crm.models import Business, ContactStatus, LeadEvent, LeadEventKind

logger = logging.getLogger(__name__)

CS = CampaignStatus
MS = MessageStatus


class CampaignError(ValueError):
    """A campaign action that is not allowed now (e.g. resume a cancelled campaign)."""


def new_token() -> str:
    return secrets.token_hex(16)


# --- one-off messages -------------------------------------------------------------------------


def message_send_oneoff(
    *,
    business: Business,
    channel: str,
    subject: str = "",
    body: str,
    site=None,
    actor=None,
    in_reply_to: Message | None = None,
) -> Message:
    """Send one message outside any campaign (a staff reply, a checkout reminder).

    Honours suppression, opt-outs, SMS consent and quiet hours; raises SendRefused(reason)
    without creating anything when the lead may not be contacted now. Merge fields
    (`{{ preview_url }}`, …) work as in campaigns. A provider error does not raise: the
    returned Message is `failed` with the error recorded.
    """
    if channel not in Channel.values:
        raise SendRefused("bad_channel", f"Unknown channel {channel!r}.")
    if not (body or "").strip():
        raise SendRefused("empty", "The message body is empty.")
    if channel == Channel.EMAIL and not (subject or "").strip():
        raise SendRefused("empty", "An email needs a subject.")
    business = Business.objects.get(pk=business.pk)
    if reason := refusal_reason(business, channel, marketing=False):
        raise SendRefused(reason)
    if channel == Channel.SMS and (until := sms_quiet_until(business)):
        raise SendRefused(
            "quiet_hours",
            f"Quiet hours in the lead's time zone; texts may go after {until:%Y-%m-%d %H:%M} UTC.",
            retry_at=until,
        )
    message = Message.objects.create(
        business=business,
        site=site if site is not None else site_for(business),
        in_reply_to=in_reply_to,
        channel=channel,
        direction=Direction.OUTBOUND,
        to_address=business.email if channel == Channel.EMAIL else _sms_address(business),
        subject=subject[:300],
        body=body,
        token=new_token(),
    )
    message_send(message=message)
    message.refresh_from_db()
    if actor is not None and getattr(actor, "is_authenticated", False):
        LeadEvent.objects.filter(message=message, kind=LeadEventKind.MESSAGE_SENT).update(
            actor=actor
        )
    return message


def _sms_address(business: Business) -> str:
    return business.phone_normalized


# --- create / start ---------------------------------------------------------------------------


def campaign_create(
    *,
    name: str,
    channel: str = Channel.EMAIL,
    audience_query: str = "",
    audience_ids: list[int] | None = None,
    subject_template: str = "",
    body_template: str = "",
    scheduled_at: datetime | None = None,
    send_rate_per_minute: int = 30,
    daily_cap: int = 1000,
    followups: list[dict[str, Any]] | None = None,
    created_by=None,
    idempotency_key: str | None = None,
) -> Campaign:
    """A draft campaign. With an idempotency key, a retry returns the campaign it made."""
    if idempotency_key:
        existing = Campaign.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            return _campaign_insert(
                name=name,
                channel=channel,
                audience_query=audience_query,
                audience_ids=audience_ids,
                subject_template=subject_template,
                body_template=body_template,
                scheduled_at=scheduled_at,
                send_rate_per_minute=send_rate_per_minute,
                daily_cap=daily_cap,
                followups=followups,
                created_by=created_by,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        # Two requests with one idempotency key at the same instant: the other one won.
        existing = Campaign.objects.filter(idempotency_key=idempotency_key).first()
        if idempotency_key and existing is not None:
            return existing
        raise


def _campaign_insert(
    *,
    name,
    channel,
    audience_query,
    audience_ids,
    subject_template,
    body_template,
    scheduled_at,
    send_rate_per_minute,
    daily_cap,
    followups,
    created_by,
    idempotency_key,
) -> Campaign:
    return Campaign.objects.create(
        name=name,
        channel=channel,
        audience_query=audience_query,
        audience_ids=sorted({int(i) for i in audience_ids or []}),
        subject_template=subject_template,
        body_template=body_template,
        scheduled_at=scheduled_at,
        send_rate_per_minute=send_rate_per_minute,
        daily_cap=daily_cap,
        followups=followups or [],
        created_by=created_by if getattr(created_by, "is_authenticated", False) else None,
        idempotency_key=idempotency_key or None,
    )


def campaign_start(*, campaign: Campaign | int, now: datetime | None = None) -> Campaign:
    """Freeze the audience into one queued Message per recipient (one INSERT … SELECT) and
    hand the due ones to django-q2 in chunks. A campaign scheduled for later becomes
    `scheduled`; the dispatcher starts it when its time comes.

    Safe to retry: only a draft campaign is started; a started one is returned as it is."""
    now = now or timezone.now()
    pk = campaign.pk if isinstance(campaign, Campaign) else int(campaign)
    with transaction.atomic():
        row = Campaign.objects.select_for_update().get(pk=pk)
        if row.status != CS.DRAFT:
            return row
        start_at = max(row.scheduled_at or now, now)
        inserted = messages_insert(campaign=row, start_at=start_at, now=now)
        status = CS.SCHEDULED if start_at > now + timedelta(seconds=30) else CS.SENDING
        Campaign.objects.filter(pk=pk).update(
            status=status,
            started_at=now if status == CS.SENDING else None,
            status_reason=f"{inserted} recipients",
        )
        transaction.on_commit(lambda: _after_start(pk))
    row.refresh_from_db()
    return row


def _after_start(pk: int) -> None:
    from campaigns import tasks

    tasks.ensure_dispatch_schedule()
    tasks.campaign_dispatch(campaign_id=pk)


def _sql_send_after(vendor: str) -> str:
    """SQL for `start + offset seconds` of the n-th recipient (pacing and daily cap)."""
    offset = "(((rn - 1) / %s) * 86400 + ((rn - 1) %% %s) * 60.0 / %s)"
    if vendor == "postgresql":
        return f"(%s::timestamptz + {offset} * interval '1 second')"
    return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', %s, '+' || {offset} || ' seconds')"


def _sql_token(vendor: str) -> str:
    if vendor == "postgresql":
        return "replace(gen_random_uuid()::text, '-', '')"
    return "lower(hex(randomblob(16)))"


def messages_insert(*, campaign: Campaign, start_at: datetime, now: datetime, step: int = 1) -> int:
    """One INSERT … SELECT of the campaign's eligible audience; returns the rows inserted.

    Called only for a draft campaign (campaign_start holds its row lock), so it has no
    messages yet; the unique (campaign, business, step) constraint backs that up."""
    eligible = audience_mod.audience_eligible(campaign=campaign, now=now, check_existing=False)
    to_field = "email" if campaign.channel == Channel.EMAIL else "to_sms"
    base = eligible.annotate(
        to_sms=audience_mod.sms_address_expression(),
        site_pick=audience_mod.site_subquery(),
    ).values_list("pk", to_field, "site_pick")
    base_sql, base_params = base.query.sql_with_params()
    vendor = connection.vendor
    if vendor == "sqlite":
        # Django stores naive UTC text in SQLite.
        start_value: Any = start_at.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
        now_value: Any = now.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    else:
        start_value, now_value = start_at, now
    rate = max(1, campaign.send_rate_per_minute)
    cap = max(1, campaign.daily_cap)
    sql = f"""
        INSERT INTO campaigns_message (
            campaign_id, step, direction, business_id, site_id, channel, to_address,
            from_address, subject, body, status, token, send_after, opened_count,
            clicked_count, error, created_at
        )
        SELECT %s, %s, 'outbound', b_id, b_site, %s, b_to, '', '', '', 'queued',
               {_sql_token(vendor)}, {_sql_send_after(vendor)}, 0, 0, '', %s
        FROM (
            SELECT src.*, row_number() OVER (ORDER BY src.b_id) AS rn
            FROM ({base_sql}) AS src (b_id, b_to, b_site)
        ) AS numbered
    """
    if vendor == "sqlite":
        # SQLite has no column list on a derived-table alias: name the columns in a CTE.
        sql = f"""
            WITH src (b_id, b_to, b_site) AS ({base_sql})
            INSERT INTO campaigns_message (
                campaign_id, step, direction, business_id, site_id, channel, to_address,
                from_address, subject, body, status, token, send_after, opened_count,
                clicked_count, error, created_at
            )
            SELECT %s, %s, 'outbound', b_id, b_site, %s, b_to, '', '', '', 'queued',
                   {_sql_token(vendor)}, {_sql_send_after(vendor)}, 0, 0, '', %s
            FROM (SELECT src.*, row_number() OVER (ORDER BY b_id) AS rn FROM src) AS numbered
        """
        params = (
            *base_params, campaign.pk, step, campaign.channel, start_value, cap, cap, rate,
            now_value,
        )  # fmt: skip
    else:
        params = (
            campaign.pk, step, campaign.channel, start_value, cap, cap, rate, now_value,
            *base_params,
        )  # fmt: skip
    with connection.cursor() as cursor:
        if vendor == "postgresql" and connection.in_atomic_block:
            # The per-row site subquery inflates the estimate past JIT's threshold; compiling
            # costs more (≈1.4 s) than it saves on this plan.
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        return cursor.rowcount


# --- pause / resume / cancel ------------------------------------------------------------------


def _transition(pk: int, from_: list[str], to: str, reason: str = "", **fields: Any) -> bool:
    return bool(
        Campaign.objects.filter(pk=pk, status__in=from_).update(
            status=to, status_reason=reason[:300], **fields
        )
    )


def _pk(campaign: Campaign | int) -> int:
    return campaign.pk if isinstance(campaign, Campaign) else int(campaign)


def campaign_pause(*, campaign: Campaign | int, reason: str = "Paused by staff") -> bool:
    """Stop sending; queued messages wait. Workers check the status before every send."""
    return _transition(_pk(campaign), [CS.SENDING, CS.SCHEDULED], CS.PAUSED, reason)


def campaign_resume(*, campaign: Campaign | int, now: datetime | None = None) -> bool:
    """Go on sending a paused campaign, paced again from now at the configured rate."""
    now = now or timezone.now()
    pk = _pk(campaign)
    with transaction.atomic():
        row = Campaign.objects.select_for_update().get(pk=pk)
        if row.status != CS.PAUSED:
            return False
        _restagger(row, now)
        Campaign.objects.filter(pk=pk).update(
            status=CS.SENDING,
            status_reason="Resumed",
            started_at=row.started_at or now,
            dispatched_until=None,
        )
        transaction.on_commit(lambda: _after_start(pk))
    return True


def _restagger(campaign: Campaign, now: datetime) -> None:
    """Give the still-queued messages fresh send times from `now`, at the campaign's pace
    (one UPDATE … FROM with row_number, like the start's INSERT … SELECT)."""
    vendor = connection.vendor
    start_value: Any = now
    if vendor == "sqlite":
        start_value = now.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    rate = max(1, campaign.send_rate_per_minute)
    cap = max(1, campaign.daily_cap)
    sql = f"""
        UPDATE campaigns_message SET send_after = {_sql_send_after(vendor)}
        FROM (
            SELECT id AS numbered_id, row_number() OVER (ORDER BY send_after, id) AS rn
            FROM campaigns_message WHERE campaign_id = %s AND status = 'queued'
        ) AS numbered
        WHERE campaigns_message.id = numbered.numbered_id AND campaigns_message.status = 'queued'
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, (start_value, cap, cap, rate, campaign.pk))


def campaign_cancel(*, campaign: Campaign | int, reason: str = "Cancelled by staff") -> bool:
    """Stop for good: every still-queued message is cancelled."""
    pk = _pk(campaign)
    with transaction.atomic():
        if not _transition(
            pk, [CS.DRAFT, CS.SCHEDULED, CS.SENDING, CS.PAUSED], CS.CANCELLED, reason,
            completed_at=timezone.now(),
        ):  # fmt: skip
            return False
        messages_cancel_queued(campaign_id=pk, reason="campaign cancelled")
    return True


def campaign_activate_due(*, now: datetime | None = None) -> int:
    """Scheduled campaigns whose time has come start sending."""
    now = now or timezone.now()
    return Campaign.objects.filter(status=CS.SCHEDULED, scheduled_at__lte=now).update(
        status=CS.SENDING, started_at=now, status_reason="Started on schedule"
    )


def campaign_complete_if_done(*, campaign: Campaign | int, now: datetime | None = None) -> bool:
    """sending → completed once nothing is queued and no follow-up step can still come."""
    now = now or timezone.now()
    row = Campaign.objects.filter(pk=_pk(campaign)).first()
    if row is None or row.status != CS.SENDING:
        return False
    if Message.objects.filter(campaign=row, status=MS.QUEUED).exists():
        return False
    if row.followups and _followups_pending(row, now):
        return False
    return _transition(row.pk, [CS.SENDING], CS.COMPLETED, "All messages handled", completed_at=now)


# --- follow-up steps ------------------------------------------------------------------------

STOPS_SEQUENCE = [
    ContactStatus.REPLIED,
    ContactStatus.INTERESTED,
    ContactStatus.PURCHASED,
    ContactStatus.UNSUBSCRIBED,
    ContactStatus.BOUNCED,
]


def _followup_candidates(campaign: Campaign, step: int, now: datetime):
    """Messages of `step - 1` old enough for `step`, whose lead neither replied nor clicked,
    and did not unsubscribe, bounce or purchase since."""
    spec = campaign.followups[step - 2]
    after = timedelta(days=float(spec.get("after_days", 3)))
    return (
        Message.objects.filter(
            campaign=campaign,
            step=step - 1,
            status__in=[MS.SENT, MS.DELIVERED],
            replied_at__isnull=True,
            clicked_at__isnull=True,
            converted_at__isnull=True,
        )
        .exclude(business__contact_status__in=STOPS_SEQUENCE)
        .filter(sent_at__lte=now - after)
        .exclude(
            Exists(
                Message.objects.filter(
                    campaign=campaign, step=step, business_id=OuterRef("business_id")
                )
            )
        )
    ), after


def _followups_pending(campaign: Campaign, now: datetime) -> bool:
    for step in range(2, len(campaign.followups) + 2):
        spec = campaign.followups[step - 2]
        after = timedelta(days=float(spec.get("after_days", 3)))
        waiting = Message.objects.filter(
            campaign=campaign,
            step=step - 1,
            status__in=[MS.SENT, MS.DELIVERED],
            replied_at__isnull=True,
            clicked_at__isnull=True,
            sent_at__gt=now - after,
        ).exclude(business__contact_status__in=STOPS_SEQUENCE)
        if waiting.exists():
            return True
    return False


def campaign_followups_create(*, campaign: Campaign | int, now: datetime | None = None) -> int:
    """Queue the follow-up steps that are due. Suppression and opt-outs are checked again
    at send time, like every message."""
    now = now or timezone.now()
    row = Campaign.objects.get(pk=_pk(campaign))
    if row.status != CS.SENDING or not row.followups:
        return 0
    created = 0
    # Paced like the first step; the dispatcher hands out the ones already inside its
    # window (campaigns.tasks.campaign_dispatch(..., also=...)).
    base = now
    rate = max(1, row.send_rate_per_minute)
    cap = max(1, row.daily_cap)
    for step in range(2, len(row.followups) + 2):
        candidates, _ = _followup_candidates(row, step, now)
        rows = [
            Message(
                campaign=row,
                step=step,
                business_id=m.business_id,
                site_id=m.site_id,
                channel=row.channel,
                to_address=m.to_address,
                token=new_token(),
                send_after=base + timedelta(seconds=(n // cap) * 86400 + (n % cap) * 60.0 / rate),
                created_at=now,
            )
            for n, m in enumerate(
                candidates.order_by("pk").only("business_id", "site_id", "to_address")[:5000]
            )
        ]
        created += len(Message.objects.bulk_create(rows, ignore_conflicts=True))
    return created


def followups_inside_window(*, campaign: Campaign | int, since: datetime | None) -> list[int]:
    """Queued follow-up messages due before the dispatcher's window end `since` (the window
    filter would otherwise skip them: they were created after it moved)."""
    if since is None:
        return []
    return list(
        Message.objects.filter(
            campaign_id=_pk(campaign), step__gt=1, status=MS.QUEUED, send_after__lte=since
        )
        .order_by("send_after", "pk")
        .values_list("pk", flat=True)
    )


# --- deliverability guard -------------------------------------------------------------------


def campaign_rates(campaign: Campaign | int) -> dict[str, float | int]:
    """Hard-bounce and complaint rates over the messages that went out."""
    pk = _pk(campaign)
    out = Message.objects.filter(campaign_id=pk, direction=Direction.OUTBOUND)
    sent = out.filter(
        Q(sent_at__isnull=False) | Q(status__in=[MS.SENT, MS.DELIVERED, MS.BOUNCED])
    ).count()
    bounced = out.filter(Q(status=MS.BOUNCED) | Q(bounced_at__isnull=False)).count()
    complaints = (
        LeadEvent.objects.filter(message__campaign_id=pk, kind=LeadEventKind.OPT_OUT)
        .filter(Q(data__reason__icontains="complain") | Q(summary__icontains="complain"))
        .values("business_id")
        .distinct()
        .count()
    )
    return {
        "sent": sent,
        "bounced": bounced,
        "complaints": complaints,
        "bounce_rate": bounced / sent if sent else 0.0,
        "complaint_rate": complaints / sent if sent else 0.0,
    }


def campaign_guard(*, campaign: Campaign | int) -> str | None:
    """Pause a sending campaign whose hard-bounce or complaint rate passed its limit (after
    DELIVERABILITY_MIN_SAMPLE messages). Returns the reason when it paused it."""
    pk = _pk(campaign)
    if not Campaign.objects.filter(pk=pk, status=CS.SENDING).exists():
        return None
    rates = campaign_rates(pk)
    if rates["sent"] < settings.DELIVERABILITY_MIN_SAMPLE:
        return None
    reason = None
    if rates["bounce_rate"] > settings.BOUNCE_PAUSE_RATE:
        reason = (
            f"Paused automatically: hard-bounce rate {rates['bounce_rate']:.1%} passed "
            f"{settings.BOUNCE_PAUSE_RATE:.1%} ({rates['bounced']} of {rates['sent']})."
        )
    elif rates["complaint_rate"] > settings.COMPLAINT_PAUSE_RATE:
        reason = (
            f"Paused automatically: complaint rate {rates['complaint_rate']:.2%} passed "
            f"{settings.COMPLAINT_PAUSE_RATE:.2%} ({rates['complaints']} of {rates['sent']})."
        )
    if reason and campaign_pause(campaign=pk, reason=reason):
        logger.warning("campaign %s: %s", pk, reason)
        return reason
    return None


def campaign_send_test(*, campaign: Campaign, user) -> str:
    """Send the rendered first step to the staff user's own address (email) — or phone,
    for SMS, the user's `phone` if the user model has one. Returns where it went."""
    from campaigns.sending import Rendered, render_message  # noqa: F401

    sample = audience_mod.audience_eligible(campaign=campaign, check_existing=False).first()
    probe = Message(
        campaign=campaign,
        business=sample or Business(name="Sample Business", city="Austin", category="Plumber"),
        channel=campaign.channel,
        token="test" + new_token()[:12],
    )
    if sample is not None:
        probe.site = site_for(sample)
    rendered = render_message(
        probe,
        subject=f"[TEST] {campaign.subject_template}",
        body=campaign.body_template,
        first_sms=True,
    )
    if campaign.channel == Channel.EMAIL:
        if not user.email:
            raise CampaignError("Your user has no email address to send a test to.")
        from django.core.mail import EmailMultiAlternatives

        email = EmailMultiAlternatives(
            rendered.subject, rendered.body, settings.DEFAULT_FROM_EMAIL, [user.email]
        )
        email.attach_alternative(rendered.html, "text/html")
        email.send()
        return user.email
    phone = getattr(user, "phone", "") or ""
    if not phone:
        raise CampaignError("Your user has no phone number to send a test text to.")
    from campaigns.sms import send_sms

    send_sms(to=phone, body=rendered.body)
    return phone


__all__ = [
    "REASONS",
    "CampaignError",
    "SendRefused",
    "campaign_activate_due",
    "campaign_cancel",
    "campaign_complete_if_done",
    "campaign_create",
    "campaign_followups_create",
    "campaign_guard",
    "campaign_pause",
    "campaign_resume",
    "campaign_send_test",
    "campaign_start",
    "message_send_oneoff",
]
