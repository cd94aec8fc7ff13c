"""4. The database connection is lost while a webhook is being applied. The backend serving
the request is terminated (pg_terminate_backend from another connection) just as the
provider's handler starts, or at the inbox INSERT, or at the `processed` UPDATE (for a
just-stored event, the claim that opens its apply transaction).
Proven for SES, Twilio and Recurrente: the provider gets a non-2xx answer (so it retries);
the event is either already stored (pending) or not stored at all; nothing is half-applied;
`replay_webhooks` or the provider's retry applies it exactly once."""

from __future__ import annotations

import json

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from billing.models import Payment
from campaigns.models import Channel, Message
from crm import inbox
from crm.models import ProviderEvent
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

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _terminate(pid: int) -> None:
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def _terminate_own_backend_first(monkeypatch, provider: str) -> list[int]:
    """Wrap the provider's inbox handler: the first call has its database backend killed
    from a second connection before it touches anything."""
    real = inbox._handlers[provider]
    killed: list[int] = []

    def handler(event):
        if not killed:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid = cursor.fetchone()[0]
            _terminate(pid)
            killed.append(pid)
        return real(event)

    monkeypatch.setitem(inbox._handlers, provider, handler)
    return killed


def _ses_world():
    business = lead(email="recipient@example.com", name="Recipient Co")
    message = sent_message(business, provider_id=ses_message_id("ses_open.json"))
    body, sns_id = ses_sample("ses_open.json")

    def deliver(client):
        return post_ses(client, body, sns_id)

    def applied():
        return Message.objects.get(pk=message.pk).opened_count

    return "anymail", deliver, applied


def _twilio_world():
    params = twilio_form("twilio_inbound_sms.txt")
    business = lead(phone=params["From"], email="sms@example.com")
    sent_message(business, channel=Channel.SMS, provider_id="SMlost1")

    def deliver(client):
        return post_twilio(client, "/webhooks/twilio/inbound/", params)

    def applied():
        return Message.objects.filter(direction="inbound").count()

    return "twilio", deliver, applied


def _recurrente_world():
    from crm.services import business_create
    from sites.models import Site

    business = business_create(data={"name": "Pay Co", "city": "Austin"}, source="test")
    site = Site.objects.create(business=business, slug="pay-co", html="<p>x</p>")
    make_checkout(site)
    body = json.dumps(sample("payment_intent_succeeded")).encode()
    headers = svix_headers(body, msg_id="msg_lost_1")

    def deliver(client):
        return client.post(WEBHOOK_URL, data=body, content_type="application/json", headers=headers)

    def applied():
        return Payment.objects.filter(status="succeeded").count()

    return "recurrente", deliver, applied


@pytest.mark.parametrize("world", [_ses_world, _twilio_world, _recurrente_world])
def test_connection_killed_mid_webhook_gets_a_retry_and_replay_applies_it_once(world, monkeypatch):
    """Backend killed as the handler starts: non-2xx, event stored as pending, nothing applied;
    replay_webhooks applies it once and the provider's retry is then a 200 no-op."""
    provider, deliver, applied = world()
    killed = _terminate_own_backend_first(monkeypatch, provider)
    response = deliver(Client(raise_request_exception=False))
    connection.close()  # the test client does not recycle the dead connection itself
    assert killed, "the handler never ran"
    assert not 200 <= response.status_code < 300, "the provider would not retry"

    event = ProviderEvent.objects.get(provider=provider)  # stored before the crash
    assert event.status == "pending" and event.processed_at is None
    assert applied() == 0  # nothing half-applied

    call_command("replay_webhooks", provider=provider)
    event.refresh_from_db()
    assert event.status == "processed"
    assert applied() == 1

    retry = deliver(Client())  # the provider's own retry after our non-2xx
    assert retry.status_code == 200
    assert ProviderEvent.objects.filter(provider=provider).count() == 1
    assert applied() == 1


class KillOnStatement:
    """A query wrapper that terminates this connection's backend just before the first SQL
    statement starting with `prefix` (e.g. the inbox INSERT) runs."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.fired = False

    def __call__(self, execute, sql, params, many, context):
        if not self.fired and sql.lstrip().upper().startswith(self.prefix):
            self.fired = True
            _terminate(context["connection"].connection.info.backend_pid)
        return execute(sql, params, many, context)


@pytest.mark.parametrize("world", [_ses_world, _twilio_world, _recurrente_world])
@pytest.mark.parametrize(
    "moment,prefix",
    [
        ("while storing the event", 'INSERT INTO "CRM_PROVIDEREVENT"'),
        ("while marking it processed", 'UPDATE "CRM_PROVIDEREVENT"'),
    ],
)
def test_connection_killed_while_storing_or_marking_processed(world, moment, prefix):
    """Killed at the inbox INSERT: a non-2xx and nothing stored, so the provider's retry
    stores and applies it. Killed at the `processed` UPDATE: the application rolls
    back with it (they commit together), a non-2xx, and the retry applies it once."""
    provider, deliver, applied = world()
    killer = KillOnStatement(prefix)
    with connection.execute_wrapper(killer):
        response = deliver(Client(raise_request_exception=False))
    connection.close()
    assert killer.fired, f"no statement starting {prefix!r} ran"
    assert not 200 <= response.status_code < 300, "the provider would not retry"
    assert applied() == 0  # nothing half-applied
    stored = ProviderEvent.objects.filter(provider=provider)
    if "storing" in moment:
        assert not stored.exists()
    else:
        assert stored.get().status == "pending"
    assert deliver(Client()).status_code == 200  # the provider's retry
    assert stored.get().status == "processed"
    assert applied() == 1
