"""Nothing lost, nothing twice: a chunk checks its time budget after every message and hands
the rest back; a queued message whose worker died is handed out again; a message stuck in
`sending` becomes `unknown` (never re-sent automatically, "resend these N" for sales); the
watchdog completes or flags a campaign with nothing moving and says why."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from campaigns import lifecycle, services, tasks
from campaigns.models import Campaign, Message, MessageStatus
from crm.models import LeadEvent
from crm.services import business_create

pytestmark = pytest.mark.django_db


class FakeTime:
    """campaigns.tasks' clock in the budget test: one second passes per message sent."""

    now = 0.0

    @classmethod
    def monotonic(cls) -> float:
        return cls.now

    @classmethod
    def sleep(cls, seconds: float) -> None:
        cls.now += seconds


class SlowBackend(LocmemBackend):
    """The test outbox behind a provider that takes one (fake) second per message."""

    def send_messages(self, messages):
        FakeTime.now += len(messages)
        return super().send_messages(messages)


def leads(n):
    return [
        business_create(
            data={"name": f"Watch Lead {i}", "email": f"w{i}@watch{i}.com", "city": "Austin"},
            source="test",
        )
        for i in range(n)
    ]


def sending_campaign(n, **kw):
    """A started campaign whose messages are queued (its after-commit hand-out not run)."""
    leads(n)
    campaign = services.campaign_create(
        name="Watched", audience_query="city=Austin", subject_template="s", body_template="b",
        send_rate_per_minute=6000, **kw,
    )  # fmt: skip
    services.campaign_start(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == "sending"
    return campaign


def test_a_chunk_checks_its_budget_after_every_message_and_hands_the_rest_back(
    settings, monkeypatch
):
    settings.EMAIL_BACKEND = "tests.campaigns.test_watchdog.SlowBackend"
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 4}  # a chunk's budget: 2 s
    monkeypatch.setattr("campaigns.tasks.time", FakeTime)
    campaign = sending_campaign(6)
    ids = list(
        Message.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True)
    )
    outcome = tasks.campaign_send_chunk(campaign.pk, ids)
    # Two sends spent the budget; the other four went to a fresh task (run inline here, it
    # sent two and handed two on again), long before the task timeout.
    assert outcome == {"sent": 2, "handed_back": 4}
    assert sorted(e.to[0] for e in mail.outbox) == sorted(f"w{i}@watch{i}.com" for i in range(6))
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.SENT}
    campaign.refresh_from_db()
    assert campaign.status == "completed"


def test_a_queued_message_whose_worker_died_is_handed_out_again(settings):
    campaign = sending_campaign(2)
    ids = list(Message.objects.filter(campaign=campaign).values_list("pk", flat=True))
    now = timezone.now()
    lifecycle.messages_hand_out(ids=ids, at=now)  # handed to a chunk that then died
    assert services.campaign_dispatch(campaign_id=campaign.pk, now=now + timedelta(seconds=30)) == 0
    assert mail.outbox == []  # still in that worker's hands as far as anyone knows
    later = now + timedelta(seconds=settings.MESSAGE_SENDING_TIMEOUT + 1)
    assert services.campaign_dispatch(campaign_id=campaign.pk, now=later) == 1
    assert len(mail.outbox) == 2
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}


def test_a_message_stuck_in_sending_becomes_unknown_and_is_never_resent(settings):
    campaign = sending_campaign(2)
    stuck = Message.objects.filter(campaign=campaign).order_by("pk").first()
    assert lifecycle.message_claim_for_sending(message=stuck)  # then its worker died
    tasks.campaigns_dispatch()
    assert len(mail.outbox) == 1  # the other lead only
    campaign.refresh_from_db()
    assert campaign.status == "sending"  # not done while a message may still be in flight
    later = timezone.now() + timedelta(seconds=settings.MESSAGE_SENDING_TIMEOUT + 1)
    summary = tasks.campaigns_watchdog(now=later)
    assert summary == {"unknown": 1, "completed": 1, "stalled": 0}
    stuck.refresh_from_db()
    assert stuck.status == MessageStatus.UNKNOWN and "worker stopped" in stuck.error
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    assert campaign.status_reason == (
        "All messages handled: 1 sent, 1 unknown outcome. Check those of unknown outcome with "
        "the provider before resending them."
    )
    tasks.campaigns_dispatch()
    tasks.campaign_send_chunk(campaign.pk, [stuck.pk])
    assert len(mail.outbox) == 1  # never re-sent automatically


def _unknown_campaign(settings):
    campaign = sending_campaign(3)
    stuck = list(Message.objects.filter(campaign=campaign).order_by("pk")[:2])
    for message in stuck:
        lifecycle.message_claim_for_sending(message=message)
    tasks.campaigns_dispatch()
    later = timezone.now() + timedelta(seconds=settings.MESSAGE_SENDING_TIMEOUT + 1)
    tasks.campaigns_watchdog(now=later)
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    return campaign, stuck


def test_the_campaign_page_offers_sales_to_resend_the_unknown_ones(
    client, sales_user, settings, django_capture_on_commit_callbacks
):
    campaign, stuck = _unknown_campaign(settings)
    client.force_login(sales_user)
    page = client.get(f"/admin/crm/campaigns/{campaign.pk}/").content.decode()
    assert "2 messages of unknown outcome" in page
    assert "Resend these 2" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/crm/campaigns/{campaign.pk}/resend-unknown/")
    assert response.status_code == 302
    assert {m.status for m in Message.objects.filter(pk__in=[m.pk for m in stuck])} == {"sent"}
    assert len(mail.outbox) == 3
    notes = LeadEvent.objects.filter(kind="note", data__resend=True)
    assert notes.count() == 2 and {n.actor for n in notes} == {sales_user}
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    page = client.get(f"/admin/crm/campaigns/{campaign.pk}/").content.decode()
    assert "Resend these" not in page


def test_a_viewer_sees_the_unknown_ones_but_cannot_resend(client, viewer_user, settings):
    campaign, stuck = _unknown_campaign(settings)
    client.force_login(viewer_user)
    page = client.get(f"/admin/crm/campaigns/{campaign.pk}/").content.decode()
    assert "2 messages of unknown outcome" in page and "Resend these" not in page
    response = client.post(f"/admin/crm/campaigns/{campaign.pk}/resend-unknown/")
    assert response.status_code == 403
    assert Message.objects.filter(status="unknown").count() == 2


def test_the_watchdog_flags_a_campaign_with_nothing_moving_and_says_why(monkeypatch, settings):
    monkeypatch.setattr(Conf, "SYNC", False)  # tasks go to the broker; no worker takes them
    campaign = sending_campaign(2)
    services.campaign_dispatch(campaign_id=campaign.pk)
    assert OrmQ.objects.count() == 1
    later = timezone.now() + services.stalled_after() + timedelta(minutes=1)
    summary = tasks.campaigns_watchdog(now=later)
    assert summary == {"unknown": 0, "completed": 0, "stalled": 1}
    campaign.refresh_from_db()
    assert campaign.status == "sending"
    minutes = int(services.stalled_after().total_seconds() // 60)
    assert campaign.status_reason == (
        f"Stalled: 2 messages due and not sent, nothing moved for over {minutes} minutes. "
        "Handed to the workers again; if this stays, check that a qcluster worker runs."
    )
    assert OrmQ.objects.count() == 2  # handed out again
    assert mail.outbox == []


def test_the_watchdog_schedule_exists_after_migrate():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="campaigns-watchdog")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "campaigns.tasks.campaigns_watchdog",
        "I",
        1,
    )


def test_unknown_is_a_message_status():
    assert ("unknown", "Unknown outcome") in MessageStatus.choices
    assert Campaign._meta.get_field("cooldown_overridden_by").null
