"""django-q2 tasks for sending: the every-minute dispatcher, the chunk task that sends
messages at the campaign's pace, the task that generates the preview sites pitches wait for,
and the watchdog. The hand-outs themselves are services (campaigns.services).

django-q2 is at-least-once (a task may run twice; the ORM broker re-queues a task still
running after `retry` seconds) and a task may die. Nothing here relies on a task running
once or to its end: each message is claimed (queued → sending, compare-and-set) before its
provider call; a chunk checks its time budget after every message and hands the rest to a
fresh task long before the task timeout, however slow the provider; what a dead task held is
handed out again after MESSAGE_SENDING_TIMEOUT, and a message it left claimed becomes
`unknown` (never re-sent automatically).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from campaigns import services
from campaigns.lifecycle import messages_hand_out
from campaigns.models import Campaign, CampaignStatus, Message, MessageStatus
from campaigns.sending import email_connection, message_send

logger = logging.getLogger(__name__)

# Re-check the deliverability guard after this many sends within a chunk.
GUARD_EVERY = 25
# A chunk sends for at most this share of the task timeout, then hands the rest to a fresh
# task: the other half is headroom for the one provider call in flight.
CHUNK_BUDGET_SHARE = 0.5


def campaigns_dispatch() -> int:
    """Every minute: start scheduled campaigns that are due, queue due follow-ups, hand due
    messages to workers (and pitches waiting for a site to the site generator), complete
    finished campaigns. Returns the chunks enqueued."""
    now = timezone.now()
    services.campaign_activate_due(now=now)
    chunks = 0
    for pk in Campaign.objects.filter(status=CampaignStatus.SENDING).values_list("pk", flat=True):
        services.campaign_followups_create(campaign=pk, now=now)
        services.campaign_sites_dispatch(campaign_id=pk, now=now)
        chunks += services.campaign_dispatch(campaign_id=pk, now=now)
        services.campaign_complete_if_done(campaign=pk, now=now)
    return chunks


def campaign_send_chunk(campaign_id: int, message_ids: list[int]) -> dict[str, int]:
    """Send these messages in order, each at its send time. Checks the time budget after
    every message and hands the rest to a fresh task once it is spent (so the task is never
    killed at Q_TIMEOUT with messages half-done, however slow the provider). Stops as soon
    as the campaign is no longer sending (paused, cancelled, or paused by the guard)."""
    outcomes: dict[str, int] = {}
    budget_end = time.monotonic() + settings.Q_CLUSTER["timeout"] * CHUNK_BUDGET_SHARE
    # The lease counts from now, not from when the task was queued.
    messages_hand_out(ids=message_ids, at=timezone.now())
    connection = email_connection()
    sent_since_guard = 0
    try:
        for index, message_id in enumerate(message_ids):
            if index and time.monotonic() >= budget_end:
                services.messages_hand_back(campaign_id=campaign_id, ids=message_ids[index:])
                outcomes["handed_back"] = len(message_ids) - index
                break
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
                        services.messages_hand_back(
                            campaign_id=campaign_id, ids=message_ids[index:]
                        )
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
    services.campaign_settle(campaign_id=campaign_id)
    return outcomes


def campaign_sites_generate(campaign_id: int, message_ids: list[int]) -> dict[str, int]:
    """Generate the preview sites these waiting pitches need, then hand them to the sender."""
    return services.campaign_sites_generate(campaign_id=campaign_id, message_ids=message_ids)


def campaigns_watchdog(now: datetime | None = None) -> dict[str, int]:
    """Every minute (schedule "campaigns-watchdog"): see services.campaigns_watch."""
    return services.campaigns_watch(now=now)
