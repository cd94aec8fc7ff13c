"""django-q2 tasks for sending: a dispatcher that hands due messages to workers in chunks,
and the chunk task that sends them at the campaign's pace.

django-q2 is at-least-once (a task may run twice; the ORM broker re-queues a task still
running after `retry` seconds). Nothing here relies on a task running once: each message
is claimed (queued → sending, compare-and-set) before its provider call, and the
dispatcher's window moves forward with a compare-and-set too.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.utils import timezone
from django_q.tasks import async_task

from campaigns import services
from campaigns.models import Campaign, CampaignStatus, Message, MessageStatus
from campaigns.sending import email_connection, message_send

logger = logging.getLogger(__name__)

# Re-check the deliverability guard after this many sends within a chunk.
GUARD_EVERY = 25


def campaigns_dispatch() -> int:
    """Every minute: start scheduled campaigns that are due, queue due follow-ups, hand due
    messages to workers, complete finished campaigns. Returns the chunks enqueued."""
    now = timezone.now()
    services.campaign_activate_due(now=now)
    chunks = 0
    for pk in Campaign.objects.filter(status=CampaignStatus.SENDING).values_list("pk", flat=True):
        services.campaign_followups_create(campaign=pk, now=now)
        chunks += services.campaign_dispatch(campaign_id=pk, now=now)
        services.campaign_complete_if_done(campaign=pk, now=now)
    return chunks


def campaign_send_chunk(campaign_id: int, message_ids: list[int]) -> dict[str, int]:
    """Send these messages in order, each at its send time. Stops as soon as the campaign
    is no longer sending (paused, cancelled, or paused by the guard)."""
    outcomes: dict[str, int] = {}
    budget_end = time.monotonic() + max(30, settings.Q_CLUSTER["timeout"] - 30)
    connection = email_connection()
    sent_since_guard = 0
    try:
        for index, message_id in enumerate(message_ids):
            row = (
                Message.objects.filter(pk=message_id)
                .values_list("status", "send_after", "campaign__status")
                .first()
            )
            if row is None or row[0] != MessageStatus.QUEUED:
                continue
            if row[2] != CampaignStatus.SENDING:
                break
            if row[1] is not None:
                wait = (row[1] - timezone.now()).total_seconds()
                if wait > 0:
                    if time.monotonic() + wait > budget_end:
                        # Stay under the task timeout: hand the rest to a fresh task.
                        async_task(
                            "campaigns.tasks.campaign_send_chunk",
                            campaign_id,
                            message_ids[index:],
                            group=f"campaign-{campaign_id}",
                        )
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
    services.campaign_guard(campaign=campaign_id)
    services.campaign_complete_if_done(campaign=campaign_id)
    return outcomes
