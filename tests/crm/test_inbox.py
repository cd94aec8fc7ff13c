"""The raw-event inbox: stored once, applied at most once, errors kept, replayable."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from crm import inbox
from crm.models import ProviderEvent

pytestmark = pytest.mark.django_db

applied = []


@pytest.fixture
def handler():
    """A handler for the 'sandbox' provider whose behaviour each test chooses."""
    previous = inbox._handlers.get("sandbox")
    behaviour = {"mode": "ok"}

    def handle(event):
        mode = behaviour["mode"]
        if mode == "unmatched":
            raise inbox.Unmatched("no such message yet")
        if mode == "ignored":
            raise inbox.Ignored("unknown type")
        if mode == "boom":
            ProviderEvent.objects.filter(pk=event.pk).update(event_type="half-applied")
            raise RuntimeError("database said no")
        applied.append(event.event_id)

    inbox.register("sandbox", handle)
    applied.clear()
    yield behaviour
    if previous is None:
        inbox._handlers.pop("sandbox", None)
    else:
        inbox.register("sandbox", previous)


def test_a_duplicate_delivery_is_stored_once_and_applied_once(handler):
    first, created = inbox.record_and_process("sandbox", "evt-1", "payment", {"a": 1})
    again, created_again = inbox.record_and_process("sandbox", "evt-1", "payment", {"a": 1})
    assert (created, created_again) == (True, False)
    assert first.pk == again.pk and again.status == "processed"
    assert applied == ["evt-1"]
    assert ProviderEvent.objects.count() == 1


def test_the_same_event_id_from_two_providers_is_two_events(handler):
    inbox.record("sandbox", "same", "x", {})
    inbox.record("twilio", "same", "x", {})
    assert ProviderEvent.objects.count() == 2


def test_an_event_without_id_is_refused(db):
    with pytest.raises(ValueError):
        inbox.record("sandbox", "", "x", {})
    assert ProviderEvent.objects.count() == 0


def test_a_failing_event_keeps_its_error_and_nothing_half_applied(handler):
    handler["mode"] = "boom"
    event, _ = inbox.record_and_process("sandbox", "evt-2", "payment", {})
    event.refresh_from_db()
    assert event.status == "failed" and event.attempts == 1
    assert "database said no" in event.error
    assert event.event_type == "payment"  # the handler's partial write was rolled back


def test_replay_applies_a_failed_event_once_fixed(handler, capsys):
    handler["mode"] = "boom"
    inbox.record_and_process("sandbox", "evt-3", "payment", {})
    handler["mode"] = "ok"
    call_command("replay_webhooks", "--failed", "--provider", "sandbox")
    assert "1 processed" in capsys.readouterr().out
    event = ProviderEvent.objects.get(event_id="evt-3")
    assert event.status == "processed" and event.attempts == 2 and event.error == ""
    call_command("replay_webhooks", "--failed")
    assert applied == ["evt-3"]


def test_unmatched_events_are_retried_with_backoff_then_left_unmatched(handler, settings):
    handler["mode"] = "unmatched"
    event, _ = inbox.record_and_process("sandbox", "evt-4", "opened", {})
    assert event.status == "unmatched" and event.next_attempt_at > timezone.now()
    assert inbox.retry_due() == 0  # not due yet
    ProviderEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
    handler["mode"] = "ok"
    assert inbox.retry_due() == 1
    event.refresh_from_db()
    assert event.status == "processed"

    handler["mode"] = "unmatched"
    late, _ = inbox.record("sandbox", "evt-5", "opened", {})
    ProviderEvent.objects.filter(pk=late.pk).update(
        received_at=timezone.now() - timedelta(minutes=settings.INBOX_UNMATCHED_RETRY_MINUTES + 1)
    )
    late = inbox.process(late)
    assert late.status == "unmatched" and late.next_attempt_at is None


def test_ignored_events_are_kept_and_not_errors(handler):
    handler["mode"] = "ignored"
    event, _ = inbox.record_and_process("sandbox", "evt-6", "mystery", {})
    assert event.status == "ignored" and event.processed_at is not None


def test_replay_command_rejects_bad_input(db):
    with pytest.raises(CommandError):
        call_command("replay_webhooks", "--failed", "--all")
    with pytest.raises(CommandError):
        call_command("replay_webhooks", "--id", "424242")


def test_the_retry_schedule_exists(db):
    from django_q.models import Schedule

    assert Schedule.objects.filter(func="crm.tasks.inbox_retry_due").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_processing_one_event_apply_it_once(handler):
    import threading

    from django.db import connection

    event, _ = inbox.record("sandbox", "evt-race", "payment", {})
    barrier = threading.Barrier(4)

    def worker():
        barrier.wait()
        try:
            inbox.process(event.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    event.refresh_from_db()
    assert applied == ["evt-race"]
    assert event.status == "processed" and event.attempts == 1


def test_an_event_stuck_in_pending_is_applied_by_the_retry_schedule(handler):
    event, _ = inbox.record("sandbox", "evt-stuck", "payment", {})  # its request died here
    assert inbox.retry_due() == 0  # a request may still be applying it
    ProviderEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - inbox.STUCK_PENDING - timedelta(seconds=1)
    )
    assert inbox.retry_due() == 1
    event.refresh_from_db()
    assert event.status == "processed" and applied == ["evt-stuck"]
