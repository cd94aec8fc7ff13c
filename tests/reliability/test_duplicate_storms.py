"""1. Duplicate storms: every provider event delivered three times at the same instant, each
delivery on its own connection through the real webhook view, is applied exactly once
(PostgreSQL: SQLite serialises writers, so it cannot race)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from billing.models import Customer, Payment, Subscription
from campaigns.models import Channel, Message
from crm.models import LeadEvent, LeadEventKind, ProviderEvent
from tests.billing.conftest import WEBHOOK_URL, make_checkout, sample, svix_headers
from tests.campaigns.events_helpers import (
    lead,
    post_ses,
    post_twilio,
    sent_message,
    ses_message_id,
    ses_sample,
    twilio_form,
)
from tests.concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

COPIES = 3


def test_ses_events_delivered_three_times_at_once_are_applied_once():
    """Send, delivery, open and click notifications, each delivered 3× concurrently with one
    SNS MessageId: one inbox row per event, counters incremented once, one timeline line each."""
    opener = lead(email="recipient@example.com", name="Recipient Co")
    opened = sent_message(opener, provider_id=ses_message_id("ses_open.json"))
    jane = lead(email="jane@example.com", phone="(512) 555-0111", name="Jane Co")
    delivered = sent_message(jane, provider_id=ses_message_id("ses_delivery.json"))
    events = [ses_sample(n) for n in ("ses_send.json", "ses_open.json", "ses_click.json")]
    events.append(ses_sample("ses_delivery.json"))
    calls = [(lambda b=b, i=i: post_ses(Client(), b, i).status_code) for b, i in events * COPIES]
    assert run_together(calls) == [200] * len(calls)

    # one row per distinct event (the delivery sample reports one delivered recipient)
    assert ProviderEvent.objects.count() == len(events)
    assert set(ProviderEvent.objects.values_list("status", flat=True)) <= {
        "processed",
        "ignored",
        "unmatched",
    }
    opened.refresh_from_db()
    delivered.refresh_from_db()
    assert (opened.opened_count, opened.clicked_count) == (1, 1)
    assert delivered.status == "delivered" and delivered.delivered_at is not None
    assert LeadEvent.objects.filter(business=opener, kind="opened").count() == 1
    assert LeadEvent.objects.filter(business=opener, kind="clicked").count() == 1
    assert LeadEvent.objects.filter(business=jane, kind="message_delivered").count() == 1
    opener.refresh_from_db()
    assert opener.contact_status == "clicked"


def test_twilio_status_and_inbound_delivered_three_times_at_once_are_applied_once():
    """A delivered status callback and an inbound reply, each 3× at once: the message is
    delivered once, one inbound Message and one reply line, the lead replied once."""
    params = twilio_form("twilio_inbound_sms.txt")
    business = lead(phone=params["From"], email="sms@example.com")
    outbound = sent_message(business, channel=Channel.SMS, provider_id="SMstorm1")
    status = {"MessageSid": "SMstorm1", "MessageStatus": "delivered", "To": params["From"]}
    calls = [
        lambda: post_twilio(Client(), "/webhooks/twilio/status/", status).status_code,
        lambda: post_twilio(Client(), "/webhooks/twilio/inbound/", params).status_code,
    ] * COPIES
    assert run_together(calls) == [200] * len(calls)

    assert ProviderEvent.objects.count() == 2
    assert set(ProviderEvent.objects.values_list("status", flat=True)) == {"processed"}
    outbound.refresh_from_db()
    assert outbound.status == "delivered"
    assert Message.objects.filter(direction="inbound").count() == 1
    assert LeadEvent.objects.filter(business=business, kind="reply").count() == 1
    assert LeadEvent.objects.filter(business=business, kind="message_delivered").count() == 1
    business.refresh_from_db()
    assert business.contact_status == "replied"
    replied = LeadEvent.objects.filter(
        business=business, kind=LeadEventKind.CONTACT_STATUS, data__new="replied"
    )
    assert replied.count() == 1


def test_recurrente_payment_delivered_three_times_at_once_is_applied_once(business):
    """One Svix message (one svix-id) delivered 3× at once: one Payment, one Customer, one
    Subscription, one payment line; the lead purchased once."""
    from sites.models import Site

    site = Site.objects.create(business=business, slug="storm-site", html="<p>x</p>")
    make_checkout(site)
    body = json.dumps(sample("payment_intent_succeeded")).encode()
    headers = svix_headers(body, msg_id="msg_storm_1")

    def deliver():
        return (
            Client()
            .post(WEBHOOK_URL, data=body, content_type="application/json", headers=headers)
            .status_code
        )

    assert run_together([deliver] * COPIES) == [200] * COPIES
    assert ProviderEvent.objects.count() == 1
    assert ProviderEvent.objects.get().status == "processed"
    assert (Payment.objects.count(), Customer.objects.count(), Subscription.objects.count()) == (
        1,
        1,
        1,
    )
    lines = LeadEvent.objects.filter(business=business)
    assert lines.filter(kind=LeadEventKind.PAYMENT).count() == 1
    assert lines.filter(kind=LeadEventKind.CONTACT_STATUS, data__new="purchased").count() == 1
    site.refresh_from_db()
    assert site.status == "active"
