"""Amazon SES tracking events through anymail's webhook: each sample gives its README result."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaigns import events
from campaigns.models import Message, Suppression
from crm import inbox
from crm.lifecycle import business_advance
from crm.models import Business, LeadEvent, ProviderEvent
from sites.builder import generate_site
from tests.campaigns.events_helpers import (
    SES_MESSAGE_ID,
    lead,
    post_ses,
    sent_message,
    ses_message_id,
    ses_sample,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def jane():
    return lead()


@pytest.fixture
def message(jane):
    return sent_message(jane)


def _reload(*objs):
    for obj in objs:
        obj.refresh_from_db()


def test_permanent_bounce_suppresses_the_address_and_marks_the_lead_bounced(client, jane, message):
    body, sns_id = ses_sample("ses_bounce.json")
    response = post_ses(client, body, sns_id)
    assert response.status_code == 200
    _reload(jane, message)
    assert message.status == "bounced"
    assert "Permanent: General" in message.error
    assert "550 5.1.1" in message.error
    assert message.bounced_at == datetime(2016, 1, 27, 14, 59, 44, 101000, tzinfo=UTC)
    assert jane.contact_status == "bounced"
    assert jane.email_bounced_at is not None
    assert Suppression.objects.filter(kind="email", value="jane@example.com").exists()
    event = ProviderEvent.objects.get()
    assert event.provider == "anymail"
    assert event.event_id == f"{sns_id}:jane@example.com"
    assert event.status == "processed"
    assert LeadEvent.objects.filter(business=jane, provider_event=event, kind="bounced").exists()


def test_transient_bounce_does_not_suppress_or_mark_the_lead(client, jane, message):
    def transient(ses):
        ses["bounce"]["bounceType"] = "Transient"
        ses["bounce"]["bounceSubType"] = "MailboxFull"

    body, sns_id = ses_sample("ses_bounce.json", mutate=transient)
    assert post_ses(client, body, sns_id).status_code == 200
    _reload(jane, message)
    assert jane.contact_status == "emailed"
    assert jane.email_bounced_at is None
    assert not Suppression.objects.exists()
    assert message.status == "failed"
    assert "Transient: MailboxFull" in message.error


def test_one_notification_about_two_recipients_is_two_events_with_one_event_id(client, jane):
    richard = lead(email="richard@example.com", name="Richard's Garage")
    # the sample's mail went to three addresses; ours was jane's lead's message
    message = sent_message(
        jane, provider_id="00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000"
    )
    body, sns_id = ses_sample("ses_bounce_multiple_recipients.json")
    assert post_ses(client, body, sns_id).status_code == 200
    keys = sorted(ProviderEvent.objects.values_list("event_id", flat=True))
    assert keys == [f"{sns_id}:jane@example.com", f"{sns_id}:richard@example.com"]
    assert set(Suppression.objects.values_list("value", flat=True)) == {
        "jane@example.com",
        "richard@example.com",
    }
    _reload(richard, jane, message)
    assert jane.contact_status == "bounced" and message.status == "bounced"
    assert richard.contact_status == "pending"  # suppressed, but the message was not theirs


def test_complaint_unsubscribes_the_lead_and_opts_out_of_email(client):
    richard = lead(email="richard@example.com", name="Richard's Garage")
    message = sent_message(richard, provider_id=ses_message_id("ses_complaint.json"))
    body, sns_id = ses_sample("ses_complaint.json")
    assert post_ses(client, body, sns_id).status_code == 200
    _reload(richard, message)
    assert richard.contact_status == "unsubscribed"
    assert richard.email_opt_out_at is not None
    assert Suppression.objects.filter(kind="email", value="richard@example.com").exists()


def test_delivery_sets_delivered_at_from_the_ses_event(client, jane):
    message = sent_message(jane, provider_id=ses_message_id("ses_delivery.json"))
    body, sns_id = ses_sample("ses_delivery.json")
    assert post_ses(client, body, sns_id).status_code == 200
    _reload(jane, message)
    assert message.status == "delivered"
    ses = json.loads(json.loads(body)["Message"])
    assert message.delivered_at.isoformat().startswith(ses["delivery"]["timestamp"][:19])
    assert jane.contact_status == "emailed"
    row = LeadEvent.objects.get(business=jane, kind="message_delivered")
    assert row.source == "provider" and row.provider_event_id is not None


def test_send_event_fills_sent_at(client):
    recipient = lead(email="recipient@example.com", name="Recipient Co")
    message = sent_message(recipient, provider_id=ses_message_id("ses_open.json"))
    sent_at = message.sent_at
    body, sns_id = ses_sample("ses_send.json")
    assert post_ses(client, body, sns_id).status_code == 200
    message.refresh_from_db()
    assert message.status == "sent"
    assert message.sent_at <= sent_at  # the provider's (earlier) time wins


def test_open_counts_once_per_event_and_a_duplicate_changes_nothing(client):
    recipient = lead(email="recipient@example.com", name="Recipient Co")
    message = sent_message(recipient, provider_id=ses_message_id("ses_open.json"))
    body, sns_id = ses_sample("ses_open.json")
    for _ in range(2):  # the same SNS notification delivered twice
        assert post_ses(client, body, sns_id).status_code == 200
    _reload(recipient, message)
    assert message.opened_count == 1
    assert message.opened_at is not None
    assert recipient.contact_status == "opened"
    assert ProviderEvent.objects.count() == 1
    assert LeadEvent.objects.filter(business=recipient, kind="opened").count() == 1
    # a second, distinct open counts
    body2, sns_id2 = ses_sample("ses_open.json")
    post_ses(client, body2, sns_id2)
    message.refresh_from_db()
    assert message.opened_count == 2


def test_click_sets_clicked_and_the_lead_clicked(client):
    recipient = lead(email="recipient@example.com", name="Recipient Co")
    message = sent_message(recipient, provider_id=ses_message_id("ses_open.json"))
    body, sns_id = ses_sample("ses_click.json")
    assert post_ses(client, body, sns_id).status_code == 200
    _reload(recipient, message)
    assert message.clicked_count == 1 and message.clicked_at is not None
    assert recipient.contact_status == "clicked"
    row = LeadEvent.objects.get(business=recipient, kind="clicked")
    assert row.data["url"] == "https://docs.aws.amazon.com/ses/latest/DeveloperGuide/"


def test_ses_clicks_on_our_own_tracked_and_unsubscribe_links_are_not_counted(client):
    recipient = lead(email="recipient@example.com", name="Recipient Co")
    message = sent_message(recipient, provider_id=ses_message_id("ses_open.json"))
    Message.objects.filter(pk=message.pk).update(token="tok-own-link")
    generate_site(recipient)
    # The human click: our /c/ view counts it and shows the preview site.
    assert client.get("/c/tok-own-link/", HTTP_USER_AGENT="Mozilla/5.0").status_code == 302

    def our_link(ses):
        ses["click"]["link"] = "https://crm.example.com/c/tok-own-link/"

    body, sns_id = ses_sample("ses_click.json", mutate=our_link)
    assert post_ses(client, body, sns_id).status_code == 200
    _reload(recipient, message)
    assert message.clicked_count == 1
    assert LeadEvent.objects.filter(business=recipient, kind="clicked").count() == 1
    stored = ProviderEvent.objects.get(event_id__contains=sns_id)
    assert stored.status == "ignored" and "our own tracked link" in stored.error
    # Nor is a click on the unsubscribe link engagement.
    body, sns_id = ses_sample(
        "ses_click.json",
        mutate=lambda ses: ses["click"].update(link="https://crm.example.com/u/tok-own-link/"),
    )
    assert post_ses(client, body, sns_id).status_code == 200
    _reload(message)
    assert message.clicked_count == 1
    assert "unsubscribe" in ProviderEvent.objects.get(event_id__contains=sns_id).error
    # Any other link SES reports is a click of its own.
    body, sns_id = ses_sample("ses_click.json")
    post_ses(client, body, sns_id)
    _reload(message)
    assert message.clicked_count == 2


def test_late_delivery_after_open_keeps_the_lead_opened_and_fills_delivered_at(client):
    recipient = lead(email="recipient@example.com", name="Recipient Co")
    message = sent_message(recipient, provider_id=ses_message_id("ses_open.json"))
    open_body, open_id = ses_sample("ses_open.json")
    post_ses(client, open_body, open_id)

    def to_recipient(ses):
        ses["mail"]["messageId"] = message.provider_message_id
        ses["delivery"]["recipients"] = ["recipient@example.com"]

    body, sns_id = ses_sample("ses_delivery.json", mutate=to_recipient)
    assert post_ses(client, body, sns_id).status_code == 200
    _reload(recipient, message)
    assert recipient.contact_status == "opened"
    assert message.delivered_at is not None
    assert message.status == "delivered"


def test_events_never_pull_a_replied_lead_back(client, jane, message):
    business_advance(business=jane, to="replied", source="test")
    body, sns_id = ses_sample("ses_bounce.json")
    post_ses(client, body, sns_id)
    jane.refresh_from_db()
    assert jane.contact_status == "replied"  # bounced does not override replied
    assert jane.email_bounced_at is not None  # but the address is suppressed
    assert Suppression.objects.filter(value="jane@example.com").exists()


def test_unknown_message_is_stored_retried_then_applied_when_the_send_commits(
    client, jane, settings
):
    body, sns_id = ses_sample("ses_delivery.json")
    response = post_ses(client, body, sns_id)
    assert response.status_code == 200  # stored: the provider must not retry
    event = ProviderEvent.objects.get()
    assert event.status == "unmatched"
    assert event.next_attempt_at is not None
    assert "no message" in event.error
    message = sent_message(jane, provider_id=ses_message_id("ses_delivery.json"))
    ProviderEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
    assert inbox.retry_due() == 1
    event.refresh_from_db()
    message.refresh_from_db()
    assert event.status == "processed"
    assert message.status == "delivered"


def test_unknown_message_is_left_unmatched_after_the_retry_window(client, settings):
    settings.INBOX_UNMATCHED_RETRY_MINUTES = 0
    body, sns_id = ses_sample("ses_delivery.json")
    assert post_ses(client, body, sns_id).status_code == 200
    event = ProviderEvent.objects.get()
    assert event.status == "unmatched"
    assert event.next_attempt_at is None  # no more automatic retries; visible in the inbox


def test_a_failing_apply_keeps_the_event_with_its_error_and_replay_applies_it(
    client, jane, monkeypatch
):
    message = sent_message(jane, provider_id=ses_message_id("ses_delivery.json"))

    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(events.msg, "message_track", broken)
    body, sns_id = ses_sample("ses_delivery.json")
    response = post_ses(client, body, sns_id)
    assert response.status_code == 200  # stored before it was applied
    event = ProviderEvent.objects.get()
    assert event.status == "failed"
    assert "database hiccup" in event.error
    message.refresh_from_db()
    assert message.delivered_at is None  # nothing half-applied
    assert not LeadEvent.objects.filter(provider_event=event).exists()
    monkeypatch.undo()
    call_command("replay_webhooks", "--failed")
    event.refresh_from_db()
    message.refresh_from_db()
    assert event.status == "processed"
    assert message.delivered_at is not None


def test_forced_replay_of_an_open_does_not_count_it_twice(client):
    recipient = lead(email="recipient@example.com", name="Recipient Co")
    message = sent_message(recipient, provider_id=ses_message_id("ses_open.json"))
    body, sns_id = ses_sample("ses_open.json")
    post_ses(client, body, sns_id)
    call_command("replay_webhooks", "--all")
    message.refresh_from_db()
    assert message.opened_count == 1
    assert LeadEvent.objects.filter(kind="opened").count() == 1
    assert ProviderEvent.objects.get().attempts == 2


def test_wrong_or_missing_basic_auth_stores_nothing(client, jane, message):
    body, sns_id = ses_sample("ses_bounce.json")
    assert post_ses(client, body, sns_id, auth=None).status_code == 401
    bad = "Basic dXNlcm5hbWU6d3Jvbmc="  # username:wrong
    assert post_ses(client, body, sns_id, auth=bad).status_code == 400
    assert not ProviderEvent.objects.exists()
    jane.refresh_from_db()
    assert jane.contact_status == "emailed"


def test_sns_headers_must_match_the_body(client, jane, message):
    body, _ = ses_sample("ses_bounce.json")
    assert post_ses(client, body, "some-other-id").status_code == 400
    assert not ProviderEvent.objects.exists()


def test_subscription_confirmation_is_confirmed_through_boto3_and_stores_nothing(
    client, monkeypatch
):
    calls = []

    class FakeSns:
        def confirm_subscription(self, **kwargs):
            calls.append(kwargs)

        def close(self):
            pass

    class FakeSession:
        def __init__(self, **kwargs):
            pass

        def client(self, service, **kwargs):
            calls.append({"service": service, **kwargs})
            return FakeSns()

    import anymail.webhooks.amazon_ses as ses_webhooks

    monkeypatch.setattr(ses_webhooks.boto3.session, "Session", FakeSession)
    body, sns_id = ses_sample("ses_sns_subscription_confirmation.json", fresh_id=False)
    assert post_ses(client, body, sns_id).status_code == 200
    assert calls[0]["service"] == "sns" and calls[0]["region_name"] == "us-west-2"
    assert calls[1]["Token"] == "EXAMPLE_TOKEN"
    assert calls[1]["AuthenticateOnUnsubscribe"] == "true"
    assert not ProviderEvent.objects.exists()


def test_every_applied_event_is_on_the_timeline_with_source_and_time(client, jane):
    message = sent_message(jane, provider_id=ses_message_id("ses_delivery.json"))
    body, sns_id = ses_sample("ses_delivery.json")
    post_ses(client, body, sns_id)
    row = LeadEvent.objects.get(business=jane, kind="message_delivered")
    assert row.source == "provider"
    assert row.message_id == message.pk
    assert row.at == Message.objects.get(pk=message.pk).delivered_at
    assert Business.objects.get(pk=jane.pk).contact_status == "emailed"


def test_sample_message_id_matches_the_fixture():
    body, _ = ses_sample("ses_bounce.json")
    assert json.loads(json.loads(body)["Message"])["mail"]["messageId"] == SES_MESSAGE_ID


def test_the_provider_gets_no_2xx_when_the_event_could_not_be_stored(jane, monkeypatch):
    from django.db import OperationalError
    from django.test import Client

    message = sent_message(jane, provider_id=ses_message_id("ses_delivery.json"))

    def down(*args, **kwargs):
        raise OperationalError("database is down")

    monkeypatch.setattr(inbox, "record", down)
    body, sns_id = ses_sample("ses_delivery.json")
    response = post_ses(Client(raise_request_exception=False), body, sns_id)
    assert response.status_code == 500  # SNS retries it later
    message.refresh_from_db()
    assert message.delivered_at is None
    monkeypatch.undo()
    assert post_ses(Client(), body, sns_id).status_code == 200  # the retry is applied
    message.refresh_from_db()
    assert message.delivered_at is not None
