"""django-q2 tasks for sending: a dispatcher that hands due messages to workers in chunks,
the chunk task that sends them at the campaign's pace, the task that generates the preview
sites pitches wait for, and the watchdog.

django-q2 is at-least-once (a task may run twice; the ORM broker re-queues a task still
running after `retry` seconds) and a task may die (killed at Q_TIMEOUT, kill -9, a lost
machine). Nothing here relies on a task running once or to its end:
- each message is claimed (queued → sending, compare-and-set) before its provider call, so
  a message handed to two chunks goes out once;
- a queued message records when it was handed to a worker (`dispatched_at`); one handed out
  longer than MESSAGE_SENDING_TIMEOUT ago whose task never got to it is handed out again
  (the dispatcher's query), so a queued message is always picked up again;
- a chunk checks its time budget after every message and hands the rest to a fresh task
  long before the task timeout, however slow the provider;
- the watchdog (every minute) turns messages claimed longer than MESSAGE_SENDING_TIMEOUT
  ago into `unknown` (never re-sent automatically), and completes or flags every sending
  campaign with nothing moving.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from campaigns import lifecycle, services
from campaigns.models import Campaign, CampaignStatus, Message, MessageStatus, WaitingFor
from campaigns.sending import email_connection, message_send, site_for
from sites.builder import SiteGenerationError, generate_site

logger = logging.getLogger(__name__)

CS, MS = CampaignStatus, MessageStatus
# Messages due within this window are handed out now; chunk tasks wait for each one's time.
DISPATCH_AHEAD = timedelta(seconds=60)
DISPATCH_SCHEDULE = "campaigns-dispatch"
WATCHDOG_SCHEDULE = "campaigns-watchdog"
# Re-check the deliverability guard after this many sends within a chunk.
GUARD_EVERY = 25
# A chunk sends for at most this share of the task timeout, then hands the rest to a fresh
# task: the other half is headroom for the one provider call in flight.
CHUNK_BUDGET_SHARE = 0.5
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


def campaigns_dispatch() -> int:
    """Every minute: start scheduled campaigns that are due, queue due follow-ups, hand due
    messages to workers (and pitches waiting for a site to the site generator), complete
    finished campaigns. Returns the chunks enqueued."""
    now = timezone.now()
    services.campaign_activate_due(now=now)
    chunks = 0
    for pk in Campaign.objects.filter(status=CS.SENDING).values_list("pk", flat=True):
        services.campaign_followups_create(campaign=pk, now=now)
        campaign_sites_dispatch(campaign_id=pk, now=now)
        chunks += campaign_dispatch(campaign_id=pk, now=now)
        services.campaign_complete_if_done(campaign=pk, now=now)
    return chunks


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
        lifecycle.messages_hand_out(ids=ids, at=now)
    chunks = _enqueue_chunks(campaign_id, ids)
    if not ids:
        services.campaign_complete_if_done(campaign=campaign_id, now=now)
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


def _hand_back(campaign_id: int, ids: list[int]) -> None:
    """Give the rest of a chunk to a fresh task (its lease starts again now)."""
    lifecycle.messages_hand_out(ids=ids, at=timezone.now())
    _enqueue_chunks(campaign_id, ids)


def campaign_send_chunk(campaign_id: int, message_ids: list[int]) -> dict[str, int]:
    """Send these messages in order, each at its send time. Checks the time budget after
    every message and hands the rest to a fresh task once it is spent (so the task is never
    killed at Q_TIMEOUT with messages half-done, however slow the provider). Stops as soon
    as the campaign is no longer sending (paused, cancelled, or paused by the guard)."""
    outcomes: dict[str, int] = {}
    budget_end = time.monotonic() + settings.Q_CLUSTER["timeout"] * CHUNK_BUDGET_SHARE
    # The lease counts from now, not from when the task was queued.
    lifecycle.messages_hand_out(ids=message_ids, at=timezone.now())
    connection = email_connection()
    sent_since_guard = 0
    try:
        for index, message_id in enumerate(message_ids):
            if index and time.monotonic() >= budget_end:
                _hand_back(campaign_id, message_ids[index:])
                outcomes["handed_back"] = len(message_ids) - index
                break
            row = (
                Message.objects.filter(pk=message_id)
                .values_list("status", "send_after", "campaign__status")
                .first()
            )
            if row is None or row[0] != MS.QUEUED:
                continue
            if row[2] != CS.SENDING:
                break
            if row[1] is not None:
                wait = (row[1] - timezone.now()).total_seconds()
                if wait > 0:
                    if time.monotonic() + wait > budget_end:
                        _hand_back(campaign_id, message_ids[index:])
                        outcomes["handed_back"] = len(message_ids) - index
                        break
                    time.sleep(wait)
            outcome = message_send(message=message_id, connection=connection)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if outcome == "sent":
                sent_since_guard += 1
                if sent_since_guard >= GUARD_EVERY:
                    sent_since_guard = 0
                    if services.campaign_guard(campaign=campaign_id):
                        break
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - closing a dead SMTP connection must not mask results
            logger.debug("closing email connection failed", exc_info=True)
    # Settle what a dead predecessor left: its claimed messages are `unknown` by now.
    lifecycle.messages_mark_unknown(
        claimed_before=timezone.now() - lease(), campaign_id=campaign_id
    )
    services.campaign_guard(campaign=campaign_id)
    services.campaign_complete_if_done(campaign=campaign_id)
    return outcomes


# --- preview sites a pitch waits for -----------------------------------------------------------


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
    for start in range(0, len(ids), SITES_PER_TASK):
        sites_generate_enqueue(campaign_id=campaign_id, message_ids=ids[start:][:SITES_PER_TASK])
    return -(-len(ids) // SITES_PER_TASK)


def sites_generate_enqueue(*, campaign_id: int | None, message_ids: list[int]) -> None:
    lifecycle.messages_hand_out(ids=message_ids, at=timezone.now())
    async_task(
        "campaigns.tasks.campaign_sites_generate",
        campaign_id,
        message_ids,
        task_name=f"campaign-{campaign_id}-sites-{message_ids[0]}",
        group=f"campaign-{campaign_id}",
    )


def campaign_sites_generate(campaign_id: int | None, message_ids: list[int]) -> dict[str, int]:
    """Generate the preview site of each waiting message's lead (sites.builder), then hand
    the messages whose site is ready to the sender (one chunk for the task's few sites, a
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
                lifecycle.messages_site_failed(
                    business_id=message.business_id,
                    reason=f"Skipped: its preview site could not be generated ({exc})",
                )
                continue
        due += _site_ready(campaign_id, message.business_id, site.pk)
    if campaign_id is not None and due:
        _enqueue_chunks(campaign_id, due)  # one chunk for this task's few sites
    outcomes["handed_out"] = len(due)
    return outcomes


def _site_ready(campaign_id: int | None, business_id: int, site_id: int) -> list[int]:
    """The lead's waiting messages link its site now; returns those of a sending campaign
    due soon, handed out (one transaction, so the dispatcher never also takes them)."""
    now = timezone.now()
    with transaction.atomic():
        ready = lifecycle.messages_site_ready(business_id=business_id, site_id=site_id)
        due = list(
            Message.objects.filter(
                Q(send_after__lte=now + DISPATCH_AHEAD) | Q(send_after__isnull=True),
                pk__in=ready,
                campaign_id=campaign_id,
                campaign__status=CS.SENDING,
            ).values_list("pk", flat=True)
        )
        lifecycle.messages_hand_out(ids=due, at=now)
    return due


# --- the watchdog -----------------------------------------------------------------------------


def campaigns_watchdog(now: datetime | None = None) -> dict[str, int]:
    """Every minute: messages claimed longer than the lease ago become `unknown` (their
    worker died mid-send); lapsed hand-outs (sends and site generations) are handed out
    again; a sending campaign with nothing left to do completes, one whose due work has
    not moved for a while is flagged with the reason."""
    now = now or timezone.now()
    unknown = lifecycle.messages_mark_unknown(claimed_before=now - lease())
    for campaign_id, n in unknown.items():
        logger.warning("campaign %s: %s message(s) of unknown outcome", campaign_id, n)
    summary = {"unknown": sum(unknown.values()), "completed": 0, "stalled": 0}
    for pk in Campaign.objects.filter(status__in=[CS.SENDING, CS.SCHEDULED]).values_list(
        "pk", flat=True
    ):
        campaign_sites_dispatch(campaign_id=pk, now=now)
    for pk in Campaign.objects.filter(status=CS.SENDING).values_list("pk", flat=True):
        campaign_dispatch(campaign_id=pk, now=now)  # completes it when nothing is left
        services.campaign_complete_if_done(campaign=pk, now=now)
        if Campaign.objects.filter(pk=pk, status=CS.COMPLETED).exists():
            summary["completed"] += 1
        elif services.campaign_flag_if_stalled(campaign=pk, now=now):
            summary["stalled"] += 1
    return summary
