"""No pitch with an empty merge field: a `{{ preview_url }}` pitch to a lead without a live
preview site waits (queued, the wait shown) while the worker generates the site, then goes;
a site that cannot be generated skips the message with the reason; any other merge field
that would render empty skips the message instead of sending a broken sentence."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from campaigns import services, tasks
from campaigns.audience import audience_preview
from campaigns.forms import DEFAULT_BODY
from campaigns.models import Campaign, Message, MessageStatus
from campaigns.results import campaign_results
from crm.models import Business, LeadEvent, LeadEventKind
from crm.services import business_create
from sites import builder
from sites.builder import generate_site
from sites.models import Site

pytestmark = pytest.mark.django_db

SUBJECT = "A website for {{ business_name }}"


def lead(i, **data):
    return business_create(
        data={
            "name": f"Austin Plumber {i}",
            "email": f"p{i}@plumb{i}.com",
            "city": "Austin",
            "category": "Plumber",
            **data,
        },
        source="test",
    )


def campaign(**kw):
    kw.setdefault("audience_query", "city=Austin")
    return services.campaign_create(
        name="Pitch", subject_template=SUBJECT, body_template=DEFAULT_BODY, **kw
    )


def test_every_pitch_links_a_preview_site_generated_first_when_missing(
    django_capture_on_commit_callbacks,
):
    with_site = lead(0)
    existing = generate_site(with_site)
    without = [lead(i) for i in range(1, 4)]
    preview = audience_preview(
        channel="email", audience_query="city=Austin", templates=(SUBJECT, DEFAULT_BODY)
    )
    assert (preview.eligible, preview.sites_to_generate) == (4, 3)

    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_start(campaign=campaign())

    assert len(mail.outbox) == 4
    for message in Message.objects.select_related("site"):
        assert message.status == MessageStatus.SENT and message.site is not None
        assert message.site.business_id == message.business_id
        email = next(e for e in mail.outbox if e.to == [message.to_address])
        assert f"https://crm.example.com/c/{message.token}/" in email.body
        assert re.search(r"in Austin: https://crm\.example\.com/c/\w+/", email.body)
    assert Message.objects.get(business=with_site).site == existing
    for b in without:
        assert LeadEvent.objects.filter(business=b, kind=LeadEventKind.SITE_GENERATED).exists()
        assert Business.objects.get(pk=b.pk).website_status == "generated"


def test_while_its_site_is_generated_the_message_stays_queued_and_the_wait_is_shown(
    client, staff_user
):
    lead(1)
    lead(2)
    started = services.campaign_start(campaign=campaign())  # the workers run after commit
    assert started.status_reason == "2 recipients; 2 preview sites to generate first"
    waiting = Message.objects.filter(campaign=started)
    assert set(waiting.values_list("status", "waiting_for")) == {("queued", "site")}
    assert campaign_results(started)["waiting_for_site"] == 2
    client.force_login(staff_user)
    page = client.get(f"/admin/crm/campaigns/{started.pk}/").content.decode()
    assert page.count('data-waiting="site"') == 2
    assert "2 waiting for their preview site" in page
    # Nothing hands a waiting message to the sender; the site generator does, when ready.
    assert services.campaign_dispatch(campaign_id=started.pk) == 0
    outcome = tasks.campaign_sites_generate(started.pk, list(waiting.values_list("pk", flat=True)))
    assert outcome == {"generated": 2, "existing": 0, "failed": 0, "handed_out": 2}
    assert sorted(e.to[0] for e in mail.outbox) == ["p1@plumb1.com", "p2@plumb2.com"]


def test_a_site_that_cannot_be_generated_skips_the_pitch_with_the_reason(
    monkeypatch, django_capture_on_commit_callbacks
):
    def broken(site):
        raise RuntimeError("template engine on fire")

    lead(1)
    monkeypatch.setattr(builder, "site_page_render", broken)
    with django_capture_on_commit_callbacks(execute=True):
        started = services.campaign_start(campaign=campaign())
    message = Message.objects.get(campaign=started)
    assert message.status == MessageStatus.CANCELLED
    assert message.error.startswith("Skipped: its preview site could not be generated")
    assert "template engine on fire" in message.error
    assert mail.outbox == [] and not Site.objects.exists()
    started.refresh_from_db()
    assert started.status == "completed"


def test_a_site_archived_before_the_send_is_generated_again_first(
    django_capture_on_commit_callbacks,
):
    from sites.lifecycle import site_archive

    target = lead(1)
    old = generate_site(target)
    started = services.campaign_start(campaign=campaign())
    message = Message.objects.get(campaign=started)
    assert message.site == old
    site_archive(site=old)
    Message.objects.filter(pk=message.pk).update(site=None)  # as an older release left it
    with django_capture_on_commit_callbacks(execute=True):
        tasks.campaign_send_chunk(started.pk, [message.pk])
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.site != old and message.site.status == "preview"
    assert f"/c/{message.token}/" in mail.outbox[0].body


def test_an_empty_merge_field_is_excluded_at_preview_and_skipped_at_send_time():
    lead(1)
    lead(2, category="")
    preview = audience_preview(
        channel="email", audience_query="city=Austin", templates=(SUBJECT, DEFAULT_BODY)
    )
    assert preview.eligible == 1 and preview.excluded == {"empty_category": 1}
    assert preview.excluded_rows()[0]["label"] == "Empty merge field {{ category }}"
    started = services.campaign_start(campaign=campaign())
    [message] = Message.objects.filter(campaign=started)
    generate_site(message.business)
    Business.objects.filter(pk=message.business_id).update(category="")  # changed since
    Message.objects.filter(pk=message.pk).update(waiting_for="")
    tasks.campaign_send_chunk(started.pk, [message.pk])
    message.refresh_from_db()
    assert (message.status, message.error) == ("cancelled", "Empty merge field {{ category }}")
    assert mail.outbox == []


def test_the_builder_preview_says_how_many_sites_will_be_generated_first(client, sales_user):
    lead(1)
    lead(2)
    generate_site(lead(3))
    client.force_login(sales_user)
    response = client.get(
        "/admin/crm/campaigns/preview/",
        {"city": "Austin", "channel": "email", "subject_template": SUBJECT,
         "body_template": DEFAULT_BODY},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    html = response.content.decode()
    assert '<strong id="eligible-count">3</strong>' in html
    assert "<strong>2</strong> preview sites will be generated first" in html
    no_link = client.get(
        "/admin/crm/campaigns/preview/",
        {"city": "Austin", "channel": "email", "subject_template": "s", "body_template": "Hi"},
        HTTP_HX_REQUEST="true",
    )
    assert "will be generated first" not in no_link.content.decode()


def test_a_staff_reply_linking_a_missing_preview_site_is_refused(business):
    from campaigns.sending import SendRefused

    with pytest.raises(SendRefused, match="no preview site"):
        services.message_send_oneoff(
            business=business, channel="email", subject="Hi", body="See {{ preview_url }}"
        )
    assert not Message.objects.exists()


def test_the_api_preview_reports_sites_to_generate(client, sales_user):
    from crm.tokens import token_create

    lead(1)
    response = client.post(
        "/api/v1/crm/campaigns/preview",
        data={"filters": {"city": "Austin"}, "channel": "email"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_create(user=sales_user, name='t')[1]}",
    )
    assert response.json()["sites_to_generate"] == 1
    assert "/c/preview/" in response.json()["rendered"]["body"]  # the link, never a hole
    assert not Campaign.objects.exists()


def test_sites_are_generated_for_the_pitches_due_soon_not_all_at_the_start():
    from datetime import timedelta

    from django.utils import timezone

    for i in range(15):
        lead(i)
    soon = timezone.now() + timedelta(seconds=90)
    started = services.campaign_start(campaign=campaign(send_rate_per_minute=1, scheduled_at=soon))
    assert started.status == "scheduled"
    # One pitch a minute from 90 s on: nine fall due within the next ten minutes.
    assert services.campaign_sites_dispatch(campaign_id=started.pk) == 2  # five sites a task
    assert Site.objects.count() == 9
    assert Message.objects.filter(campaign=started, waiting_for="site").count() == 6
    assert mail.outbox == []  # a scheduled campaign sends nothing yet
