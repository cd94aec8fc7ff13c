"""/c/<token>/: every hit is recorded, but a click is engagement once per message per
10 minutes; a flood (a link checker, a reload loop, a forwarded mail) moves no counter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone

from campaigns.models import LinkHit, Message
from crm.models import Business, LeadEvent
from sites.builder import generate_site
from tests.campaigns.events_helpers import lead, sent_message
from tests.concurrency import run_together

BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"


@pytest.fixture
def with_site(db):
    business = lead()
    site = generate_site(business)
    message = sent_message(business, provider_id="ses-1", site=site)
    return business, site, message


@pytest.mark.django_db
def test_a_hundred_gets_record_a_hundred_hits_and_count_one_click(client, with_site):
    business, site, message = with_site
    for _ in range(100):
        response = client.get(f"/c/{message.token}/", HTTP_USER_AGENT=BROWSER)
        assert response.status_code == 302 and response["Location"] == f"/p/{site.slug}/"
    message.refresh_from_db()
    assert message.clicked_count == 1
    assert LinkHit.objects.filter(message=message).count() == 100
    assert LinkHit.objects.filter(message=message, counted=True).count() == 1
    assert LeadEvent.objects.filter(business=business, kind="clicked").count() == 1
    assert Business.objects.get(pk=business.pk).contact_status == "clicked"


@pytest.mark.django_db
def test_a_click_ten_minutes_later_counts_again(client, with_site):
    _, _, message = with_site
    client.get(f"/c/{message.token}/", HTTP_USER_AGENT=BROWSER)
    first = Message.objects.get(pk=message.pk).clicked_at
    LinkHit.objects.filter(message=message).update(at=timezone.now() - timedelta(minutes=11))
    Message.objects.filter(pk=message.pk).update(
        click_counted_at=timezone.now() - timedelta(minutes=11)
    )
    client.get(f"/c/{message.token}/", HTTP_USER_AGENT=BROWSER)
    client.get(f"/c/{message.token}/", HTTP_USER_AGENT=BROWSER)
    message.refresh_from_db()
    assert message.clicked_count == 2
    assert message.clicked_at == first  # the earliest click stays the click time
    assert LinkHit.objects.filter(message=message).count() == 3


@pytest.mark.django_db
def test_bot_head_and_staff_hits_are_recorded_but_never_counted(client, with_site, staff_user):
    _, _, message = with_site
    client.head(f"/c/{message.token}/", HTTP_USER_AGENT=BROWSER)
    client.get(f"/c/{message.token}/", HTTP_USER_AGENT="Googlebot/2.1")
    staff = Client()
    staff.force_login(staff_user)
    staff.get(f"/c/{message.token}/", HTTP_USER_AGENT=BROWSER)
    hits = dict(LinkHit.objects.filter(message=message).values_list("reason", "counted"))
    assert hits == {"head": False, "bot": False, "staff": False}
    assert Message.objects.get(pk=message.pk).clicked_count == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_simultaneous_clicks_count_once():
    business = lead()
    site = generate_site(business)
    message = sent_message(business, provider_id="ses-1", site=site)

    def click():
        try:
            return Client().get(f"/c/{message.token}/", HTTP_USER_AGENT=BROWSER).status_code
        finally:
            connections.close_all()

    assert run_together([click] * 10) == [302] * 10
    message.refresh_from_db()
    assert message.clicked_count == 1
    assert LinkHit.objects.filter(message=message).count() == 10
    assert LeadEvent.objects.filter(business=business, kind="clicked").count() == 1
