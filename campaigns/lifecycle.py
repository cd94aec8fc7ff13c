"""Message (and Campaign) status rules: the only code that changes their statuses.

Send side (at most once per message, django-q2 being at-least-once):
    queued → sending (claimed by one worker, compare-and-set) → sent | failed
    queued → cancelled (lead unsubscribed / purchased, campaign cancelled)
A message stuck in `sending` (the worker died mid-send) is never re-sent automatically.

Provider side (events may arrive twice and in any order): timestamps keep the earliest
provider time, counters count distinct events (the inbox dedupes deliveries), and the
status only moves forward: sent < delivered; bounced / failed are final for delivery.
Every function is one UPDATE; the send side's return whether they changed something, the
provider side's whether the message exists.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from campaigns import sql
from campaigns.models import Direction, Message, MessageStatus
from crm.memo import forget
from crm.models import Business

MS = MessageStatus
# The navigation's unread-replies count (campaigns.context_processors), dropped by every
# change to it: a reply recorded, a reply read.
UNREAD_REPLIES_KEY = "campaigns:unread-replies"


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

# The send side's moves, as data: step → (statuses it moves from, the status it moves to).
# Named apart from TRACK_MARKS (a provider's "sent" is a mark; the worker's is mark_sent).
SEND_MOVES: dict[str, tuple[tuple[str, ...], str]] = {
    "claim": ((MS.QUEUED,), MS.SENDING),
    "mark_sent": ((MS.SENDING,), MS.SENT),
    "send_failed": ((MS.QUEUED, MS.SENDING), MS.FAILED),
    "cancel": ((MS.QUEUED,), MS.CANCELLED),
}


def message_status_after(step: str, current: str) -> str:
    """The status a message at `current` has after `step`: a SEND_MOVES step or a
    TRACK_MARKS mark (the rules the functions below apply in the database)."""
    if step in SEND_MOVES:
        moves_from, to = SEND_MOVES[step]
    else:
        moves_from, to, _field, _counter = TRACK_MARKS[step]
    return to if to and current in moves_from else current


def message_claim_for_sending(*, message: Message | int) -> bool:
    """queued → sending. Only one caller ever wins; the loser must not send."""
    now = timezone.now()
    moves_from, to = SEND_MOVES["claim"]
    return bool(
        Message.objects.filter(pk=_pk(message), status__in=moves_from).update(
            status=to, sending_started_at=now
        )
    )


def message_mark_sent(
    *, message: Message | int, provider_message_id: str | None, at: datetime | None = None
) -> bool:
    at = at or timezone.now()
    moves_from, to = SEND_MOVES["mark_sent"]
    return bool(
        Message.objects.filter(pk=_pk(message), status__in=moves_from).update(
            status=to, sent_at=at, provider_message_id=provider_message_id or None
        )
    )


def message_mark_send_failed(
    *, message: Message | int, error: str, at: datetime | None = None
) -> bool:
    at = at or timezone.now()
    moves_from, to = SEND_MOVES["send_failed"]
    return bool(
        Message.objects.filter(pk=_pk(message), status__in=moves_from).update(
            status=to, failed_at=at, error=error[:5000]
        )
    )


def message_cancel(*, message: Message | int, reason: str) -> bool:
    return bool(messages_cancel_queued(reason=reason, pk=_pk(message)))


def messages_cancel_queued(*, reason: str, **which: object) -> int:
    """queued → cancelled for the messages matching `which` (pk=…, campaign_id=…,
    business=…); a message already claimed by a worker is left to finish. Returns how many."""
    if not which:
        raise ValueError("say which messages to cancel")
    moves_from, to = SEND_MOVES["cancel"]
    return Message.objects.filter(status__in=moves_from, **which).update(
        status=to, error=reason[:5000]
    )


# --- provider side ---------------------------------------------------------------------------


def _but(*excluded: str) -> tuple[str, ...]:
    return tuple(s for s in MS.values if s not in excluded)


# The marks provider events make, as data: kind → (statuses the message moves from, the
# status it moves to, the timestamp that keeps the earliest provider time, the counter).
TRACK_MARKS: dict[str, tuple[tuple[str, ...], str | None, str, str | None]] = {
    "sent": ((MS.QUEUED, MS.SENDING), MS.SENT, "sent_at", None),
    "delivered": ((MS.QUEUED, MS.SENDING, MS.SENT), MS.DELIVERED, "delivered_at", None),
    "opened": ((), None, "opened_at", "opened_count"),
    "clicked": ((), None, "clicked_at", "clicked_count"),
    "bounced": (_but(MS.BOUNCED), MS.BOUNCED, "bounced_at", None),
    "failed": (_but(MS.FAILED, MS.BOUNCED), MS.FAILED, "failed_at", None),
}


def message_track(
    *,
    kind: str,
    at: datetime,
    message: Message | int | None = None,
    provider_message_id: str | None = None,
    reason: str | None = None,
) -> Message | None:
    """One TRACK_MARKS mark in a single UPDATE … RETURNING (the webhook hot path: one
    statement where a read and a conditional update would be two), by pk or by provider id.
    `reason` becomes the message's error when its status moves.

    Returns the message (id, lead, channel, address) with `message.business` holding the
    lead's contact_status and furthest_contact_status as they were read — what an event
    handler needs next — or None when no message matches."""
    moves_from, to, field, counter = TRACK_MARKS[kind]
    if message is not None:
        key_column, key = "id", _pk(message)
    else:
        key_column, key = "provider_message_id", provider_message_id
    row = sql.message_track_update(
        message_table=Message._meta.db_table,
        lead_table=Business._meta.db_table,
        moves_from=moves_from,
        to=to,
        field=field,
        counter=counter,
        at=at,
        reason=reason,
        key_column=key_column,
        key=key,
    )
    if row is None:
        return None
    pk, business_id, channel, to_address, status, furthest = row
    found = Message(id=pk, business_id=business_id, channel=channel, to_address=to_address)
    found.business = Business(
        id=business_id, contact_status=status, furthest_contact_status=furthest
    )
    return found


def message_mark_provider_sent(*, message: Message | int, at: datetime) -> bool:
    """The provider accepted it (SES `Send`, Twilio `sent`): sent_at, never a step back."""
    return message_track(kind="sent", message=message, at=at) is not None


def message_mark_delivered(*, message: Message | int, at: datetime) -> bool:
    return message_track(kind="delivered", message=message, at=at) is not None


def message_mark_opened(*, message: Message | int, at: datetime) -> bool:
    return message_track(kind="opened", message=message, at=at) is not None


def message_mark_clicked(*, message: Message | int, at: datetime) -> bool:
    return message_track(kind="clicked", message=message, at=at) is not None


def message_mark_bounced(*, message: Message | int, at: datetime, reason: str = "") -> bool:
    return message_track(kind="bounced", message=message, at=at, reason=reason) is not None


def message_mark_failed(*, message: Message | int, at: datetime, reason: str = "") -> bool:
    """The provider could not deliver it (rejected, undelivered, failed)."""
    return message_track(kind="failed", message=message, at=at, reason=reason) is not None


def message_mark_replied(*, message: Message | int, at: datetime) -> bool:
    return _earliest(_pk(message), "replied_at", at)


def message_mark_converted(*, message: Message | int, at: datetime) -> bool:
    return _earliest(_pk(message), "converted_at", at)


def message_mark_read(*, message: Message | int, at: datetime | None = None) -> bool:
    """Staff read an inbound reply."""
    changed = bool(
        Message.objects.filter(pk=_pk(message), read_at__isnull=True).update(
            read_at=at or timezone.now()
        )
    )
    if changed:
        forget(UNREAD_REPLIES_KEY)
    return changed


def message_mark_unread(*, message: Message | int) -> bool:
    """Staff put a read reply back among the unread ones (to come back to it)."""
    changed = bool(
        Message.objects.filter(
            pk=_pk(message), direction=Direction.INBOUND, read_at__isnull=False
        ).update(read_at=None)
    )
    if changed:
        forget(UNREAD_REPLIES_KEY)
    return changed
