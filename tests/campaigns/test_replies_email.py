"""Email replies through anymail's inbound webhook (Amazon SES, SNS action with the raw mail)."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from campaigns.models import Message
from crm.models import LeadEvent, ProviderEvent
from tests.campaigns.events_helpers import lead, post_ses, sent_message

pytestmark = pytest.mark.django_db

SES_ID = "0100018b-reply-test-000000"


def inbound_sns(raw: str, *, sns_id: str | None = None) -> tuple[str, str]:
    """An SES receipt notification (action SNS, BASE64) carrying `raw`, as SNS posts it."""
    sns_id = sns_id or str(uuid.uuid4())
    ses = {
        "notificationType": "Received",
        "mail": {
            "timestamp": "2026-11-20T10:00:00.000Z",
            "source": "jane@example.com",
            "messageId": "inbound-" + sns_id,
            "destination": ["hello@webmagic.example"],
        },
        "receipt": {
            "recipients": ["hello@webmagic.example"],
            "spamVerdict": {"status": "PASS"},
            "action": {
                "type": "SNS",
                "encoding": "BASE64",
                "topicArn": "arn:aws:sns:us-east-1:1:in",
            },
        },
        "content": base64.b64encode(raw.encode()).decode(),
    }
    sns = {
        "Type": "Notification",
        "MessageId": sns_id,
        "TopicArn": "arn:aws:sns:us-east-1:1:in",
        "Subject": "Amazon SES Email Receipt Notification",
        "Message": json.dumps(ses),
        "Timestamp": "2026-11-20T10:00:01.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/x.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }
    return json.dumps(sns), sns_id


def mail(body="Yes, I'd like the site! Call me.", subject="Re: Your new website", **headers):
    lines = [
        "From: Jane Doe <jane@example.com>",
        "To: WebMagic <hello@webmagic.example>",
        f"Subject: {subject}",
        "Date: Fri, 20 Nov 2026 10:00:00 +0000",
        f"Message-ID: <{uuid.uuid4().hex}@mail.example.com>",
        *[f"{k.replace('_', '-')}: {v}" for k, v in headers.items()],
        "Content-Type: text/plain; charset=utf-8",
        "",
        body,
        "",
        "On Thu, Nov 19, 2026 at 9:00 AM WebMagic <hello@webmagic.example> wrote:",
        "> We built a website for Jane's Bakery",
    ]
    return "\r\n".join(lines)


def post_inbound(client, raw, **kw):
    body, sns_id = inbound_sns(raw, **kw)
    return post_ses(client, body, sns_id, kind="inbound")


@pytest.fixture
def jane():
    return lead()


def test_a_reply_matched_by_in_reply_to_marks_the_lead_replied(client, jane):
    other = sent_message(jane, provider_id="0100018b-older-000000")
    answered = sent_message(jane, provider_id=SES_ID)
    raw = mail(In_Reply_To=f"<{SES_ID}@email.amazonses.com>")
    assert post_inbound(client, raw).status_code == 200
    reply = Message.objects.get(direction="inbound")
    assert reply.in_reply_to_id == answered.pk
    assert reply.body == "Yes, I'd like the site! Call me."  # quoted original dropped
    assert reply.subject == "Re: Your new website"
    assert reply.from_address == "jane@example.com"
    answered.refresh_from_db()
    other.refresh_from_db()
    jane.refresh_from_db()
    assert answered.replied_at is not None and other.replied_at is None
    assert jane.contact_status == "replied"
    row = LeadEvent.objects.get(business=jane, kind="reply")
    assert "I'd like the site" in row.summary
    assert row.provider_event_id == ProviderEvent.objects.get().pk


def test_a_reply_matched_by_references(client, jane):
    answered = sent_message(jane, provider_id="<abc123@webmagic.example>")
    raw = mail(References="<zzz@elsewhere.example> <abc123@webmagic.example>")
    post_inbound(client, raw)
    assert Message.objects.get(direction="inbound").in_reply_to_id == answered.pk


def test_without_headers_the_reply_is_matched_by_the_sender(client, jane):
    answered = sent_message(jane, provider_id="some-ses-id")
    post_inbound(client, mail())
    assert Message.objects.get(direction="inbound").in_reply_to_id == answered.pk
    jane.refresh_from_db()
    assert jane.contact_status == "replied"


@pytest.mark.parametrize(
    "headers,subject",
    [
        ({"Auto_Submitted": "auto-replied"}, "Re: Your new website"),
        ({"X_Autoreply": "yes"}, "Re: Your new website"),
        ({}, "Out of Office: back Monday"),
        ({}, "Automatic reply: Your new website"),
    ],
)
def test_auto_replies_are_recorded_but_are_not_replies(client, jane, headers, subject):
    answered = sent_message(jane, provider_id=SES_ID)
    post_inbound(client, mail(subject=subject, **headers))
    jane.refresh_from_db()
    answered.refresh_from_db()
    assert jane.contact_status == "emailed"
    assert answered.replied_at is None
    assert not Message.objects.filter(direction="inbound").exists()
    assert LeadEvent.objects.filter(business=jane, kind="auto_reply").count() == 1
    assert ProviderEvent.objects.get().status == "processed"


def test_a_duplicate_inbound_notification_is_one_reply(client, jane):
    sent_message(jane, provider_id=SES_ID)
    raw = mail()
    post_inbound(client, raw, sns_id="same-sns-id")
    post_inbound(client, raw, sns_id="same-sns-id")
    assert Message.objects.filter(direction="inbound").count() == 1
    assert ProviderEvent.objects.count() == 1


def test_a_reply_from_a_stranger_is_kept_unmatched(client):
    assert post_inbound(client, mail()).status_code == 200
    assert ProviderEvent.objects.get().status == "unmatched"
    assert not Message.objects.exists()


def test_inbound_needs_basic_auth(client, jane):
    body, sns_id = inbound_sns(mail())
    assert post_ses(client, body, sns_id, auth=None, kind="inbound").status_code == 401
    assert not ProviderEvent.objects.exists()


def test_reply_text_is_escaped_on_the_reply_list(client, jane, staff_user):
    sent_message(jane, provider_id=SES_ID)
    post_inbound(client, mail(body="<script>alert(1)</script> interested"))
    client.force_login(staff_user)
    page = client.get("/admin/crm/replies/")
    assert b"<script>alert(1)</script>" not in page.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt; interested" in page.content
