"""Helpers shared by the provider-event tests: samples as they are, signed/authenticated posts."""

from __future__ import annotations

import base64
import json
import uuid
from urllib.parse import parse_qsl

from django.conf import settings
from twilio.request_validator import RequestValidator

from campaigns import lifecycle as msg
from campaigns.models import Channel, Message
from crm.lifecycle import business_record_contact
from crm.services import business_create
from tests.samples import PROVIDER_SAMPLES

SAMPLES = PROVIDER_SAMPLES
SES_MESSAGE_ID = "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000"
TWILIO_TOKEN = "test-twilio-auth-token"
BASIC = "Basic " + base64.b64encode(b"username:password").decode()


def ses_sample(name: str, *, fresh_id: bool = True, mutate=None) -> tuple[str, str]:
    """(body, sns message id). A fresh SNS MessageId unless testing duplicate delivery;
    `mutate(ses_event)` rewrites the inner SES event (e.g. a transient bounce)."""
    sns = json.loads((SAMPLES / name).read_text())
    if fresh_id:
        sns["MessageId"] = str(uuid.uuid4())
    if mutate is not None:
        inner = json.loads(sns["Message"])
        mutate(inner)
        sns["Message"] = json.dumps(inner) + "\n"
    return json.dumps(sns), sns["MessageId"]


def post_ses(client, body: str, message_id: str, *, auth: str | None = BASIC, kind="tracking"):
    sns_type = json.loads(body)["Type"]
    headers = {
        "HTTP_X_AMZ_SNS_MESSAGE_TYPE": sns_type,
        "HTTP_X_AMZ_SNS_MESSAGE_ID": message_id,
    }
    if auth:
        headers["HTTP_AUTHORIZATION"] = auth
    return client.post(
        f"/anymail/amazon_ses/{kind}/",
        data=body.encode(),
        content_type="text/plain; charset=UTF-8",
        **headers,
    )


def sent_message(business, *, channel=Channel.EMAIL, provider_id=SES_MESSAGE_ID, to=None, **kw):
    """An outbound message that went out (queued → sending → sent) and the lead contacted."""
    to = to or (business.email if channel == Channel.EMAIL else business.phone_normalized)
    message = Message.objects.create(
        business=business,
        channel=channel,
        to_address=to,
        token=uuid.uuid4().hex,
        **kw,
    )
    assert msg.message_claim_for_sending(message=message)
    assert msg.message_mark_sent(message=message, provider_message_id=provider_id)
    business_record_contact(business=business, channel=channel, source="system", message=message)
    message.refresh_from_db()
    return message


def lead(email="jane@example.com", phone="(512) 555-0100", name="Jane's Bakery", **extra):
    return business_create(
        data={"name": name, "email": email, "phone": phone, "city": "Austin", **extra},
        source="test",
    )


def twilio_form(name: str) -> dict[str, str]:
    return dict(parse_qsl((SAMPLES / name).read_text(), keep_blank_values=True))


def post_twilio(client, path: str, params: dict, *, signature: str | None = None, **headers):
    """Post a form to a Twilio webhook, signed like Twilio signs it: the public URL
    (PUBLIC_BASE_URL + path), not the internal one the test client uses."""
    if signature is None:
        url = settings.PUBLIC_BASE_URL + path
        signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
    if signature:
        headers["HTTP_X_TWILIO_SIGNATURE"] = signature
    return client.post(path, data=params, **headers)


def ses_message_id(name: str) -> str:
    """The SES `mail.messageId` of a sample: our Message's provider_message_id."""
    sns = json.loads((SAMPLES / name).read_text())
    return json.loads(sns["Message"])["mail"]["messageId"]
