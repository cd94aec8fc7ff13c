"""Message (and Campaign) status rules: the only code that changes their statuses.

Send side (at most once per message, django-q2 being at-least-once):
    queued → sending (claimed by one worker, compare-and-set) → sent | failed
    queued → cancelled (lead unsubscribed / purchased, campaign cancelled)
A message stuck in `sending` (the worker died mid-send) is never re-sent automatically.

Provider side (events may arrive twice and in any order): timestamps keep the earliest
provider time, counters count distinct events (the inbox dedupes deliveries), and the
status only moves forward: sent < delivered; bounced / failed are final for delivery.
Every function is a conditional UPDATE and returns whether it changed something.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from campaigns.models import Message, MessageStatus

MS = MessageStatus


def _pk(message: Message | int) -> int:
    return message.pk if isinstance(message, Message) else int(message)


def _earliest(pk: int, field: str, at: datetime) -> bool:
    """Set `field` to `at` if it is empty or later than `at` (events arrive out of order)."""
    return bool(
        Message.objects.filter(pk=pk)
        .filter(Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gt": at}))
        .update(**{field: at})
    )


# --- send side -------------------------------------------------------------------------------


def message_claim_for_sending(*, message: Message | int) -> bool:
    """queued → sending. Only one caller ever wins; the loser must not send."""
    now = timezone.now()
    return bool(
        Message.objects.filter(pk=_pk(message), status=MS.QUEUED).update(
            status=MS.SENDING, sending_started_at=now
        )
    )


def message_mark_sent(
    *, message: Message | int, provider_message_id: str | None, at: datetime | None = None
) -> bool:
    at = at or timezone.now()
    return bool(
        Message.objects.filter(pk=_pk(message), status=MS.SENDING).update(
            status=MS.SENT, sent_at=at, provider_message_id=provider_message_id or None
        )
    )


def message_mark_send_failed(
    *, message: Message | int, error: str, at: datetime | None = None
) -> bool:
    at = at or timezone.now()
    return bool(
        Message.objects.filter(pk=_pk(message), status__in=[MS.QUEUED, MS.SENDING]).update(
            status=MS.FAILED, failed_at=at, error=error[:5000]
        )
    )


def message_cancel(*, message: Message | int, reason: str) -> bool:
    return bool(messages_cancel_queued(reason=reason, pk=_pk(message)))


def messages_cancel_queued(*, reason: str, **which: object) -> int:
    """queued → cancelled for the messages matching `which` (pk=…, campaign_id=…,
    business=…); a message already claimed by a worker is left to finish. Returns how many."""
    if not which:
        raise ValueError("say which messages to cancel")
    return Message.objects.filter(status=MS.QUEUED, **which).update(
        status=MS.CANCELLED, error=reason[:5000]
    )


# --- provider side ---------------------------------------------------------------------------


def message_mark_provider_sent(*, message: Message | int, at: datetime) -> bool:
    """The provider accepted it (SES `Send`, Twilio `sent`): sent_at, never a step back."""
    pk = _pk(message)
    moved = bool(
        Message.objects.filter(pk=pk, status__in=[MS.QUEUED, MS.SENDING]).update(status=MS.SENT)
    )
    return _earliest(pk, "sent_at", at) or moved


def message_mark_delivered(*, message: Message | int, at: datetime) -> bool:
    pk = _pk(message)
    moved = bool(
        Message.objects.filter(pk=pk, status__in=[MS.QUEUED, MS.SENDING, MS.SENT]).update(
            status=MS.DELIVERED
        )
    )
    return _earliest(pk, "delivered_at", at) or moved


def _count_and_earliest(pk: int, counter: str, field: str, at: datetime) -> bool:
    """counter + 1 and `field` = the earliest time, in one UPDATE (webhook hot path)."""
    earliest = Case(
        When(Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gt": at}), then=Value(at)),
        default=F(field),
    )
    return bool(Message.objects.filter(pk=pk).update(**{counter: F(counter) + 1, field: earliest}))


def message_mark_opened(*, message: Message | int, at: datetime) -> bool:
    return _count_and_earliest(_pk(message), "opened_count", "opened_at", at)


def message_mark_clicked(*, message: Message | int, at: datetime) -> bool:
    return _count_and_earliest(_pk(message), "clicked_count", "clicked_at", at)


def message_mark_bounced(*, message: Message | int, at: datetime, reason: str = "") -> bool:
    pk = _pk(message)
    moved = bool(
        Message.objects.filter(pk=pk)
        .exclude(status=MS.BOUNCED)
        .update(status=MS.BOUNCED, error=reason[:5000])
    )
    return _earliest(pk, "bounced_at", at) or moved


def message_mark_failed(*, message: Message | int, at: datetime, reason: str = "") -> bool:
    """The provider could not deliver it (rejected, undelivered, failed)."""
    pk = _pk(message)
    moved = bool(
        Message.objects.filter(pk=pk)
        .exclude(status__in=[MS.FAILED, MS.BOUNCED])
        .update(status=MS.FAILED, error=reason[:5000])
    )
    return _earliest(pk, "failed_at", at) or moved


def message_mark_replied(*, message: Message | int, at: datetime) -> bool:
    return _earliest(_pk(message), "replied_at", at)


def message_mark_converted(*, message: Message | int, at: datetime) -> bool:
    return _earliest(_pk(message), "converted_at", at)


def message_mark_read(*, message: Message | int, at: datetime | None = None) -> bool:
    """Staff read an inbound reply."""
    return bool(
        Message.objects.filter(pk=_pk(message), read_at__isnull=True).update(
            read_at=at or timezone.now()
        )
    )
