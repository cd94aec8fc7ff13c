"""Campaign writes: create, start (set-based), schedule, pause, resume, cancel, follow-ups,
the deliverability guard, and one-off messages (campaign NULL).

Status changes of a Campaign are conditional UPDATEs (compare-and-set on the status), so a
double-clicked button or a retried API call never starts a campaign twice.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from campaigns import audience as audience_mod
from campaigns import metrics, policy, sql
from campaigns.lifecycle import (
    messages_cancel_queued,
    messages_hand_out,
    messages_mark_unknown,
    messages_requeue_unknown,
    messages_site_failed,
    messages_site_ready,
)
from campaigns.models import (
    Campaign,
    CampaignStatus,
    Channel,
    Direction,
    Message,
    MessageStatus,
    WaitingFor,
)
from campaigns.sending import (
    REASONS,
    SendRefused,
    empty_merge_fields,
    message_send,
    refusal_reason,
    site_for,
    sms_quiet_until,
    template_fields,
)
from crm.formatting import plural
from crm.models import Business, ContactStatus, EventSource, LeadEvent, LeadEventKind
from crm.sidebar import sidebar_forget
from sites.builder import SiteGenerationError, generate_site

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
    site = site if site is not None else site_for(business)
    fields = template_fields(subject, body)
    if "preview_url" in fields and site is None:
        raise SendRefused(
            "no_site",
            "This lead has no preview site for {{ preview_url }}: generate it first.",
        )
    probe = Message(business=business, site=site, channel=channel)
    if empty := [f for f in empty_merge_fields(probe, fields) if f != "preview_url"]:
        raise SendRefused(
            "empty_field",
            "Empty merge field " + ", ".join(f"{{{{ {f} }}}}" for f in empty) + " for this lead.",
        )
    if channel == Channel.SMS and (until := sms_quiet_until(business)):
        raise SendRefused(
            "quiet_hours",
            f"Quiet hours in the lead's time zone; texts may go after {until:%Y-%m-%d %H:%M} UTC.",
            retry_at=until,
        )
    message = Message.objects.create(
        business=business,
        site=site,
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
    override_cooldown: bool = False,
) -> Campaign:
    """A draft campaign. With an idempotency key, a retry returns the campaign it made.

    `override_cooldown`: staff chose to pitch leads inside their contact cooldown or held
    by another campaign (campaigns.policy); recorded on the campaign with who and when."""
    if idempotency_key:
        existing = Campaign.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            campaign = _campaign_insert(
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
                override_cooldown=override_cooldown,
            )
    except IntegrityError:
        # Two requests with one idempotency key at the same instant: the other one won.
        existing = Campaign.objects.filter(idempotency_key=idempotency_key).first()
        if idempotency_key and existing is not None:
            return existing
        raise
    sidebar_forget()  # the lead page's campaign filter lists it
    return campaign


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
    override_cooldown,
) -> Campaign:
    user = created_by if getattr(created_by, "is_authenticated", False) else None
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
        created_by=user,
        idempotency_key=idempotency_key or None,
        cooldown_overridden_at=timezone.now() if override_cooldown else None,
        cooldown_overridden_by=user if override_cooldown else None,
    )


def campaign_start_status(*, start_at: datetime, now: datetime) -> str:
    """A started campaign sends now, or waits as `scheduled` for a start in the future."""
    return CS.SCHEDULED if start_at > now + timedelta(seconds=30) else CS.SENDING


def campaign_start(*, campaign: Campaign | int, now: datetime | None = None) -> Campaign:
    """Freeze the audience into one queued Message per recipient (one INSERT … SELECT) and
    hand the due ones to django-q2 in chunks. A campaign scheduled for later becomes
    `scheduled`; the dispatcher starts it when its time comes.

    The contact policy holds: starts are serialised (campaigns.policy), so a lead another
    start just took is excluded here. A pitch linking `{{ preview_url }}` to a lead with no
    preview site waits for it (`waiting_for`); the workers generate those sites first and
    hand each message to the sender as soon as its site is ready.

    Safe to retry: only a draft campaign is started; a started one is returned as it is."""
    now = now or timezone.now()
    pk = campaign.pk if isinstance(campaign, Campaign) else int(campaign)
    with transaction.atomic():
        row = Campaign.objects.select_for_update().get(pk=pk)
        if row.status != CS.DRAFT:
            return row
        policy.starts_serialised()
        start_at = max(row.scheduled_at or now, now)
        inserted = messages_insert(campaign=row, start_at=start_at, now=now)
        status = campaign_start_status(start_at=start_at, now=now)
        waiting = Message.objects.filter(campaign_id=pk, waiting_for=WaitingFor.SITE).count()
        reason = plural(inserted, "recipient")
        if waiting:
            reason += f"; {plural(waiting, 'preview site')} to generate first"
        Campaign.objects.filter(pk=pk).update(
            status=status, started_at=now if status == CS.SENDING else None, status_reason=reason
        )
        transaction.on_commit(lambda: _after_start(pk))
    row.refresh_from_db()
    return row


def _after_start(pk: int) -> None:
    ensure_dispatch_schedule()
    campaign_sites_dispatch(campaign_id=pk)
    campaign_dispatch(campaign_id=pk)


# --- handing messages to workers ------------------------------------------------------------
# The django-q2 task functions live in campaigns/tasks.py and call the services here; the
# services name them as django-q2 does (a dotted path, resolved by the worker), so this module
# never imports tasks.
#
# django-q2 is at-least-once and a task may die (killed at Q_TIMEOUT, kill -9, a lost
# machine). A queued message records when it was handed to a worker (`dispatched_at`); one
# handed out longer than MESSAGE_SENDING_TIMEOUT ago whose task never got to it is handed
# out again, so a queued message is always picked up again. The claim (queued → sending,
# compare-and-set) keeps a message handed to two tasks from going out twice.

# Messages due within this window are handed out now; chunk tasks wait for each one's time.
DISPATCH_AHEAD = timedelta(seconds=60)
DISPATCH_SCHEDULE = "campaigns-dispatch"
WATCHDOG_SCHEDULE = "campaigns-watchdog"
# Preview sites generated per task before their pitches are handed to the sender (a site
# costs ~50 ms: a small campaign's first pitches leave within seconds of its start).
SITES_PER_TASK = 5
# Sites are generated for the pitches due within this horizon, at most SITES_AT_ONCE per
# hand-out (the dispatcher tops up every minute): a 100,000-recipient campaign does not
# queue 20,000 generation tasks at its start, nor build sites for pitches due next week.
SITES_AHEAD = timedelta(minutes=10)
SITES_AT_ONCE = 250


def lease() -> timedelta:
    """How long a hand-out or a claim holds a message (no task runs longer than Q_TIMEOUT)."""
    return timedelta(seconds=settings.MESSAGE_SENDING_TIMEOUT)


def ensure_dispatch_schedule() -> None:
    """The every-minute dispatcher and watchdog, created once (a worker's scheduler runs
    them; migration 0007 creates the watchdog's too)."""
    for name, func in (
        (DISPATCH_SCHEDULE, "campaigns.tasks.campaigns_dispatch"),
        (WATCHDOG_SCHEDULE, "campaigns.tasks.campaigns_watchdog"),
    ):
        Schedule.objects.get_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": 1,
                "repeats": -1,
            },
        )


def campaign_dispatch(*, campaign_id: int, now: datetime | None = None) -> int:
    """Enqueue one task per chunk of this campaign's queued messages that fall due before
    now + DISPATCH_AHEAD and are not in a worker's hands (never handed out, or handed out
    longer than the lease ago). Returns the number of chunks."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update().filter(pk=campaign_id, status=CS.SENDING).first()
        )
        if campaign is None:
            return 0
        due = Message.objects.filter(
            Q(send_after__lte=now + DISPATCH_AHEAD) | Q(send_after__isnull=True),
            Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - lease()),
            campaign_id=campaign_id,
            status=MS.QUEUED,
            waiting_for=WaitingFor.NOTHING,
        )
        ids = list(due.order_by("send_after", "pk").values_list("pk", flat=True))
        messages_hand_out(ids=ids, at=now)
    chunks = _enqueue_chunks(campaign_id, ids)
    if not ids:
        campaign_complete_if_done(campaign=campaign_id, now=now)
    return chunks


def _enqueue_chunks(campaign_id: int, ids: list[int]) -> int:
    size = max(1, settings.CAMPAIGN_CHUNK_SIZE)
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
    for chunk in chunks:
        async_task(
            "campaigns.tasks.campaign_send_chunk",
            campaign_id,
            chunk,
            task_name=f"campaign-{campaign_id}-chunk-{chunk[0]}",
            group=f"campaign-{campaign_id}",
        )
    return len(chunks)


def messages_hand_back(*, campaign_id: int, ids: list[int]) -> None:
    """The rest of a chunk goes to a fresh task (its lease starts again now)."""
    messages_hand_out(ids=ids, at=timezone.now())
    _enqueue_chunks(campaign_id, ids)


def campaign_sites_dispatch(*, campaign_id: int, now: datetime | None = None) -> int:
    """Hand this campaign's messages waiting for a preview site to the site generator
    (those due within SITES_AHEAD and not in a worker's hands already, soonest due first,
    at most SITES_AT_ONCE). Returns the tasks enqueued."""
    now = now or timezone.now()
    waiting = Message.objects.filter(
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - lease()),
        Q(send_after__lte=now + SITES_AHEAD) | Q(send_after__isnull=True),
        campaign_id=campaign_id,
        status=MS.QUEUED,
        waiting_for=WaitingFor.SITE,
    )
    ids = list(waiting.order_by("send_after", "pk").values_list("pk", flat=True)[:SITES_AT_ONCE])
    messages_hand_out(ids=ids, at=now)
    for start in range(0, len(ids), SITES_PER_TASK):
        batch = ids[start : start + SITES_PER_TASK]
        async_task(
            "campaigns.tasks.campaign_sites_generate",
            campaign_id,
            batch,
            task_name=f"campaign-{campaign_id}-sites-{batch[0]}",
            group=f"campaign-{campaign_id}",
        )
    return -(-len(ids) // SITES_PER_TASK)


def campaign_sites_generate(*, campaign_id: int, message_ids: list[int]) -> dict[str, int]:
    """Generate the preview site of each waiting message's lead (sites.builder), then hand
    the messages whose site is ready to the sender (one chunk for these few sites, a
    fraction of a second after the first). A lead whose site cannot be generated has its
    waiting pitches skipped with the reason."""
    outcomes = {"generated": 0, "existing": 0, "failed": 0, "handed_out": 0}
    due: list[int] = []
    waiting = (
        Message.objects.filter(pk__in=message_ids, status=MS.QUEUED, waiting_for=WaitingFor.SITE)
        .select_related("business")
        .order_by("send_after", "pk")
    )
    for message in waiting:
        site = site_for(message.business)
        if site is not None:
            outcomes["existing"] += 1
        else:
            try:
                site = generate_site(message.business)
                outcomes["generated"] += 1
            except SiteGenerationError as exc:
                outcomes["failed"] += 1
                messages_site_failed(
                    business_id=message.business_id,
                    reason=f"Skipped: its preview site could not be generated ({exc})",
                )
                continue
        due += _site_ready(campaign_id, message.business_id, site.pk)
    if due:
        _enqueue_chunks(campaign_id, due)
    outcomes["handed_out"] = len(due)
    return outcomes


def _site_ready(campaign_id: int, business_id: int, site_id: int) -> list[int]:
    """The lead's waiting messages link its site now; returns those of a sending campaign
    due soon, handed out (one transaction, so the dispatcher never also takes them)."""
    now = timezone.now()
    with transaction.atomic():
        ready = messages_site_ready(business_id=business_id, site_id=site_id)
        due = list(
            Message.objects.filter(
                Q(send_after__lte=now + DISPATCH_AHEAD) | Q(send_after__isnull=True),
                pk__in=ready,
                campaign_id=campaign_id,
                campaign__status=CS.SENDING,
            ).values_list("pk", flat=True)
        )
        messages_hand_out(ids=due, at=now)
    return due


def campaigns_watch(*, now: datetime | None = None) -> dict[str, int]:
    """The watchdog: messages claimed longer than the lease ago become `unknown` (their
    worker died mid-send); lapsed hand-outs (sends and site generations) are handed out
    again; a sending campaign with nothing left to do completes, one whose due work has not
    moved for a while is flagged with the reason."""
    now = now or timezone.now()
    unknown = messages_mark_unknown(claimed_before=now - lease())
    for campaign_id, n in unknown.items():
        logger.warning("campaign %s: %s message(s) of unknown outcome", campaign_id, n)
    summary = {"unknown": sum(unknown.values()), "completed": 0, "stalled": 0}
    for pk in Campaign.objects.filter(status__in=[CS.SENDING, CS.SCHEDULED]).values_list(
        "pk", flat=True
    ):
        campaign_sites_dispatch(campaign_id=pk, now=now)
    for pk in Campaign.objects.filter(status=CS.SENDING).values_list("pk", flat=True):
        campaign_dispatch(campaign_id=pk, now=now)  # completes it when nothing is left
        campaign_complete_if_done(campaign=pk, now=now)
        if Campaign.objects.filter(pk=pk, status=CS.COMPLETED).exists():
            summary["completed"] += 1
        elif campaign_flag_if_stalled(campaign=pk, now=now):
            summary["stalled"] += 1
    return summary


def campaign_settle(*, campaign_id: int) -> None:
    """After a chunk: what a dead predecessor left claimed is `unknown` by now, pitches that
    found no site wait for the generator, and the campaign completes when done."""
    messages_mark_unknown(claimed_before=timezone.now() - lease(), campaign_id=campaign_id)
    campaign_sites_dispatch(campaign_id=campaign_id)
    campaign_guard(campaign=campaign_id)
    campaign_complete_if_done(campaign=campaign_id)


def messages_insert(*, campaign: Campaign, start_at: datetime, now: datetime, step: int = 1) -> int:
    """One INSERT … SELECT of the campaign's eligible audience; returns the rows inserted.

    Called only for a draft campaign (campaign_start holds its row lock), so it has no
    messages yet; the unique (campaign, business, step) constraint backs that up. When the
    campaign links `{{ preview_url }}`, a lead without a site gets its message waiting for
    one (`waiting_for` = site)."""
    eligible = audience_mod.audience_eligible(campaign=campaign, now=now, for_insert=True)
    wait = WaitingFor.SITE if "preview_url" in audience_mod.campaign_fields(campaign) else ""
    to_field = "email" if campaign.channel == Channel.EMAIL else "to_sms"
    base = eligible.annotate(
        to_sms=audience_mod.sms_address_expression(),
        site_pick=audience_mod.site_subquery(),
    ).values_list("pk", to_field, "site_pick")
    base_sql, base_params = base.query.sql_with_params()
    held = None
    if not policy.overridden(campaign):
        held = policy.held_leads(campaign=campaign, now=now).query.sql_with_params()
    return sql.messages_insert_select(
        audience_sql=base_sql,
        audience_params=base_params,
        held=held,
        campaign_id=campaign.pk,
        step=step,
        channel=campaign.channel,
        start_at=start_at,
        now=now,
        rate_per_minute=max(1, campaign.send_rate_per_minute),
        daily_cap=max(1, campaign.daily_cap),
        waiting_for=wait,
    )


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
            status=CS.SENDING, status_reason="Resumed", started_at=row.started_at or now
        )
        transaction.on_commit(lambda: _after_start(pk))
    return True


def _restagger(campaign: Campaign, now: datetime) -> None:
    """Give the still-queued messages fresh send times from `now`, at the campaign's pace
    (their hand-outs lapse: the dispatcher hands them out again as they fall due)."""
    sql.messages_restagger(
        campaign_id=campaign.pk,
        start_at=now,
        rate_per_minute=max(1, campaign.send_rate_per_minute),
        daily_cap=max(1, campaign.daily_cap),
    )


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
    """sending → completed once nothing is queued or being sent and no follow-up step can
    still come. The reason says how it ended (messages of unknown outcome included)."""
    now = now or timezone.now()
    row = Campaign.objects.filter(pk=_pk(campaign)).first()
    if row is None or row.status != CS.SENDING:
        return False
    if Message.objects.filter(campaign=row, status__in=[MS.QUEUED, MS.SENDING]).exists():
        return False
    if row.followups and _followups_pending(row, now):
        return False
    return _transition(
        row.pk, [CS.SENDING], CS.COMPLETED, _completion_reason(row.pk), completed_at=now
    )


def _completion_reason(pk: int) -> str:
    counts = dict(
        Message.objects.filter(campaign_id=pk)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    sent = sum(counts.get(s, 0) for s in (MS.SENT, MS.DELIVERED, MS.BOUNCED))
    parts = [f"{sent} sent"]
    for status in (MS.FAILED, MS.CANCELLED, MS.UNKNOWN):
        if counts.get(status):
            parts.append(f"{counts[status]} {MS(status).label.lower()}")
    reason = "All messages handled: " + ", ".join(parts) + "."
    if counts.get(MS.UNKNOWN):
        reason += " Check those of unknown outcome with the provider before resending them."
    return reason


def campaign_flag_if_stalled(*, campaign: Campaign | int, now: datetime | None = None) -> str:
    """A sending campaign with work due that nothing has moved for STALLED_AFTER gets a
    reason saying so (the watchdog hands the work out again). Returns the reason, or ""."""
    now = now or timezone.now()
    pk = _pk(campaign)
    stalled_for = stalled_after()
    since = now - stalled_for
    mine = Message.objects.filter(campaign_id=pk)
    if mine.filter(
        Q(sending_started_at__gte=since) | Q(sent_at__gte=since) | Q(failed_at__gte=since)
    ).exists():
        return ""
    due = mine.filter(status=MS.QUEUED, send_after__lte=since)
    waiting = due.filter(waiting_for=WaitingFor.SITE).count()
    ready = due.exclude(waiting_for=WaitingFor.SITE).count()
    if not (waiting or ready):
        return ""
    minutes = int(stalled_for.total_seconds() // 60) or 1
    what = []
    if ready:
        what.append(f"{ready} message{'s' if ready != 1 else ''} due and not sent")
    if waiting:
        what.append(f"{waiting} waiting for their preview site")
    reason = (
        f"Stalled: {' and '.join(what)}, nothing moved for over {minutes} minutes. "
        "Handed to the workers again; if this stays, check that a qcluster worker runs."
    )
    if (
        Campaign.objects.filter(pk=pk, status=CS.SENDING)
        .exclude(status_reason=reason)
        .update(status_reason=reason[:300])
    ):
        logger.warning("campaign %s: %s", pk, reason)
    return reason


def stalled_after() -> timedelta:
    """How long due work may sit still before the watchdog calls a campaign stalled."""
    return 2 * timedelta(seconds=settings.MESSAGE_SENDING_TIMEOUT)


def campaign_resend_unknown(*, campaign: Campaign | int, actor=None) -> int:
    """Staff resend the campaign's messages of unknown outcome ("resend these N"): they are
    queued again, due now (a lead may get the message twice if the provider had it: staff
    decide). Recorded on each lead's timeline with the actor. Returns how many."""
    pk = _pk(campaign)
    now = timezone.now()
    who = actor.get_username() if getattr(actor, "is_authenticated", False) else "staff"
    with transaction.atomic():
        row = Campaign.objects.select_for_update().get(pk=pk)
        if row.status == CS.CANCELLED:
            raise CampaignError("A cancelled campaign sends nothing more.")
        ids = messages_requeue_unknown(
            campaign_id=pk, at=now, note=f"Resend asked by {who} after an unknown outcome"
        )
        if not ids:
            return 0
        user = actor if getattr(actor, "is_authenticated", False) else None
        LeadEvent.objects.bulk_create(
            [
                LeadEvent(
                    business_id=business_id,
                    kind=LeadEventKind.NOTE,
                    source=EventSource.MANUAL,
                    actor=user,
                    at=now,
                    summary=f"Campaign “{row.name}”: message of unknown outcome queued again "
                    f"by {who}",
                    message_id=message_id,
                    data={"resend": True, "campaign": pk},
                )
                for message_id, business_id in Message.objects.filter(pk__in=ids).values_list(
                    "pk", "business_id"
                )
            ]
        )
        reason = f"Resending {len(ids)} message{'s' if len(ids) != 1 else ''} of unknown outcome"
        reason += f" (asked by {who})"
        if row.status == CS.COMPLETED:
            _transition(pk, [CS.COMPLETED], CS.SENDING, reason, completed_at=None)
        else:
            Campaign.objects.filter(pk=pk).update(status_reason=reason)
        transaction.on_commit(lambda: _after_start(pk))
    return len(ids)


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
    # Paced like the first step; the dispatcher hands each out when it falls due.
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


# --- deliverability guard -------------------------------------------------------------------


def campaign_rates(campaign: Campaign | int) -> dict[str, float | int]:
    """Hard-bounce and complaint rates over the messages that went out (deliverability is
    judged per message; "sent" and "bounced" are campaigns.metrics' conditions)."""
    pk = _pk(campaign)
    out = Message.objects.filter(campaign_id=pk, direction=Direction.OUTBOUND)
    sent = out.filter(metrics.SENT).count()
    bounced = out.filter(metrics.BOUNCED).count()
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

    sample = audience_mod.audience_eligible(campaign=campaign, for_insert=True).first()
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
    "campaign_dispatch",
    "campaign_followups_create",
    "campaign_guard",
    "campaign_flag_if_stalled",
    "campaign_pause",
    "campaign_resend_unknown",
    "campaign_resume",
    "campaign_send_test",
    "campaign_start",
    "ensure_dispatch_schedule",
    "message_send_oneoff",
]
