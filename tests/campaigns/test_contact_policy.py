"""One first-touch pitch per lead within CONTACT_COOLDOWN_DAYS, across all campaigns and both
channels: at preview ("In another campaign: <name>" with the count), at start (racing starts
cannot both take a lead, PostgreSQL) and when a message is claimed for sending. A lead's own
follow-ups stay allowed; staff may override per campaign, explicitly and recorded."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connections
from django.utils import timezone

from campaigns import services, tasks
from campaigns.audience import audience_preview
from campaigns.models import Campaign, Message, MessageStatus
from crm.lifecycle import business_opt_in_sms
from crm.services import business_create
from crm.tokens import token_create
from tests.concurrency import run_together

BODY = "Hi {{ business_name }}, we made you a website."


def make_leads(n, city="Austin", **extra):
    return [
        business_create(
            data={
                "name": f"{city} Roofer {i}",
                "email": f"r{i}@{city.lower()}roof{i}.com",
                "phone": f"512-555-01{i:02d}",
                "city": city,
                **extra,
            },
            source="test",
        )
        for i in range(n)
    ]


def api_start(client, user, name, **body):
    token = token_create(user=user, name=f"t-{name}")[1]
    payload = {
        "name": name,
        "filters": {"city": "Austin"},
        "channel": "email",
        "schedule": "now",
        "send_rate_per_minute": 1000,
        "body": BODY,
        **body,
    }
    return client.post(
        "/api/v1/crm/campaigns/start",
        data=payload,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def api_preview(client, user, **body):
    token = token_create(user=user, name="preview")[1]
    payload = {"filters": {"city": "Austin"}, "channel": "email", "body": BODY, **body}
    return client.post(
        "/api/v1/crm/campaigns/preview",
        data=payload,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    ).json()


@pytest.mark.django_db
def test_a_second_campaign_over_the_same_leads_pitches_none_of_them_again(
    client, sales_user, django_capture_on_commit_callbacks
):
    make_leads(5)
    with django_capture_on_commit_callbacks(execute=True):
        assert api_start(client, sales_user, "Campaign A").status_code == 201
    assert len(mail.outbox) == 5

    preview = api_preview(client, sales_user)
    assert preview["recipients"] == 0 and preview["matched"] == 5
    assert preview["excluded"] == [
        {
            "reason": "in_other_campaign",
            "label": "In another campaign: Campaign A",
            "count": 5,
            "campaign": Campaign.objects.get(name="Campaign A").pk,
        }
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert api_start(client, sales_user, "Campaign B").status_code == 201
    assert not Message.objects.filter(campaign__name="Campaign B").exists()
    assert Counter(e.to[0] for e in mail.outbox) == {f"r{i}@austinroof{i}.com": 1 for i in range(5)}


@pytest.mark.django_db
def test_queued_messages_of_another_campaign_hold_their_leads_in_the_preview():
    make_leads(3)
    later = timezone.now() + timedelta(days=2)
    first = services.campaign_create(
        name="Spring push", audience_query="city=Austin", subject_template="s",
        body_template=BODY, scheduled_at=later,
    )  # fmt: skip
    services.campaign_start(campaign=first)  # scheduled: all three queued, nothing sent
    preview = audience_preview(channel="email", audience_query="city=Austin", templates=(BODY,))
    assert preview.eligible == 0
    assert preview.excluded_rows() == [
        {
            "reason": "in_other_campaign",
            "label": "In another campaign: Spring push",
            "count": 3,
            "campaign": first.pk,
        }
    ]


@pytest.mark.django_db
def test_no_text_right_after_an_email_pitch(django_capture_on_commit_callbacks):
    leads = make_leads(2)
    for lead in leads:
        business_opt_in_sms(business=lead, source="manual")
    email = services.campaign_create(
        name="Email pitch", audience_query="city=Austin", subject_template="s", body_template=BODY
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_start(campaign=email)
    assert len(mail.outbox) == 2
    sms = services.campaign_create(
        name="Text pitch", channel="sms", audience_query="city=Austin", body_template=BODY
    )
    preview = audience_preview(channel="sms", audience_query="city=Austin", templates=(BODY,))
    assert preview.eligible == 0 and preview.holders == {email.pk: 2}
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_start(campaign=sms)
    assert not Message.objects.filter(campaign=sms).exists()


@pytest.mark.django_db
def test_a_lead_outside_the_cooldown_may_be_pitched_again(django_capture_on_commit_callbacks):
    make_leads(1)
    old = services.campaign_create(
        name="Last year", audience_query="city=Austin", subject_template="s", body_template=BODY
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_start(campaign=old)
    later = timezone.now() + timedelta(days=31)
    preview = audience_preview(channel="email", audience_query="city=Austin", now=later)
    assert preview.eligible == 1 and preview.excluded == {}


@pytest.mark.django_db
def test_a_pitch_is_refused_at_send_time_when_another_campaign_pitched_the_lead_first(
    client, sales_user, django_capture_on_commit_callbacks
):
    [lead] = make_leads(1)
    first = services.campaign_create(
        name="Queued first", audience_query="city=Austin", subject_template="s",
        body_template=BODY, scheduled_at=timezone.now() + timedelta(hours=1),
    )  # fmt: skip
    services.campaign_start(campaign=first)
    # A second campaign started with the cooldown overridden pitches the lead now.
    with django_capture_on_commit_callbacks(execute=True):
        response = api_start(client, sales_user, "Override", override_cooldown=True)
    assert response.status_code == 201
    assert [e.to for e in mail.outbox] == [[lead.email]]
    # The first campaign's turn comes: its pitch is refused, with the reason.
    Campaign.objects.filter(pk=first.pk).update(scheduled_at=timezone.now())
    Message.objects.filter(campaign=first).update(send_after=timezone.now())
    tasks.campaigns_dispatch()
    refused = Message.objects.get(campaign=first)
    assert (refused.status, refused.error) == ("cancelled", "In another campaign: Override")
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_the_leads_own_follow_up_still_goes_inside_the_cooldown(django_capture_on_commit_callbacks):
    [lead] = make_leads(1)
    campaign = services.campaign_create(
        name="Sequence", audience_query="city=Austin", subject_template="s", body_template=BODY,
        followups=[{"after_days": 2, "subject": "Following up", "body": "Still interested?"}],
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_start(campaign=campaign)
    Message.objects.filter(campaign=campaign).update(sent_at=timezone.now() - timedelta(days=3))
    tasks.campaigns_dispatch()
    assert [e.subject for e in mail.outbox] == ["s", "Following up"]
    assert Message.objects.get(campaign=campaign, step=2).status == MessageStatus.SENT


@pytest.mark.django_db
def test_the_override_is_explicit_and_recorded(
    client, sales_user, django_capture_on_commit_callbacks
):
    make_leads(2)
    with django_capture_on_commit_callbacks(execute=True):
        api_start(client, sales_user, "First")
    assert api_preview(client, sales_user, override_cooldown=True)["recipients"] == 2
    with django_capture_on_commit_callbacks(execute=True):
        response = api_start(client, sales_user, "Again", override_cooldown=True)
    again = Campaign.objects.get(pk=response.json()["id"])
    assert again.cooldown_overridden_by == sales_user
    assert again.cooldown_overridden_at is not None
    assert Message.objects.filter(campaign=again, status="sent").count() == 2
    client.force_login(sales_user)
    page = client.get(f"/admin/crm/campaigns/{again.pk}/").content.decode()
    assert "Contact cooldown overridden by sales" in page
    first = Campaign.objects.get(name="First")
    assert first.cooldown_overridden_at is None


@pytest.mark.django_db
def test_the_builder_records_the_override_checkbox(client, sales_user):
    make_leads(1)
    client.force_login(sales_user)
    response = client.post(
        "/admin/crm/campaigns/new/",
        {
            "name": "Builder override",
            "channel": "email",
            "subject_template": "s",
            "body_template": BODY,
            "schedule": "later",
            "scheduled_at": (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
            "send_rate_per_minute": 30,
            "daily_cap": 1000,
            "city": "Austin",
            "override_cooldown": "on",
            "action": "start",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = Campaign.objects.get(name="Builder override")
    assert campaign.cooldown_overridden_by == sales_user


# --- concurrency (PostgreSQL) -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_four_starts_racing_over_the_same_leads_take_each_lead_once():
    make_leads(30)
    drafts = [
        services.campaign_create(
            name=f"Burst {n}",
            audience_query="city=Austin",
            subject_template="s",
            body_template=BODY,
            scheduled_at=timezone.now() + timedelta(hours=1),
        )  # fmt: skip
        for n in range(4)
    ]

    def start(pk):
        def call():
            try:
                services.campaign_start(campaign=pk)
            finally:
                connections.close_all()

        return call

    run_together([start(d.pk) for d in drafts])
    per_lead = Counter(Message.objects.values_list("business_id", flat=True))
    assert len(per_lead) == 30 and set(per_lead.values()) == {1}
    assert all(Campaign.objects.get(pk=d.pk).status == "scheduled" for d in drafts)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_two_campaigns_pitches_for_one_lead_send_one():
    """Two campaigns queued the same leads before the policy existed (rows written as an
    older release did); their chunks run at the same instant. Each lead gets one pitch."""
    leads = make_leads(12)
    campaigns = []
    for n in range(2):
        campaign = services.campaign_create(
            name=f"Legacy {n}", audience_query="city=Austin", subject_template="s",
            body_template=BODY,
        )  # fmt: skip
        Campaign.objects.filter(pk=campaign.pk).update(status="sending")
        Message.objects.bulk_create(
            Message(campaign=campaign, business=lead, to_address=lead.email, token=f"{n}-{lead.pk}")
            for lead in leads
        )
        campaigns.append(campaign)

    def chunk(campaign):
        ids = list(Message.objects.filter(campaign=campaign).values_list("pk", flat=True))

        def call():
            try:
                return tasks.campaign_send_chunk(campaign.pk, ids)
            finally:
                connections.close_all()

        return call

    outcomes = run_together([chunk(c) for c in campaigns])
    assert sum(o.get("sent", 0) for o in outcomes) == 12
    assert Counter(tuple(e.to) for e in mail.outbox) == {(lead.email,): 1 for lead in leads}
    refused = Message.objects.filter(status="cancelled")
    assert refused.count() == 12
    assert {m.error for m in refused} <= {
        "In another campaign: Legacy 0",
        "In another campaign: Legacy 1",
    }
