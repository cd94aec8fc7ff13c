"""2. Out-of-order delivery: providers do not promise order. Any permutation of one message's
events ends in the same message and lead state as the ordered sequence (hypothesis draws the
permutations; each example uses a fresh lead and message, so examples do not interfere)."""

from __future__ import annotations

import json
import uuid
from itertools import count

from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.models import Channel, Message
from crm.models import Business
from tests.campaigns.events_helpers import (
    SAMPLES,
    lead,
    post_ses,
    post_twilio,
    sent_message,
)

SAMPLE_ADDRESSES = ("jane@example.com", "mary@example.com", "richard@example.com")
SES_EVENTS = ("ses_send.json", "ses_delivery.json", "ses_open.json", "ses_click.json")
_seq = count()


def _ses_body(name: str, *, message_id: str, email: str) -> tuple[str, str]:
    """A sample rewritten for one message: its SES messageId and every recipient address."""
    sns = json.loads((SAMPLES / name).read_text())
    inner = sns["Message"]
    old_id = json.loads(inner)["mail"]["messageId"]
    inner = inner.replace(old_id, message_id).replace("recipient@example.com", email)
    for address in SAMPLE_ADDRESSES:
        inner = inner.replace(address, email)
    sns["Message"] = inner
    sns["MessageId"] = str(uuid.uuid4())
    return json.dumps(sns), sns["MessageId"]


def _email_world(names) -> tuple[Business, Message]:
    n = next(_seq)
    email = f"order{n}@order{n}.example.com"
    business = lead(email=email, phone=f"(512) 555-{n % 10000:04d}", name=f"Order Co {n}")
    message = sent_message(business, provider_id=f"ses-order-{n}-{uuid.uuid4().hex}", to=email)
    client = Client()
    for name in names:
        body, sns_id = _ses_body(name, message_id=message.provider_message_id, email=email)
        assert post_ses(client, body, sns_id).status_code == 200
    return business, message


MESSAGE_FIELDS = (
    "status",
    "sent_at",
    "delivered_at",
    "opened_at",
    "opened_count",
    "clicked_at",
    "clicked_count",
    "bounced_at",
    "failed_at",
)
LEAD_FIELDS = (
    "contact_status",
    "furthest_contact_status",
    "email_opt_out_at",
    "email_bounced_at",
    "last_contacted_at",
)


def _state(business: Business, message: Message) -> tuple:
    message = Message.objects.get(pk=message.pk)
    business = Business.objects.get(pk=business.pk)
    kinds = sorted(business.events.exclude(kind="contact_status").values_list("kind", flat=True))
    return (
        # sent_at is our own send time (differs per world); provider times must match
        tuple(
            (getattr(message, f) is not None) if f == "sent_at" else getattr(message, f)
            for f in MESSAGE_FIELDS
        ),
        tuple(
            getattr(business, f) is not None if f.endswith("_at") else getattr(business, f)
            for f in LEAD_FIELDS
        ),
        kinds,
    )


SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(order=st.permutations(SES_EVENTS))
def test_any_order_of_send_delivery_open_click_ends_like_the_ordered_one(db, order):
    """Send, delivery, open, click in any order: same message timestamps and counters, same
    lead status (clicked) and the same timeline lines as in provider order."""
    expected = _state(*_email_world(SES_EVENTS))
    assert expected[1][0] == "clicked"
    assert _state(*_email_world(order)) == expected


@SETTINGS
@given(order=st.permutations((*SES_EVENTS, "ses_complaint.json")))
def test_a_complaint_anywhere_in_the_sequence_leaves_the_lead_unsubscribed(db, order):
    """With a complaint among the events, the lead ends unsubscribed and opted out whatever
    arrived after it, exactly as when the complaint comes last."""
    names = (*SES_EVENTS, "ses_complaint.json")
    expected = _state(*_email_world(names))
    assert expected[1][0] == "unsubscribed"
    assert expected[1][2] is True  # email_opt_out_at set
    assert _state(*_email_world(order)) == expected


TWILIO_STEPS = ("sent", "delivered", "reply")


def _sms_world(steps) -> tuple[Business, Message]:
    n = next(_seq)
    phone = f"+1415555{n % 10000:04d}"
    business = lead(email=f"sms{n}@sms{n}.example.com", phone=phone, name=f"SMS Co {n}")
    sid = f"SMorder{n}{uuid.uuid4().hex[:8]}"
    message = sent_message(business, channel=Channel.SMS, provider_id=sid, to=phone)
    client = Client()
    for step in steps:
        if step == "reply":
            params = {
                "MessageSid": sid + "in",
                "From": phone,
                "To": "+15125550999",
                "Body": "Sounds good, call me",
            }
            assert post_twilio(client, "/webhooks/twilio/inbound/", params).status_code == 200
        else:
            params = {
                "MessageSid": sid,
                "MessageStatus": step,
                "To": phone,
                "RawDlrDoneDate": "2303072155" if step == "delivered" else "",
            }
            assert post_twilio(client, "/webhooks/twilio/status/", params).status_code == 200
    return business, message


@SETTINGS
@given(order=st.permutations(TWILIO_STEPS))
def test_any_order_of_sms_sent_delivered_and_reply_ends_like_the_ordered_one(db, order):
    """Twilio `sent`, `delivered` and an inbound reply in any order: the message ends
    delivered, the lead replied, with the same timeline as in order."""
    expected = _state(*_sms_world(TWILIO_STEPS))
    assert expected[0][0] == "delivered"
    assert expected[1][0] == "replied"
    assert _state(*_sms_world(order)) == expected


class _Rollback(Exception):
    pass


def _recurrente_world(order) -> tuple:
    """Deliver the Recurrente events in `order` for one checkout, read the end state, and
    roll everything back (the samples carry fixed provider ids, so worlds cannot coexist)."""
    from django.db import transaction

    from billing.models import Customer, Payment, Subscription
    from crm.models import ProviderEvent
    from sites.models import Site
    from tests.billing.conftest import make_checkout, post_signed, sample

    state: tuple = ()
    try:
        with transaction.atomic():
            business = lead(email="pay@order.example.com", name="Order Pay Co")
            site = Site.objects.create(business=business, slug="order-pay", html="<p>x</p>")
            make_checkout(site)
            payloads = {
                "payment": sample("payment_intent_succeeded"),
                "subscription_create": sample("subscription_create"),
                "setup_intent": sample("setup_intent_succeeded"),
            }
            payloads["payment"]["payment"]["paymentable"]["id"] = "su_123"
            payloads["setup_intent"]["suscription"]["id"] = "su_123"
            client = Client()
            for i, name in enumerate(order):
                response = post_signed(client, payloads[name], msg_id=f"msg_order_{name}_{i}")
                assert response.status_code == 200
            site.refresh_from_db()
            business.refresh_from_db()
            state = (
                tuple(
                    Subscription.objects.values_list(
                        "provider_subscription_id",
                        "status",
                        "amount_cents",
                        "currency",
                        "interval",
                        "plan_name",
                    )
                ),  # fmt: skip
                tuple(Payment.objects.values_list("status", "amount_cents", "currency", "kind")),
                Customer.objects.count(),
                (site.status, site.subscription_status),
                (business.contact_status, business.website_status),
                sorted(ProviderEvent.objects.values_list("status", flat=True)),
            )
            raise _Rollback
    except _Rollback:
        pass
    return state


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(order=st.permutations(("payment", "subscription_create", "setup_intent")))
def test_any_order_of_a_purchase_s_recurrente_events_ends_like_the_ordered_one(db, order):
    """The payment, the subscription.create and the card setup of one purchase in any order
    (a subscription event that overtakes its payment waits and is applied when the payment
    links the subscription): same subscription, payment, customer, site and lead state."""
    expected = _recurrente_world(("payment", "subscription_create", "setup_intent"))
    assert expected[4] == ("purchased", "sold")
    assert expected[0] and expected[0][0][5]  # the subscription exists and has its plan name
    assert expected[5] == ["processed"] * 3
    assert _recurrente_world(order) == expected
