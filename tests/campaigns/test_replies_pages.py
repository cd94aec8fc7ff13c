"""Tracked links (/c/<token>/), the Replies list with its unread count, staff SMS answers."""

from __future__ import annotations

import pytest
from django.test import Client

from campaigns import sms
from campaigns.models import Channel, Message
from crm.lifecycle import business_opt_in_sms
from crm.models import LeadEvent, ProviderEvent
from sites.builder import generate_site
from tests.campaigns.events_helpers import TWILIO_TOKEN, lead, post_twilio, sent_message

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"


@pytest.fixture
def with_site():
    business = lead()
    site = generate_site(business)
    message = sent_message(business, provider_id="ses-1", site=site)
    return business, site, message


def test_a_tracked_link_counts_a_click_and_shows_the_preview(client, with_site):
    business, site, message = with_site
    response = client.get(f"/c/{message.token}/", HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 302
    assert response["Location"] == f"/p/{site.slug}/"
    message.refresh_from_db()
    business.refresh_from_db()
    assert message.clicked_count == 1 and message.clicked_at is not None
    assert business.contact_status == "clicked"
    row = LeadEvent.objects.get(business=business, kind="clicked")
    assert row.message_id == message.pk and row.site_id == site.pk
    assert client.get(response["Location"], HTTP_USER_AGENT=BROWSER).status_code == 200


def test_head_requests_bots_and_staff_do_not_count(client, with_site, staff_user):
    business, site, message = with_site
    assert client.head(f"/c/{message.token}/", HTTP_USER_AGENT=BROWSER).status_code == 302
    for agent in ["Googlebot/2.1", "curl/8.0", "python-requests/2.31", ""]:
        assert client.get(f"/c/{message.token}/", HTTP_USER_AGENT=agent).status_code == 302
    staff = Client()
    staff.force_login(staff_user)
    staff.get(f"/c/{message.token}/", HTTP_USER_AGENT=BROWSER)
    message.refresh_from_db()
    business.refresh_from_db()
    assert message.clicked_count == 0
    assert business.contact_status == "emailed"


def test_an_unknown_token_is_404(client):
    assert client.get("/c/nope/", HTTP_USER_AGENT=BROWSER).status_code == 404


def test_post_is_not_allowed_on_a_tracked_link(client, with_site):
    _, _, message = with_site
    assert client.post(f"/c/{message.token}/").status_code == 405


# --- replies list -----------------------------------------------------------------------------


def _sms_reply(client, business, body, sid):
    params = {
        "MessageSid": sid,
        "From": business.phone_normalized,
        "To": "+15125550999",
        "Body": body,
        "AccountSid": "ACtest",
    }
    assert post_twilio(client, "/webhooks/twilio/inbound/", params).status_code == 200


@pytest.fixture(autouse=True)
def _twilio(settings):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN


def test_unread_replies_are_counted_in_the_nav_listed_newest_first_and_marked_read(
    client, sales_user
):
    business = lead()
    sent_message(business, channel=Channel.SMS, provider_id="SMout")
    _sms_reply(client, business, "first answer", "SMin1")
    _sms_reply(client, business, "second answer", "SMin2")
    client.force_login(sales_user)
    page = client.get("/admin/crm/replies/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'aria-label="2 unread"' in html
    assert html.index("second answer") < html.index("first answer")
    ids = [m.pk for m in Message.objects.filter(direction="inbound")]
    response = client.post("/admin/crm/replies/read/", {"ids": ids})
    assert response.status_code == 302
    assert not Message.objects.filter(direction="inbound", read_at__isnull=True).exists()
    html = client.get("/admin/crm/replies/").content.decode()
    assert ' unread"' not in html.split("</nav>")[0]  # no "N unread" count left
    assert "No unread replies." in html


def test_marking_read_only_touches_the_replies_that_were_shown(client, sales_user):
    business = lead()
    _sms_reply(client, business, "seen", "SMin1")
    client.force_login(sales_user)
    seen = Message.objects.get(provider_message_id="SMin1")
    _sms_reply(client, business, "arrived later", "SMin2")
    client.post("/admin/crm/replies/read/", {"ids": [seen.pk]})
    assert Message.objects.get(provider_message_id="SMin2").read_at is None


def test_the_replies_list_is_for_staff_and_marking_read_needs_post_and_csrf(client, sales_user):
    assert client.get("/admin/crm/replies/").status_code == 302  # to the login page
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(sales_user)
    assert strict.post("/admin/crm/replies/read/", {"ids": [1]}).status_code == 403
    assert strict.get("/admin/crm/replies/read/").status_code == 405


def test_a_viewer_reads_replies_but_cannot_mark_them_read(client, viewer_user):
    business = lead()
    _sms_reply(client, business, "still unread", "SMin1")
    client.force_login(viewer_user)
    page = client.get("/admin/crm/replies/")
    assert page.status_code == 200 and "still unread" in page.content.decode()
    assert "Mark read" not in page.content.decode()  # no button that would only be refused
    reply = Message.objects.get(provider_message_id="SMin1")
    assert client.post("/admin/crm/replies/read/", {"ids": [reply.pk]}).status_code == 403
    reply.refresh_from_db()
    assert reply.read_at is None


# --- staff SMS answer -------------------------------------------------------------------------


@pytest.fixture
def consenting():
    business = lead(phone="+14155550123", state="CA")
    business_opt_in_sms(business=business, source="test")
    return business


def test_sales_can_answer_an_sms_reply_through_the_sms_backend(
    client, sales_user, consenting, monkeypatch
):
    monkeypatch.setattr("campaigns.sending.sms_quiet_until", lambda *a, **k: None)
    monkeypatch.setattr("campaigns.services.sms_quiet_until", lambda *a, **k: None)
    sms.outbox.clear()
    _sms_reply(client, consenting, "how much is it?", "SMin1")
    client.force_login(sales_user)
    response = client.post(
        f"/admin/crm/leads/{consenting.pk}/sms-reply/", {"body": "It is $97 a month."}
    )
    assert response.status_code == 302
    assert "It is $97 a month." in sms.outbox[-1].body
    answer = Message.objects.filter(direction="outbound", channel="sms").latest("created_at")
    assert answer.in_reply_to == Message.objects.get(provider_message_id="SMin1")
    assert answer.status == "sent"
    assert Message.objects.get(provider_message_id="SMin1").read_at is not None


def test_an_opted_out_lead_cannot_be_answered(client, sales_user, consenting):
    _sms_reply(client, consenting, "STOP", "SMstop")
    sms.outbox.clear()
    client.force_login(sales_user)
    response = client.post(
        f"/admin/crm/leads/{consenting.pk}/sms-reply/", {"body": "Sorry to see you go"}, follow=True
    )
    assert response.status_code == 200
    assert sms.outbox == []
    assert not Message.objects.filter(direction="outbound", channel="sms").exists()


def test_quiet_hours_refuse_the_answer_with_a_clear_message(
    client, sales_user, consenting, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    later = timezone.now() + timedelta(hours=3)
    monkeypatch.setattr("campaigns.services.sms_quiet_until", lambda *a, **k: later)
    sms.outbox.clear()
    client.force_login(sales_user)
    response = client.post(
        f"/admin/crm/leads/{consenting.pk}/sms-reply/",
        {"body": "hello"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert b"Quiet hours" in response.content
    assert sms.outbox == []


def test_viewers_cannot_answer_and_empty_answers_are_refused(
    client, viewer_user, sales_user, consenting
):
    client.force_login(viewer_user)
    assert (
        client.post(f"/admin/crm/leads/{consenting.pk}/sms-reply/", {"body": "hi"}).status_code
        == 403
    )
    client.force_login(sales_user)
    response = client.post(
        f"/admin/crm/leads/{consenting.pk}/sms-reply/", {"body": "  "}, HTTP_HX_REQUEST="true"
    )
    assert b"Write a message first." in response.content
    assert not Message.objects.filter(direction="outbound", channel="sms").exists()


def test_the_conversation_shows_outbound_and_inbound_in_order(client, consenting):
    from django.template.loader import render_to_string

    out = sent_message(
        consenting, channel=Channel.SMS, provider_id="SMout", body="Your site is ready"
    )
    _sms_reply(client, consenting, "Looks <b>great</b>", "SMin1")
    html = render_to_string("campaigns/lead_conversation.html", {"business": consenting})
    assert html.index("Your site is ready") < html.index("Looks &lt;b&gt;great&lt;/b&gt;")
    assert "<b>great</b>" not in html
    assert out.to_address in html


def test_the_lead_page_lists_its_provider_events_with_the_raw_event_on_demand(
    client, staff_user, consenting
):
    sent_message(consenting, channel=Channel.SMS, provider_id="SMout")
    _sms_reply(client, consenting, "Call me <tomorrow>", "SMin1")
    client.force_login(staff_user)
    page = client.get(f"/admin/crm/leads/{consenting.pk}/").content.decode()
    event = consenting.provider_events.get()  # replies are linked to their lead
    assert f"/admin/crm/inbox/?raw={event.pk}" in page
    raw = client.get(f"/admin/crm/inbox/?raw={event.pk}", HTTP_HX_REQUEST="true")
    assert b"Call me &lt;tomorrow&gt;" in raw.content


def test_tracking_events_reach_the_lead_page_through_the_timeline(client, staff_user):
    from tests.campaigns.events_helpers import post_ses, ses_message_id, ses_sample

    recipient = lead(email="recipient@example.com", name="Recipient Co")
    sent_message(recipient, provider_id=ses_message_id("ses_open.json"))
    body, sns_id = ses_sample("ses_open.json")
    post_ses(client, body, sns_id)
    event = ProviderEvent.objects.get()
    client.force_login(staff_user)
    page = client.get(f"/admin/crm/leads/{recipient.pk}/").content.decode()
    assert f"/admin/crm/inbox/?raw={event.pk}" in page
