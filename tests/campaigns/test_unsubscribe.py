"""/u/<signed token>/: GET confirms, POST (also RFC 8058 one-click, no CSRF, no login)
unsubscribes through the lifecycle; forged tokens change nothing."""

import pytest
from django.test import Client

from campaigns.models import Suppression
from campaigns.sending import unsubscribe_token
from campaigns.services import message_send_oneoff
from crm.models import LeadEvent, LeadEventKind

pytestmark = pytest.mark.django_db


def test_get_shows_a_confirmation_and_changes_nothing(client, business):
    response = client.get(f"/u/{unsubscribe_token(business)}/")
    assert response.status_code == 200
    assert b"Unsubscribe" in response.content and b'<form method="post"' in response.content
    business.refresh_from_db()
    assert business.email_opt_out_at is None and business.contact_status == "pending"


def test_one_click_post_without_csrf_unsubscribes_idempotently(business):
    client = Client(enforce_csrf_checks=True)
    url = f"/u/{unsubscribe_token(business)}/"
    for _ in range(2):
        response = client.post(url, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
    business.refresh_from_db()
    assert business.contact_status == "unsubscribed"
    assert business.email_opt_out_at is not None and business.sms_opt_out_at is None
    assert Suppression.objects.filter(kind="email", value="joe@joesplumbing.com").count() == 1
    assert LeadEvent.objects.filter(business=business, kind=LeadEventKind.OPT_OUT).count() == 1


def test_link_in_a_sent_email_unsubscribes_that_lead(client, business):
    from django.core import mail

    message_send_oneoff(business=business, channel="email", subject="Hi", body="Hello")
    header = mail.outbox[0].extra_headers["List-Unsubscribe"]
    path = header.strip("<>").replace("https://crm.example.com", "")
    assert client.post(path).status_code == 200
    business.refresh_from_db()
    assert business.contact_status == "unsubscribed"


@pytest.mark.parametrize("mangle", ["flip", "other_lead", "garbage"])
def test_forged_or_altered_token_changes_nothing(client, business, mangle):
    token = unsubscribe_token(business)
    if mangle == "flip":
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    elif mangle == "other_lead":
        value, _, sig = token.partition(":")
        token = f"{business.pk + 1}.email:{sig}"
    else:
        token = "not-a-token"
    response = client.post(f"/u/{token}/", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 404
    business.refresh_from_db()
    assert business.email_opt_out_at is None and business.contact_status == "pending"
    assert not Suppression.objects.exists()
