"""Twilio status callbacks and inbound SMS: signature checks against the public URL, status
updates, STOP/START/HELP as whole keywords, replies."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.test import RequestFactory
from twilio.request_validator import RequestValidator

from campaigns import webhooks
from campaigns.models import Channel, Message, Suppression
from crm.lifecycle import business_advance
from crm.models import LeadEvent, ProviderEvent
from tests.campaigns.events_helpers import (
    SAMPLES,
    TWILIO_TOKEN,
    lead,
    post_twilio,
    sent_message,
    twilio_form,
)

pytestmark = pytest.mark.django_db

STATUS = "/webhooks/twilio/status/"
INBOUND = "/webhooks/twilio/inbound/"
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@pytest.fixture(autouse=True)
def _twilio(settings):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN


# --- signatures -------------------------------------------------------------------------------


VECTORS = json.loads((SAMPLES / "twilio_signature_vectors.json").read_text())


def _request_for(uri: str, body, content_type="application/x-www-form-urlencoded"):
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return RequestFactory().post(path, data=body, content_type=content_type), parts


@pytest.mark.parametrize(
    "key", ["expected_signature", "expected_signature_if_url_written_with_port_443"]
)
def test_the_published_form_vector_verifies_through_our_check(settings, key):
    case = VECTORS["form_params_case"]
    settings.TWILIO_AUTH_TOKEN = VECTORS["auth_token"]
    from urllib.parse import urlencode

    request, parts = _request_for(case["uri"], urlencode(case["params"]))
    settings.PUBLIC_BASE_URL = f"{parts.scheme}://{parts.netloc}"
    request.META["HTTP_X_TWILIO_SIGNATURE"] = case[key]
    assert webhooks.signature_valid(request)
    tampered, _ = _request_for(case["uri"], urlencode(dict(case["params"], Digits="9999")))
    tampered.META["HTTP_X_TWILIO_SIGNATURE"] = case[key]
    assert not webhooks.signature_valid(tampered)


def test_the_duplicate_key_vector_verifies(settings):
    case = VECTORS["duplicate_params_case"]
    settings.TWILIO_AUTH_TOKEN = VECTORS["auth_token"]
    request, parts = _request_for(case["uri"], case["querystring_body"])
    settings.PUBLIC_BASE_URL = f"{parts.scheme}://{parts.netloc}"
    request.META["HTTP_X_TWILIO_SIGNATURE"] = case["expected_signature"]
    assert webhooks.signature_valid(request)


def test_the_signature_is_checked_against_the_public_url_not_the_internal_one(client, settings):
    """Behind a TLS proxy Django sees http://testserver/…; Twilio signed https://crm.example.com/…"""
    params = twilio_form("twilio_status_delivered.txt")
    internal = RequestValidator(TWILIO_TOKEN).compute_signature(
        "http://testserver" + STATUS, params
    )
    assert post_twilio(client, STATUS, params, signature=internal).status_code == 403
    assert post_twilio(client, STATUS, params).status_code == 200


def test_missing_or_bad_signature_is_403_and_changes_nothing(client):
    business = lead(phone="+17031111")
    message = sent_message(business, channel=Channel.SMS, provider_id="SMyyy")
    params = twilio_form("twilio_status_delivered.txt")
    assert post_twilio(client, STATUS, params, signature="").status_code == 403
    assert post_twilio(client, STATUS, params, signature="bm9wZQ==").status_code == 403
    tampered = dict(params, MessageStatus="failed")
    good_for_original = RequestValidator(TWILIO_TOKEN).compute_signature(
        "https://crm.example.com" + STATUS, params
    )
    assert post_twilio(client, STATUS, tampered, signature=good_for_original).status_code == 403
    inbound = twilio_form("twilio_inbound_sms.txt")
    assert post_twilio(client, INBOUND, inbound, signature="").status_code == 403
    assert not ProviderEvent.objects.exists()
    message.refresh_from_db()
    assert message.status == "sent"


def test_no_auth_token_configured_refuses_everything(client, settings):
    params = twilio_form("twilio_status_delivered.txt")
    response = post_twilio(client, STATUS, params)  # signed with the test token
    settings.TWILIO_AUTH_TOKEN = ""
    assert post_twilio(client, STATUS, params, signature="anything").status_code == 403
    assert response.status_code == 200


def test_get_is_not_allowed(client):
    assert client.get(STATUS).status_code == 405


# --- status callbacks -------------------------------------------------------------------------


def test_delivered_callback_sets_delivered_at_from_the_carrier_time(client):
    business = lead(phone="+17031111")
    message = sent_message(business, channel=Channel.SMS, provider_id="SMyyy")
    response = post_twilio(client, STATUS, twilio_form("twilio_status_delivered.txt"))
    assert response.status_code == 200
    assert response.content == EMPTY_TWIML
    assert response["Content-Type"].startswith("text/xml")
    message.refresh_from_db()
    assert message.status == "delivered"
    assert message.delivered_at == datetime(2023, 3, 7, 21, 55, tzinfo=UTC)
    event = ProviderEvent.objects.get()
    assert (event.provider, event.event_id, event.status) == (
        "twilio",
        "SMyyy:delivered",
        "processed",
    )
    assert LeadEvent.objects.filter(business=business, kind="message_delivered").exists()


def test_duplicate_status_callback_changes_nothing(client):
    business = lead(phone="+17031111")
    sent_message(business, channel=Channel.SMS, provider_id="SMyyy")
    params = twilio_form("twilio_status_delivered.txt")
    post_twilio(client, STATUS, params)
    post_twilio(client, STATUS, params)
    assert ProviderEvent.objects.count() == 1
    assert LeadEvent.objects.filter(kind="message_delivered").count() == 1


def test_failed_callback_records_the_error_code(client):
    business = lead(phone="+11111111111")
    message = sent_message(business, channel=Channel.SMS, provider_id="SMyyy")
    post_twilio(client, STATUS, twilio_form("twilio_status_failed_30003.txt"))
    message.refresh_from_db()
    assert message.status == "failed"
    assert "30003" in message.error
    assert message.failed_at == datetime(2023, 3, 9, 20, 21, tzinfo=UTC)
    assert not Suppression.objects.exists()  # 30003 (unreachable handset now) is not permanent


def test_error_21610_means_the_recipient_opted_out(client):
    business = lead(phone="+11111111111")
    message = sent_message(business, channel=Channel.SMS, provider_id="SMyyy")
    params = dict(twilio_form("twilio_status_failed_30003.txt"), ErrorCode="21610")
    post_twilio(client, STATUS, params)
    business.refresh_from_db()
    message.refresh_from_db()
    assert message.status == "failed"
    assert business.sms_opt_out_at is not None
    assert business.contact_status == "unsubscribed"
    assert Suppression.objects.filter(kind="phone", value="+11111111111").exists()


@pytest.mark.parametrize("code", ["30005", "30006"])
def test_errors_30005_and_30006_mark_the_phone_unreachable(client, code):
    business = lead(phone="+11111111111")
    sent_message(business, channel=Channel.SMS, provider_id="SMyyy")
    params = dict(
        twilio_form("twilio_status_failed_30003.txt"), ErrorCode=code, MessageStatus="undelivered"
    )
    post_twilio(client, STATUS, params)
    row = Suppression.objects.get(kind="phone", value="+11111111111")
    assert row.reason == "unreachable"
    business.refresh_from_db()
    assert business.contact_status == "texted"  # unreachable is not an opt-out
    assert LeadEvent.objects.filter(business=business, summary__contains="unreachable").exists()


def test_status_for_an_unknown_sid_is_kept_unmatched(client):
    response = post_twilio(client, STATUS, twilio_form("twilio_status_delivered.txt"))
    assert response.status_code == 200
    assert ProviderEvent.objects.get().status == "unmatched"


def test_late_delivered_never_pulls_a_replied_lead_back(client):
    business = lead(phone="+17031111")
    message = sent_message(business, channel=Channel.SMS, provider_id="SMyyy")
    business_advance(business=business, to="replied", source="test")
    post_twilio(client, STATUS, twilio_form("twilio_status_delivered.txt"))
    business.refresh_from_db()
    message.refresh_from_db()
    assert business.contact_status == "replied"
    assert message.delivered_at is not None


# --- inbound SMS ------------------------------------------------------------------------------


@pytest.fixture
def texted():
    business = lead(phone="+14086233809", name="San Jose Plumbing")
    message = sent_message(business, channel=Channel.SMS, provider_id="SMoutbound1")
    return business, message


def _inbound(body: str, sid="SM2c0aa2296fa158bc36f5ab0018058154", **extra):
    return dict(
        twilio_form("twilio_inbound_sms.txt"), Body=body, MessageSid=sid, SmsSid=sid, **extra
    )


def test_the_inbound_sample_is_a_reply(client, texted):
    business, outbound = texted
    response = post_twilio(client, INBOUND, twilio_form("twilio_inbound_sms.txt"))
    assert response.status_code == 200 and response.content == EMPTY_TWIML
    reply = Message.objects.get(direction="inbound")
    assert reply.body == "What rot hath God"
    assert reply.channel == "sms" and reply.status == "received"
    assert reply.in_reply_to_id == outbound.pk
    assert reply.provider_message_id == "SM2c0aa2296fa158bc36f5ab0018058154"
    assert reply.read_at is None
    business.refresh_from_db()
    outbound.refresh_from_db()
    assert business.contact_status == "replied"
    assert outbound.replied_at is not None
    row = LeadEvent.objects.get(business=business, kind="reply")
    assert "What rot hath God" in row.summary and row.source == "provider"


def test_a_duplicate_inbound_sms_is_one_reply(client, texted):
    params = twilio_form("twilio_inbound_sms.txt")
    post_twilio(client, INBOUND, params)
    post_twilio(client, INBOUND, params)
    assert Message.objects.filter(direction="inbound").count() == 1
    assert LeadEvent.objects.filter(kind="reply").count() == 1


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        "stop",
        " Stop ",
        "STOPALL",
        "unsubscribe",
        "Cancel",
        "END",
        "quit",
        "REVOKE",
        "OptOut",
        "STOP.",
    ],
)
def test_a_whole_body_opt_out_keyword_unsubscribes_and_opts_out_of_sms(client, texted, body):
    business, _ = texted
    post_twilio(client, INBOUND, _inbound(body))
    business.refresh_from_db()
    assert business.contact_status == "unsubscribed"
    assert business.sms_opt_out_at is not None
    assert business.email_opt_out_at is None  # SMS only
    assert Suppression.objects.filter(kind="phone", value="+14086233809").exists()
    assert not Message.objects.filter(direction="inbound").exists()


@pytest.mark.parametrize(
    "body", ["not now", "send info", "please stop calling me", "stop it", "Yes please", "STOP STOP"]
)
def test_keywords_inside_text_are_replies_not_opt_outs(client, texted, body):
    business, _ = texted
    post_twilio(client, INBOUND, _inbound(body))
    business.refresh_from_db()
    assert business.contact_status == "replied"
    assert business.sms_opt_out_at is None
    assert not Suppression.objects.exists()
    assert Message.objects.get(direction="inbound").body == body


def test_opt_out_type_stop_opts_out_whatever_the_text(client, texted):
    business, _ = texted
    post_twilio(client, INBOUND, _inbound("Please remove me from your list", OptOutType="STOP"))
    business.refresh_from_db()
    assert business.contact_status == "unsubscribed"
    assert business.sms_opt_out_at is not None


@pytest.mark.parametrize("word", ["START", "unstop", "Yes"])
def test_start_lifts_the_sms_opt_out_only_and_records_consent(client, texted, word):
    business, _ = texted
    post_twilio(client, INBOUND, _inbound("STOP", sid="SMstop1"))
    post_twilio(client, INBOUND, _inbound(word, sid="SMstart1"))
    business.refresh_from_db()
    assert business.sms_opt_out_at is None
    assert business.sms_consent_at is not None
    assert business.contact_status == "unsubscribed"  # an opt-in is not engagement
    assert not Suppression.objects.filter(kind="phone", value="+14086233809").exists()
    assert LeadEvent.objects.filter(business=business, kind="opt_in").exists()


def test_start_does_not_lift_an_unreachable_mark(client, texted):
    from campaigns.suppression import suppression_add

    suppression_add(kind="phone", value="+14086233809", reason="unreachable")
    post_twilio(client, INBOUND, _inbound("START"))
    assert Suppression.objects.filter(value="+14086233809", reason="unreachable").exists()


@pytest.mark.parametrize("word", ["HELP", "info"])
def test_help_is_recorded_and_changes_no_status(client, texted, word):
    business, _ = texted
    post_twilio(client, INBOUND, _inbound(word))
    business.refresh_from_db()
    assert business.contact_status == "texted"
    assert LeadEvent.objects.filter(business=business, summary__contains="help").exists()
    assert not Message.objects.filter(direction="inbound").exists()


def test_stop_from_an_unknown_number_still_suppresses_it(client):
    post_twilio(client, INBOUND, _inbound("STOP", From="+15005550006"))
    assert Suppression.objects.filter(kind="phone", value="+15005550006").exists()
    assert ProviderEvent.objects.get().status == "processed"


def test_a_text_from_an_unknown_number_is_kept_unmatched(client):
    post_twilio(client, INBOUND, _inbound("hello?", From="+15005550006"))
    event = ProviderEvent.objects.get()
    assert event.status == "unmatched"
    assert not Message.objects.exists()
