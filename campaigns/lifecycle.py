"""Message (and Campaign) status rules: the only code that changes their statuses.

Send side (at most once per message, django-q2 being at-least-once):
    queued → sending (claimed by one worker, compare-and-set) → sent | failed
    queued → cancelled (lead unsubscribed / purchased, campaign cancelled, contact policy,
             its preview site could not be generated, an empty merge field)
    sending → unknown (claimed longer ago than MESSAGE_SENDING_TIMEOUT: its worker died
             mid-send, the provider may or may not have it) → queued only when staff ask
A queued message may wait for its preview site (`waiting_for`); `dispatched_at` says when a
worker was last handed it. A message in `sending` or `unknown` is never re-sent
automatically.

Provider side (events may arrive twice and in any order): timestamps keep the earliest
provider time, counters count distinct events (the inbox dedupes deliveries), and the
status only moves forward: sent < delivered; bounced / failed are final for delivery.
Every function is one UPDATE; the send side's return whether they changed something, the
provider side's whether the message exists.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from campaigns import sql
from campaigns.models import Direction, Message, MessageStatus, WaitingFor
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
    # Claimed longer than MESSAGE_SENDING_TIMEOUT ago: its worker died mid-send.
    "mark_unknown": ((MS.SENDING,), MS.UNKNOWN),
    # Only when staff ask ("resend these N").
    "requeue_unknown": ((MS.UNKNOWN,), MS.QUEUED),
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


def messages_hand_out(*, ids: list[int], at: datetime) -> int:
    """Stamp these queued messages as handed to a worker now (their lease starts)."""
    return Message.objects.filter(pk__in=ids, status=MS.QUEUED).update(dispatched_at=at)


def message_defer(*, message: Message | int, until: datetime) -> bool:
    """A queued message may not go before `until` (SMS quiet hours): the dispatcher hands it
    out again then."""
    return bool(
        Message.objects.filter(pk=_pk(message), status=MS.QUEUED).update(
            send_after=until, dispatched_at=None
        )
    )


def message_wait_for_site(*, message: Message | int) -> bool:
    """A queued pitch that links a preview site its lead does not have yet: it waits."""
    return bool(
        Message.objects.filter(pk=_pk(message), status=MS.QUEUED).update(
            waiting_for=WaitingFor.SITE, dispatched_at=None
        )
    )


def messages_site_ready(*, business_id: int, site_id: int) -> list[int]:
    """The lead's site exists now: its waiting messages link it and may go. Returns them."""
    waiting = Message.objects.filter(
        business_id=business_id, status=MS.QUEUED, waiting_for=WaitingFor.SITE
    )
    ids = list(waiting.values_list("pk", flat=True))
    waiting.filter(pk__in=ids).update(
        site_id=site_id, waiting_for=WaitingFor.NOTHING, dispatched_at=None
    )
    return ids


def messages_site_failed(*, business_id: int, reason: str) -> int:
    """The lead's site could not be generated: its waiting pitches are skipped, with why."""
    return messages_cancel_queued(
        reason=reason, business_id=business_id, waiting_for=WaitingFor.SITE
    )


def messages_mark_unknown(
    *, claimed_before: datetime, campaign_id: int | None = None
) -> dict[int | None, int]:
    """sending → unknown for messages claimed before `claimed_before` (of one campaign, or
    all): no task lives that long, so their worker died mid-send. Returns how many per
    campaign id."""
    moves_from, to = SEND_MOVES["mark_unknown"]
    stuck = Message.objects.filter(status__in=moves_from, sending_started_at__lt=claimed_before)
    if campaign_id is not None:
        stuck = stuck.filter(campaign_id=campaign_id)
    ids = list(stuck.values_list("pk", flat=True))
    if not ids:
        return {}
    Message.objects.filter(pk__in=ids, status__in=moves_from).update(
        status=to,
        error="Outcome unknown: the worker stopped while sending it; the provider may or may "
        "not have it. Not re-sent automatically.",
    )
    return dict(
        Message.objects.filter(pk__in=ids, status=to)
        .order_by()
        .values_list("campaign_id")
        .annotate(n=Count("pk"))
        .values_list("campaign_id", "n")
    )


def messages_requeue_unknown(*, campaign_id: int, at: datetime, note: str) -> list[int]:
    """unknown → queued, due now (staff chose to resend them, knowing one may arrive twice)."""
    moves_from, to = SEND_MOVES["requeue_unknown"]
    unknown = Message.objects.filter(campaign_id=campaign_id, status__in=moves_from)
    ids = list(unknown.values_list("pk", flat=True))
    unknown.filter(pk__in=ids).update(
        status=to,
        send_after=at,
        dispatched_at=None,
        sending_started_at=None,
        error=note[:5000],
    )
    return ids


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
        status=to, waiting_for=WaitingFor.NOTHING, error=reason[:5000]
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


# A tracked link counts as a click once per message within this window.
CLICK_WINDOW = timedelta(minutes=10)


def message_click_window_claim(*, message: Message | int, at: datetime) -> bool:
    """Whether a tracked-link hit at `at` opens a new click window for this message (the
    first hit, or the first after CLICK_WINDOW). One conditional UPDATE: of simultaneous
    hits exactly one wins."""
    return bool(
        Message.objects.filter(pk=_pk(message))
        .filter(Q(click_counted_at__isnull=True) | Q(click_counted_at__lte=at - CLICK_WINDOW))
        .update(click_counted_at=at)
    )


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
