"""The raw-event inbox: every authenticated provider event is stored before it is applied.

    event, created = inbox.record(provider, event_id, event_type, payload)
    inbox.process(event)          # apply it now; the outcome is stored on the row

Dedupe keys (DESIGN.md): anymail `event_id` + recipient; Twilio status `MessageSid` +
`MessageStatus`, inbound SMS `MessageSid`; Recurrente `svix-id`. The unique constraint on
(provider, event_id) makes a duplicate delivery a no-op.

Handlers are registered per provider by the app that owns the effect (crm never imports
downstream apps); a handler applies one event and returns an Outcome or raises:
- `Unmatched` when what the event refers to does not exist yet (e.g. a tracking event that
  overtook the send's commit): the event is retried until INBOX_UNMATCHED_RETRY_MINUTES
  have passed, then left as `unmatched` (not an error);
- any other exception: the event keeps the error and the attempt count, `failed`, and
  `replay_webhooks --failed` retries it.
Application and the `processed` mark commit together, under a row lock on the event taken
before the handler runs (for the row a webhook request has just stored, by the claim that
writes the mark: `UPDATE … WHERE status = 'pending'`), so an event is applied at most once
even when two workers replay it at the same time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from crm import sql
from crm.models import ProviderEvent, ProviderEventStatus

logger = logging.getLogger(__name__)

Status = ProviderEventStatus


class Unmatched(Exception):
    """The event refers to something we do not know (yet)."""


class Ignored(Exception):
    """The event is valid but has nothing to apply (e.g. an unknown event type)."""


Handler = Callable[[ProviderEvent], Any]
_handlers: dict[str, Handler] = {}


def register(provider: str, handler: Handler) -> None:
    _handlers[provider] = handler


def registered_providers() -> list[str]:
    return sorted(_handlers)


def registered_handlers() -> dict[str, Handler]:
    """{provider: handler}, as the apps registered them (a copy)."""
    return dict(_handlers)


def record(
    provider: str,
    event_id: str,
    event_type: str,
    payload: Any,
    *,
    occurred_at: datetime | None = None,
) -> tuple[ProviderEvent, bool]:
    """Store one event. Returns (event, created); a duplicate returns the stored row."""
    if not event_id:
        raise ValueError("an inbox event needs an event_id to be deduplicated")
    event_id, event_type, payload = _without_nul((event_id, event_type, payload))
    event = ProviderEvent(
        provider=provider,
        event_id=event_id[:255],
        event_type=(event_type or "unknown")[:80],
        payload=payload,
        occurred_at=occurred_at,
        status=Status.PENDING,
        received_at=timezone.now(),
    )
    # One INSERT, its own transaction in autocommit (a webhook request): committed when it
    # returns. ON CONFLICT DO NOTHING makes a duplicate delivery a no-op, even inside a
    # caller's transaction.
    if not sql.row_insert(event, conflict=("provider", "event_id")):
        return ProviderEvent.objects.get(provider=provider, event_id=event.event_id), False
    return event, True


def _without_nul(value: Any) -> Any:
    """PostgreSQL text and jsonb cannot hold U+0000: an authenticated event carrying one
    (e.g. an SMS body) is stored with U+FFFD in its place instead of failing to store."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_without_nul(v) for v in value)
    return value


def process(event: ProviderEvent | int, *, just_stored: bool = False) -> ProviderEvent:
    """Apply one stored event through its provider's handler, at most once.

    The handler's effects and the event's outcome commit together. Run on its own (a
    webhook request) the handler gets no savepoint: if it raises, the whole transaction
    rolls back and the outcome is stored in a second one; inside a caller's transaction a
    savepoint keeps the caller's work.

    At most once: the event row is locked before the handler runs (always first, so two
    appliers of one event never lock the rows they touch in opposite orders), and a
    concurrent replay waits and then finds it processed. `just_stored`: the row this
    request has just inserted, still in memory. Its lock is a claim — one UPDATE that
    writes the `processed` outcome up front, `WHERE status = 'pending'` — so the webhook
    hot path neither re-reads the row nor writes it twice; a handler that raises rolls the
    claim back with everything else, and the real outcome is stored instead."""
    fresh = just_stored and isinstance(event, ProviderEvent)
    savepoint = connection.in_atomic_block
    try:
        return _process(event, fresh=fresh, savepoint=savepoint)
    except _Rollback as rollback:
        if isinstance(rollback.exc, OperationalError | InterfaceError):
            # The connection was lost (or a deadlock was broken): nothing is applied and the
            # event stays pending. The provider gets a 5xx and retries; the retry schedule
            # picks up a pending event whose request died.
            raise rollback.exc from None
        return _process(event, fresh=False, savepoint=False, outcome=rollback.exc)


class _Rollback(Exception):
    """The handler raised: roll back everything it did, then store the outcome."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc


OUTCOME_FIELDS = ("status", "attempts", "error", "processed_at", "next_attempt_at")


def _process(
    event: ProviderEvent | int,
    *,
    fresh: bool,
    savepoint: bool,
    outcome: Exception | None = None,
) -> ProviderEvent:
    now = timezone.now()
    with transaction.atomic():
        claimed = fresh and _claim(event, now)
        if claimed:
            locked = event
        else:  # a replay, a retry, or a fresh event someone else got to first
            pk = event.pk if isinstance(event, ProviderEvent) else event
            locked = ProviderEvent.objects.select_for_update().get(pk=pk)
            if locked.status in (Status.PROCESSED, Status.IGNORED):
                return locked
            locked.attempts += 1
        handler = _handlers.get(locked.provider)
        error = ""
        try:
            if outcome is not None:
                raise outcome
            if handler is None:
                raise Ignored(f"no handler registered for provider {locked.provider!r}")
            if savepoint:
                with transaction.atomic():
                    handler(locked)
            else:
                handler(locked)
        except Exception as exc:
            if outcome is None and not savepoint:
                raise _Rollback(exc) from exc
            locked.processed_at = None  # undo the claim's guess
            if isinstance(exc, Ignored):
                locked.status, error = Status.IGNORED, str(exc)
                locked.processed_at = now
            elif isinstance(exc, Unmatched):
                error = str(exc) or "no matching record yet"
                deadline = locked.received_at + timedelta(
                    minutes=settings.INBOX_UNMATCHED_RETRY_MINUTES
                )
                locked.status = Status.UNMATCHED
                locked.next_attempt_at = _backoff(now, locked.attempts) if now < deadline else None
            else:  # kept on the row, never lost
                logger.error("inbox event %s (%s) failed", locked.pk, locked, exc_info=exc)
                locked.status, error = Status.FAILED, f"{type(exc).__name__}: {exc}"
                locked.next_attempt_at = None
        else:
            if claimed:
                return locked  # the claim wrote this outcome
            locked.status = Status.PROCESSED
            locked.processed_at = now
            locked.next_attempt_at = None
        locked.error = error[:5000]
        locked.save(update_fields=OUTCOME_FIELDS)
        return locked


def _claim(event: ProviderEvent, now: datetime) -> bool:
    """Lock a pending event by writing `processed` on it (the outcome if the handler does
    not raise). False when it is not pending any more: someone else applied it."""
    attempts = sql.provider_event_claim(
        table=ProviderEvent._meta.db_table,
        pk=event.pk,
        at=now,
        to=Status.PROCESSED,
        pending=Status.PENDING,
    )
    if attempts is None:
        return False
    event.status, event.attempts, event.error = Status.PROCESSED, attempts, ""
    event.processed_at, event.next_attempt_at = now, None
    return True


def event_link_lead(event: ProviderEvent, business_id: int | None) -> None:
    """Show the event's lead on the inbox page. Low-volume events only: applied tracking
    events reach the lead's page through their timeline row's provider_event link, which
    keeps an UPDATE off the webhook hot path."""
    if business_id and event.business_id != business_id:
        ProviderEvent.objects.filter(pk=event.pk).update(business_id=business_id)
        event.business_id = business_id


def _backoff(now: datetime, attempts: int) -> datetime:
    return now + timedelta(seconds=min(300, 5 * 2 ** max(0, attempts - 1)))


def record_and_process(
    provider: str,
    event_id: str,
    event_type: str,
    payload: Any,
    *,
    occurred_at: datetime | None = None,
) -> tuple[ProviderEvent, bool]:
    """What a webhook view calls: store (committed on its own), then apply."""
    event, created = record(provider, event_id, event_type, payload, occurred_at=occurred_at)
    if created or event.status in (Status.PENDING, Status.UNMATCHED):
        event = process(event, just_stored=created)
    return event, created


# An event still `pending` this long after it was stored lost its request mid-apply (a
# crash, a dropped connection): the retry schedule applies it.
STUCK_PENDING = timedelta(minutes=2)


def due_for_retry(now: datetime | None = None):
    """Unmatched events whose next attempt is due, and events stuck in `pending`."""
    now = now or timezone.now()
    return ProviderEvent.objects.filter(
        Q(status=Status.UNMATCHED, next_attempt_at__lte=now)
        | Q(status=Status.PENDING, received_at__lte=now - STUCK_PENDING)
    )


def retry_due() -> int:
    """Retry every due unmatched event (run by the django-q2 schedule). Returns how many."""
    count = 0
    for pk in due_for_retry().values_list("pk", flat=True).order_by("pk")[:1000]:
        process(pk)
        count += 1
    return count


def replayable(*, provider: str | None = None, failed_only: bool = False):
    qs = ProviderEvent.objects.all()
    if provider:
        qs = qs.filter(provider=provider)
    if failed_only:
        qs = qs.filter(status__in=[Status.FAILED, Status.UNMATCHED])
    return qs.order_by("received_at", "pk")


def replay(event: ProviderEvent | int, *, force: bool = False) -> ProviderEvent:
    """Reprocess a stored event. `force` re-applies one already processed (handlers are
    idempotent, so this repeats nothing that already took effect)."""
    pk = event.pk if isinstance(event, ProviderEvent) else event
    if force:
        ProviderEvent.objects.filter(pk=pk).update(status=Status.PENDING, processed_at=None)
    return process(pk)
