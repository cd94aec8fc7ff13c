"""Campaign audience, start (set-based, idempotent), sending through django-q2 (sync),
send-time checks, pause / resume / cancel, follow-ups and the deliverability guard."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from campaigns import services, tasks
from campaigns.audience import audience_preview
from campaigns.lifecycle import message_mark_bounced, message_mark_replied
from campaigns.models import Campaign, CampaignStatus, Message, MessageStatus
from campaigns.suppression import suppression_add
from crm.lifecycle import (
    business_advance,
    business_mark_bounced,
    business_opt_in_sms,
    business_opt_out,
    business_record_contact,
)
from crm.models import Business
from crm.services import business_create

pytestmark = pytest.mark.django_db


def lead(name, **data):
    data.setdefault("city", "Austin")
    data.setdefault("state", "TX")
    data.setdefault("category", "Plumber")
    return business_create(data={"name": name, **data}, source="test")


@pytest.fixture
def leads():
    """One eligible lead per reason, plus two eligible ones."""
    made = {
        "ok1": lead("Alpha Plumbing", email="a@alpha.com", phone="512-555-0101"),
        "ok2": lead("Beta Plumbing", email="b@beta.com", phone="512-555-0102"),
        "no_email": lead("Gamma Plumbing", phone="512-555-0103"),
        "suppressed_email": lead("Delta Plumbing", email="d@delta.com"),
        "suppressed_domain": lead("Epsilon Plumbing", email="e@blocked.com"),
        "opted_out": lead("Zeta Plumbing", email="z@zeta.com"),
        "bounced": lead("Eta Plumbing", email="h@eta.com"),
        "purchased": lead("Theta Plumbing", email="t@theta.com"),
        "cooldown": lead("Iota Plumbing", email="i@iota.com"),
        "other_city": lead("Kappa Plumbing", email="k@kappa.com", city="Dallas"),
    }
    suppression_add(kind="email", value="D@Delta.com", reason="manual")
    suppression_add(kind="domain", value="blocked.com", reason="complaint")
    business_opt_out(business=made["opted_out"], channel="email", source="manual")
    business_mark_bounced(business=made["bounced"], source="provider")
    business_advance(business=made["purchased"], to="purchased", source="provider")
    business_record_contact(business=made["cooldown"], channel="email", source="manual")
    return made


def make_campaign(**kw):
    kw.setdefault("name", "Austin plumbers")
    kw.setdefault("audience_query", "city=Austin")
    kw.setdefault("subject_template", "A website for {{ business_name }}")
    kw.setdefault("body_template", "Hi {{ business_name }} in {{ city }}: {{ preview_url }}")
    kw.setdefault("send_rate_per_minute", 1000)
    return services.campaign_create(**kw)


def test_preview_counts_eligible_leads_and_every_exclusion_reason(leads):
    preview = audience_preview(channel="email", audience_query="city=Austin")
    assert preview.eligible == 2
    assert {b.name for b in preview.sample} == {"Alpha Plumbing", "Beta Plumbing"}
    assert preview.excluded == {
        "no_email": 1,
        "suppressed": 2,
        "email_opted_out": 1,
        "bounced": 1,
        "purchased": 1,
        "cooldown": 1,
    }
    assert preview.total == 9


def test_sms_preview_requires_consent_and_a_phone(leads):
    business_opt_in_sms(business=leads["ok1"], source="manual")
    preview = audience_preview(channel="sms", audience_query="city=Austin")
    assert preview.eligible == 1
    assert preview.excluded["no_phone"] == 6
    assert preview.excluded["no_sms_consent"] == 2


def test_start_freezes_the_audience_and_sends_each_lead_once(
    leads, django_capture_on_commit_callbacks
):
    campaign = make_campaign()
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_start(campaign=campaign)
    campaign.refresh_from_db()
    messages = Message.objects.filter(campaign=campaign)
    assert sorted(messages.values_list("business__name", flat=True)) == [
        "Alpha Plumbing",
        "Beta Plumbing",
    ]
    assert all(m.token and len(m.token) == 32 for m in messages)
    assert set(messages.values_list("status", flat=True)) == {MessageStatus.SENT}
    assert len(mail.outbox) == 2
    assert campaign.status == CampaignStatus.COMPLETED
    body = next(e.body for e in mail.outbox if e.to == ["a@alpha.com"])
    assert "Hi Alpha Plumbing in Austin" in body
    # A retried start creates nothing new and sends nothing twice.
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_start(campaign=campaign)
    assert Message.objects.filter(campaign=campaign).count() == 2
    assert len(mail.outbox) == 2
    # A lead that changes after the start does not join the frozen audience.
    lead("Late Plumbing", email="late@late.com")
    tasks.campaigns_dispatch()
    assert Message.objects.filter(campaign=campaign).count() == 2


def test_start_says_how_many_recipients_it_froze_with_a_real_count(leads):
    """SQLite's driver reports -1 rows for an INSERT that starts with WITH: the count read
    back is the real one, on both databases, with the right plural."""
    campaign = make_campaign()
    services.campaign_start(campaign=campaign)  # the sending waits for the commit
    campaign.refresh_from_db()
    # Neither lead has a preview site yet: the start says so.
    assert campaign.status_reason == "2 recipients; 2 preview sites to generate first"
    # A lead the first campaign does not hold (it holds ok1 and ok2 for the cooldown).
    solo = lead("Solo Plumbing", email="solo@solo.com", city="Dallas")
    single = make_campaign(name="One", audience_query="", audience_ids=[solo.pk])
    services.campaign_start(campaign=single)
    single.refresh_from_db()
    assert single.status_reason == "1 recipient; 1 preview site to generate first"


def test_explicit_selection_is_the_audience(leads, django_capture_on_commit_callbacks):
    campaign = make_campaign(audience_query="", audience_ids=[leads["ok2"].pk, leads["bounced"].pk])
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_start(campaign=campaign)
    assert list(Message.objects.filter(campaign=campaign).values_list("business", flat=True)) == [
        leads["ok2"].pk
    ]


def test_preview_link_carries_the_message_token(leads, django_capture_on_commit_callbacks):
    from sites.models import Site

    Site.objects.create(slug="alpha-plumbing", business=leads["ok1"])
    campaign = make_campaign(audience_ids=[leads["ok1"].pk], audience_query="")
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_start(campaign=campaign)
    message = Message.objects.get(campaign=campaign)
    assert message.site.slug == "alpha-plumbing"
    assert f"https://crm.example.com/c/{message.token}/" in mail.outbox[0].body
    assert f"https://crm.example.com/c/{message.token}/" in mail.outbox[0].alternatives[0][0]


def test_lead_unsubscribed_after_start_is_skipped_at_send_time(leads):
    campaign = make_campaign(scheduled_at=timezone.now() + timedelta(hours=1))
    services.campaign_start(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED
    # Suppressed directly (no signal), so the send-time check is what stops it.
    suppression_add(kind="email", value="a@alpha.com", reason="manual")
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now())
    Message.objects.filter(campaign=campaign).update(send_after=timezone.now())
    tasks.campaigns_dispatch()
    statuses = dict(Message.objects.filter(campaign=campaign).values_list("to_address", "status"))
    assert statuses == {"a@alpha.com": MessageStatus.CANCELLED, "b@beta.com": MessageStatus.SENT}
    assert [e.to for e in mail.outbox] == [["b@beta.com"]]


def test_unsubscribe_cancels_queued_messages_through_the_signal(
    leads, django_capture_on_commit_callbacks
):
    campaign = make_campaign(scheduled_at=timezone.now() + timedelta(hours=1))
    services.campaign_start(campaign=campaign)
    with django_capture_on_commit_callbacks(execute=True):
        business_opt_out(business=leads["ok1"], channel="email", source="manual")
    assert Message.objects.get(business=leads["ok1"]).status == MessageStatus.CANCELLED
    assert Message.objects.get(business=leads["ok2"]).status == MessageStatus.QUEUED


def test_pause_holds_messages_and_resume_sends_them(leads, django_capture_on_commit_callbacks):
    campaign = make_campaign(scheduled_at=timezone.now() + timedelta(hours=1))
    services.campaign_start(campaign=campaign)
    assert services.campaign_pause(campaign=campaign)
    Message.objects.filter(campaign=campaign).update(send_after=timezone.now())
    tasks.campaigns_dispatch()
    assert not mail.outbox
    with django_capture_on_commit_callbacks(execute=True):
        assert services.campaign_resume(campaign=campaign)
    assert len(mail.outbox) == 2
    assert not services.campaign_resume(campaign=campaign)


def test_cancel_cancels_every_queued_message(leads):
    campaign = make_campaign(scheduled_at=timezone.now() + timedelta(hours=1))
    services.campaign_start(campaign=campaign)
    assert services.campaign_cancel(campaign=campaign)
    assert set(Message.objects.filter(campaign=campaign).values_list("status", flat=True)) == {
        MessageStatus.CANCELLED
    }
    assert not services.campaign_cancel(campaign=campaign)
    tasks.campaigns_dispatch()
    assert not mail.outbox


def test_rate_and_daily_cap_pace_the_send_times(leads):
    now = timezone.now()
    campaign = make_campaign(send_rate_per_minute=1, daily_cap=1, audience_query="")
    campaign.audience_ids = [leads["ok1"].pk, leads["ok2"].pk, leads["other_city"].pk]
    campaign.save(update_fields=["audience_ids"])
    services.messages_insert(campaign=campaign, start_at=now, now=now)
    times = sorted(Message.objects.filter(campaign=campaign).values_list("send_after", flat=True))
    assert [round((t - now).total_seconds() / 3600) for t in times] == [0, 24, 48]
    Message.objects.filter(campaign=campaign).delete()
    campaign.daily_cap = 1000
    campaign.send_rate_per_minute = 2
    services.messages_insert(campaign=campaign, start_at=now, now=now)
    times = sorted(Message.objects.filter(campaign=campaign).values_list("send_after", flat=True))
    assert [round((t - now).total_seconds()) for t in times] == [0, 30, 60]


def test_followup_goes_to_leads_that_neither_replied_nor_clicked(
    leads, django_capture_on_commit_callbacks
):
    campaign = make_campaign(
        followups=[{"after_days": 2, "subject": "Following up", "body": "Still interested?"}]
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_start(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING  # follow-ups still to come
    replied = Message.objects.get(campaign=campaign, business=leads["ok1"])
    message_mark_replied(message=replied, at=timezone.now())
    business_advance(business=leads["ok1"], to="replied", source="provider")
    Message.objects.filter(campaign=campaign).update(sent_at=timezone.now() - timedelta(days=3))
    mail.outbox.clear()
    tasks.campaigns_dispatch()
    step2 = Message.objects.filter(campaign=campaign, step=2)
    assert list(step2.values_list("business", flat=True)) == [leads["ok2"].pk]
    assert step2.get().status == MessageStatus.SENT
    assert [e.subject for e in mail.outbox] == ["Following up"]
    tasks.campaigns_dispatch()
    assert Message.objects.filter(campaign=campaign, step=2).count() == 1
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED


def test_guard_pauses_a_campaign_whose_bounce_rate_passes_the_limit(leads, settings):
    settings.DELIVERABILITY_MIN_SAMPLE = 2
    campaign = make_campaign(scheduled_at=timezone.now() + timedelta(hours=1))
    services.campaign_start(campaign=campaign)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    for message in Message.objects.filter(campaign=campaign):
        from campaigns.lifecycle import message_claim_for_sending, message_mark_sent

        message_claim_for_sending(message=message)
        message_mark_sent(message=message, provider_message_id=f"id-{message.pk}")
    assert services.campaign_guard(campaign=campaign) is None
    message_mark_bounced(
        message=Message.objects.filter(campaign=campaign).first(), at=timezone.now()
    )
    reason = services.campaign_guard(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert "hard-bounce rate 50.0%" in reason and campaign.status_reason == reason


def test_bad_filters_raise_a_clear_error_and_create_nothing(leads):
    from campaigns.audience import AudienceError

    campaign = make_campaign(audience_query="min_rating=lots")
    with pytest.raises(AudienceError) as exc:
        services.campaign_start(campaign=campaign)
    assert "min_rating" in exc.value.errors
    assert not Message.objects.exists()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_business_count_is_not_changed_by_preview(leads):
    before = Business.objects.count()
    audience_preview(channel="email", audience_query="")
    assert Business.objects.count() == before


def test_sms_campaign_waits_for_the_leads_morning(leads):
    from datetime import datetime
    from unittest import mock

    from campaigns import sms

    sms.outbox.clear()
    business_opt_in_sms(business=leads["ok1"], source="manual")
    campaign = make_campaign(
        channel="sms",
        subject_template="",
        body_template="Hi {{ business_name }}",
        scheduled_at=timezone.now() + timedelta(hours=1),
    )
    services.campaign_start(campaign=campaign)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    message = Message.objects.get(campaign=campaign)
    assert message.to_address == "+15125550101"
    # 04:00 UTC is 23:00 in Austin (CDT): quiet hours, so the text waits for 08:00 local.
    late = datetime(2026, 6, 2, 4, 0, tzinfo=timezone.get_fixed_timezone(0))
    Message.objects.filter(pk=message.pk).update(send_after=late)
    with mock.patch("campaigns.sending.timezone.now", return_value=late):
        tasks.campaign_send_chunk(campaign.pk, [message.pk])
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and not sms.outbox
    assert message.send_after == datetime(2026, 6, 2, 13, 0, tzinfo=timezone.get_fixed_timezone(0))
    morning = datetime(2026, 6, 2, 13, 5, tzinfo=timezone.get_fixed_timezone(0))
    with mock.patch("campaigns.sending.timezone.now", return_value=morning):
        tasks.campaign_send_chunk(campaign.pk, [message.pk])
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert sms.outbox[0].body == "WebMagic: Hi Alpha Plumbing Reply STOP to opt out."


def test_resume_paces_the_queued_messages_again_from_the_resume_time(leads):
    campaign = make_campaign(
        send_rate_per_minute=2, scheduled_at=timezone.now() + timedelta(hours=1)
    )
    services.campaign_start(campaign=campaign)
    services.campaign_pause(campaign=campaign)
    later = timezone.now() + timedelta(hours=5)
    assert services.campaign_resume(campaign=campaign, now=later)
    times = sorted(Message.objects.filter(campaign=campaign).values_list("send_after", flat=True))
    assert [round((t - later).total_seconds()) for t in times] == [0, 30]
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENDING


def test_guard_pauses_on_complaints_recorded_through_the_lifecycle(leads, settings):
    from campaigns.lifecycle import message_claim_for_sending, message_mark_sent

    settings.DELIVERABILITY_MIN_SAMPLE = 2
    campaign = make_campaign(scheduled_at=timezone.now() + timedelta(hours=1))
    services.campaign_start(campaign=campaign)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    messages = list(Message.objects.filter(campaign=campaign))
    for message in messages:
        message_claim_for_sending(message=message)
        message_mark_sent(message=message, provider_message_id=f"id-{message.pk}")
    # What the email-events handler does for an SES complaint.
    business_opt_out(
        business=messages[0].business_id,
        channel="email",
        source="provider",
        reason="complaint",
        message=messages[0],
    )
    reason = services.campaign_guard(campaign=campaign)
    assert reason and "complaint rate 50.00%" in reason
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.PAUSED
