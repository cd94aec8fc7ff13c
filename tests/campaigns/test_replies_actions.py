"""The replies list is where replies are handled: answer one (in its own channel), mark it
read or unread, open its lead. Marking and answering are sales actions."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone

from campaigns import sms
from campaigns.models import Channel, Message
from campaigns.replies import reply_record
from crm.lifecycle import business_opt_in_sms, business_opt_out
from crm.models import LeadEvent
from tests.campaigns.events_helpers import lead, sent_message

pytestmark = pytest.mark.django_db

LIST = "/admin/crm/replies/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def email_reply(business, text="How much is it?", n=1) -> Message:
    sent = sent_message(business, provider_id=f"ses-out-{n}")
    return reply_record(
        business=business,
        channel=Channel.EMAIL,
        body=text,
        at=timezone.now(),
        provider_message_id=f"email:<in-{n}@example.com>",
        from_address=business.email,
        subject="Your new website",
        in_reply_to=sent,
    )


def test_a_viewer_sees_the_replies_and_their_leads_but_cannot_mark_or_answer(client, viewer_user):
    business = lead()
    reply = email_reply(business)
    client.force_login(viewer_user)
    html = client.get(LIST).content.decode()
    assert f'href="/admin/crm/leads/{business.pk}/"' in html
    assert "Mark read" not in html and "Send email" not in html
    assert client.post("/admin/crm/replies/read/", {"ids": [reply.pk]}).status_code == 403
    assert client.post(f"/admin/crm/replies/{reply.pk}/answer/", {"body": "x"}).status_code == 403
    reply.refresh_from_db()
    assert reply.read_at is None
    assert mail.outbox == []


def test_sales_mark_a_reply_read_and_unread_in_place_with_the_nav_count(client, sales_user):
    business = lead()
    reply = email_reply(business)
    client.force_login(sales_user)
    assert 'aria-label="1 unread"' in client.get(LIST).content.decode()

    row = client.post("/admin/crm/replies/read/", {"ids": [reply.pk]}, **HTMX)
    html = row.content.decode()
    assert row.status_code == 200 and html.lstrip().startswith(f'<tr id="reply-{reply.pk}"')
    assert "Mark unread" in html
    assert '<span class="count" id="nav-unread" hx-swap-oob="true" hidden>' in html
    reply.refresh_from_db()
    assert reply.read_at is not None

    row = client.post("/admin/crm/replies/unread/", {"ids": [reply.pk]}, **HTMX)
    html = row.content.decode()
    assert ">Mark read</button>" in html
    assert 'id="nav-unread" hx-swap-oob="true" aria-label="1 unread">1</span>' in html
    reply.refresh_from_db()
    assert reply.read_at is None


def test_without_htmx_marking_unread_redirects_back_to_the_list(client, sales_user):
    reply = email_reply(lead())
    client.force_login(sales_user)
    client.post("/admin/crm/replies/read/", {"ids": [reply.pk]})
    response = client.post("/admin/crm/replies/unread/", {"ids": [reply.pk], "next": LIST})
    assert response.status_code == 302 and response["Location"] == LIST
    assert "1 reply marked unread." in client.get(LIST).content.decode()
    reply.refresh_from_db()
    assert reply.read_at is None


def test_marking_unread_refuses_junk_ids_and_ignores_outbound_messages(client, sales_user):
    business = lead()
    reply = email_reply(business)
    client.force_login(sales_user)
    assert client.post("/admin/crm/replies/unread/", {"ids": ["x"]}).status_code == 400
    outbound = Message.objects.get(direction="outbound")
    assert outbound.read_at is None
    client.post("/admin/crm/replies/unread/", {"ids": [outbound.pk]})
    assert Message.objects.get(pk=outbound.pk).read_at is None
    assert Message.objects.get(pk=reply.pk).read_at is None


def test_sales_answer_an_email_reply_from_the_list(client, sales_user):
    business = lead()
    reply = email_reply(business, "Can you add our menu?")
    client.force_login(sales_user)
    html = client.get(LIST).content.decode()
    assert 'value="Re: Your new website"' in html
    row = client.post(
        f"/admin/crm/replies/{reply.pk}/answer/",
        {"subject": "Re: Your new website", "body": "Yes, the menu is included."},
        **HTMX,
    )
    assert row.status_code == 200
    assert "Answer sent" in row.content.decode()
    [email] = mail.outbox
    assert email.to == [business.email]
    assert email.subject == "Re: Your new website"
    assert "Yes, the menu is included." in email.body
    answer = Message.objects.get(direction="outbound", in_reply_to=reply)
    assert answer.status == "sent" and answer.channel == "email"
    reply.refresh_from_db()
    assert reply.read_at is not None
    sent_line = LeadEvent.objects.get(business=business, kind="message_sent", message=answer)
    assert sent_line.actor == sales_user


def test_an_empty_answer_is_refused_and_changes_nothing(client, sales_user):
    reply = email_reply(lead())
    client.force_login(sales_user)
    row = client.post(
        f"/admin/crm/replies/{reply.pk}/answer/", {"subject": "Re: hi", "body": "  "}, **HTMX
    )
    html = row.content.decode()
    assert 'role="alert"' in html and "The message body is empty." in html
    assert '<details class="reply-answer" open>' in html
    assert mail.outbox == []
    assert not Message.objects.filter(direction="outbound", in_reply_to=reply).exists()
    reply.refresh_from_db()
    assert reply.read_at is None


def test_an_opted_out_lead_is_not_answered_and_the_reason_is_shown(client, sales_user):
    business = lead()
    reply = email_reply(business)
    business_opt_out(business=business, channel="email", source="test")
    client.force_login(sales_user)
    response = client.post(
        f"/admin/crm/replies/{reply.pk}/answer/",
        {"subject": "Re: hi", "body": "One more thing", "next": LIST},
        follow=True,
    )
    assert response.status_code == 200
    assert "opted out" in response.content.decode().lower()
    assert mail.outbox == []


def test_an_sms_reply_is_answered_by_sms(client, sales_user, monkeypatch):
    monkeypatch.setattr("campaigns.services.sms_quiet_until", lambda *a, **k: None)
    business = lead(phone="+14155550123", state="CA")
    business_opt_in_sms(business=business, source="test")
    out = sent_message(business, channel=Channel.SMS, provider_id="SMout")
    reply = reply_record(
        business=business,
        channel=Channel.SMS,
        body="price?",
        at=timezone.now(),
        provider_message_id="SMin",
        from_address=business.phone_normalized,
        in_reply_to=out,
    )
    sms.outbox.clear()
    client.force_login(sales_user)
    html = client.get(LIST).content.decode()
    assert f'id="answer-subject-{reply.pk}"' not in html  # no subject for a text
    response = client.post(f"/admin/crm/replies/{reply.pk}/answer/", {"body": "$97 a month"})
    assert response.status_code == 302
    assert sms.outbox[-1].body.startswith("$97 a month")
    assert Message.objects.get(direction="outbound", in_reply_to=reply).channel == "sms"
