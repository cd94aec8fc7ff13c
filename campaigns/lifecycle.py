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

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from campaigns.models import Message, MessageStatus, WaitingFor
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


def message_claim_for_sending(*, message: Message | int) -> bool:
    """queued → sending. Only one caller ever wins; the loser must not send."""
    now = timezone.now()
    return bool(
        Message.objects.filter(pk=_pk(message), status=MS.QUEUED).update(
            status=MS.SENDING, sending_started_at=now
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
    return Message.objects.filter(
        business_id=business_id, status=MS.QUEUED, waiting_for=WaitingFor.SITE
    ).update(status=MS.CANCELLED, waiting_for=WaitingFor.NOTHING, error=reason[:5000])


def messages_mark_unknown(
    *, claimed_before: datetime, campaign_id: int | None = None
) -> dict[int | None, int]:
    """sending → unknown for messages claimed before `claimed_before` (of one campaign, or
    all): no task lives that long, so their worker died mid-send. Returns how many per
    campaign id."""
    stuck = Message.objects.filter(status=MS.SENDING, sending_started_at__lt=claimed_before)
    if campaign_id is not None:
        stuck = stuck.filter(campaign_id=campaign_id)
    ids = list(stuck.values_list("pk", flat=True))
    if not ids:
        return {}
    Message.objects.filter(pk__in=ids, status=MS.SENDING).update(
        status=MS.UNKNOWN,
        error="Outcome unknown: the worker stopped while sending it; the provider may or may "
        "not have it. Not re-sent automatically.",
    )
    return dict(
        Message.objects.filter(pk__in=ids, status=MS.UNKNOWN)
        .order_by()
        .values_list("campaign_id")
        .annotate(n=Count("pk"))
        .values_list("campaign_id", "n")
    )


def messages_requeue_unknown(*, campaign_id: int, at: datetime, note: str) -> list[int]:
    """unknown → queued, due now (staff chose to resend them, knowing one may arrive twice)."""
    unknown = Message.objects.filter(campaign_id=campaign_id, status=MS.UNKNOWN)
    ids = list(unknown.values_list("pk", flat=True))
    unknown.filter(pk__in=ids).update(
        status=MS.QUEUED,
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
        status=MS.CANCELLED, waiting_for=WaitingFor.NOTHING, error=reason[:5000]
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
    table, lead_table = (f'"{model._meta.db_table}"' for model in (Message, Business))
    at_db = connection.ops.adapt_datetimefield_value(at)
    sets, params = [], []
    if to:
        marks = ", ".join(["%s"] * len(moves_from))
        sets.append(f"status = CASE WHEN status IN ({marks}) THEN %s ELSE status END")
        params += [*moves_from, to]
        if reason is not None:
            sets.append(f"error = CASE WHEN status IN ({marks}) THEN %s ELSE error END")
            params += [*moves_from, reason[:5000]]
    sets.append(f"{field} = CASE WHEN {field} IS NULL OR {field} > %s THEN %s ELSE {field} END")
    params += [at_db, at_db]
    if counter:
        sets.append(f"{counter} = {counter} + 1")
    if message is not None:
        where, key = "id = %s", _pk(message)
    else:
        where, key = "provider_message_id = %s", provider_message_id
    lead = f"(SELECT {{}} FROM {lead_table} WHERE {lead_table}.id = {table}.business_id)"
    sql = (
        f"UPDATE {table} SET {', '.join(sets)} WHERE {where} RETURNING id, business_id,"
        f" channel, to_address, {lead.format('contact_status')},"
        f" {lead.format('furthest_contact_status')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, key])
        row = cursor.fetchone()
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
