"""One-off messages (campaign NULL): the path billing's reminders and staff replies use."""

from datetime import datetime
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from campaigns import sms
from campaigns.models import Message, MessageStatus
from campaigns.sending import SendRefused
from campaigns.services import message_send_oneoff
from campaigns.suppression import suppression_add
from crm.lifecycle import business_opt_in_sms, business_opt_out
from crm.models import LeadEvent, LeadEventKind

pytestmark = pytest.mark.django_db


def test_oneoff_email_is_sent_with_unsubscribe_headers_and_postal_address(business, settings):
    message = message_send_oneoff(
        business=business, channel="email", subject="About {{ business_name }}", body="Hello!"
    )
    assert message.status == MessageStatus.SENT
    assert message.campaign is None and message.token
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["joe@joesplumbing.com"]
    assert email.subject == "About Joe's Plumbing"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email.extra_headers["List-Unsubscribe"].startswith("<https://crm.example.com/u/")
    assert settings.SENDER_POSTAL_ADDRESS in email.body
    assert "https://crm.example.com/u/" in email.body
    # The provider id is the Message-ID we generated (no anymail status on locmem).
    assert message.provider_message_id == email.extra_headers["Message-ID"]
    business.refresh_from_db()
    assert business.contact_status == "emailed" and business.last_contacted_at is not None
    assert LeadEvent.objects.filter(
        business=business, kind=LeadEventKind.MESSAGE_SENT, message=message
    ).exists()


def test_oneoff_refuses_an_opted_out_lead_and_creates_nothing(business):
    business_opt_out(business=business, channel="email", source="manual")
    with pytest.raises(SendRefused) as exc:
        message_send_oneoff(business=business, channel="email", subject="Hi", body="Hi")
    assert exc.value.reason == "email_opted_out"
    assert not Message.objects.exists() and not mail.outbox


def test_oneoff_refuses_a_suppressed_domain(business):
    suppression_add(kind="domain", value="JoesPlumbing.com", reason="complaint")
    with pytest.raises(SendRefused) as exc:
        message_send_oneoff(business=business, channel="email", subject="Hi", body="Hi")
    assert exc.value.reason == "suppressed"


def test_oneoff_sms_needs_consent(business):
    with pytest.raises(SendRefused) as exc:
        message_send_oneoff(business=business, channel="sms", body="Hi")
    assert exc.value.reason == "no_sms_consent"


def test_oneoff_sms_refused_in_the_leads_quiet_hours(business):
    business_opt_in_sms(business=business, source="manual")
    # 03:30 UTC is 21:30 in Austin (CDT): quiet.
    late = datetime(2026, 6, 1, 3, 30, tzinfo=timezone.get_fixed_timezone(0))
    with (
        mock.patch("campaigns.sending.timezone.now", return_value=late),
        pytest.raises(SendRefused) as exc,
    ):
        message_send_oneoff(business=business, channel="sms", body="Hi")
    assert exc.value.reason == "quiet_hours" and exc.value.retry_at is not None
    assert exc.value.retry_at.astimezone(timezone.get_fixed_timezone(-300)).hour == 8


def test_first_sms_names_the_sender_and_says_stop(business):
    sms.outbox.clear()
    business_opt_in_sms(business=business, source="manual")
    noon = datetime(2026, 6, 1, 17, 0, tzinfo=timezone.get_fixed_timezone(0))
    with mock.patch("campaigns.sending.timezone.now", return_value=noon):
        first = message_send_oneoff(business=business, channel="sms", body="Your site is ready")
        second = message_send_oneoff(business=business, channel="sms", body="Any questions?")
    assert first.status == second.status == MessageStatus.SENT
    assert sms.outbox[0].body == "WebMagic: Your site is ready Reply STOP to opt out."
    assert sms.outbox[0].status_callback == "https://crm.example.com/webhooks/twilio/status/"
    assert sms.outbox[0].to == "+15125550100"
    assert first.provider_message_id == sms.outbox[0].sid
    assert sms.outbox[1].body == "Any questions?"
    business.refresh_from_db()
    assert business.contact_status == "texted"


def test_provider_error_is_recorded_on_the_message(business, settings):
    settings.EMAIL_BACKEND = "tests.campaigns.test_sending_oneoff.FailingBackend"
    message = message_send_oneoff(business=business, channel="email", subject="Hi", body="Hi")
    assert message.status == MessageStatus.FAILED
    assert "mailbox unavailable" in message.error
    business.refresh_from_db()
    assert business.contact_status == "pending"


class FailingBackend:
    def __init__(self, *a, **kw):
        pass

    def open(self):
        return True

    def close(self):
        pass

    def send_messages(self, messages):
        raise OSError("550 mailbox unavailable")
