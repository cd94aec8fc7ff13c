"""A burst of concurrent provider events for one lead loses no update and applies none twice
(threads with their own PostgreSQL connections, through the real webhook views)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from campaigns.models import Channel, Message
from crm.models import LeadEvent, ProviderEvent
from tests.campaigns.events_helpers import (
    TWILIO_TOKEN,
    lead,
    post_ses,
    post_twilio,
    sent_message,
    ses_message_id,
    ses_sample,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _burst(jobs) -> list[int]:
    barrier = threading.Barrier(len(jobs))
    statuses: list[int] = []
    errors: list[BaseException] = []

    def run(job):
        try:
            barrier.wait(timeout=10)
            statuses.append(job(Client()))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return statuses


def test_concurrent_opens_clicks_and_duplicates_for_one_lead(settings):
    recipient = lead(email="recipient@example.com", name="Recipient Co")
    message = sent_message(recipient, provider_id=ses_message_id("ses_open.json"))
    opens = [ses_sample("ses_open.json") for _ in range(6)]
    clicks = [ses_sample("ses_click.json") for _ in range(6)]
    # every distinct event delivered twice at the same instant
    jobs = [(lambda c, b=b, i=i: post_ses(c, b, i).status_code) for b, i in (opens + clicks) * 2]
    statuses = _burst(jobs)
    assert statuses == [200] * len(jobs)
    message.refresh_from_db()
    recipient.refresh_from_db()
    assert message.opened_count == 6
    assert message.clicked_count == 6
    assert ProviderEvent.objects.count() == 12
    assert set(ProviderEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert recipient.contact_status == "clicked"
    chain = list(
        LeadEvent.objects.filter(business=recipient, kind="contact_status")
        .order_by("pk")
        .values_list("data__old", "data__new")
    )
    # one chain, no repeated transition: pending→emailed, then forward moves only
    assert len(chain) == len(set(chain))
    assert chain[-1][1] == "clicked"
    assert LeadEvent.objects.filter(business=recipient, kind="opened").count() == 6


def test_concurrent_twilio_status_and_reply_for_one_lead(settings):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    business = lead(phone="+14155550123")
    outbound = [
        sent_message(business, channel=Channel.SMS, provider_id=f"SMout{i}") for i in range(4)
    ]

    def status(sid, state):
        return lambda c: (
            post_twilio(
                c,
                "/webhooks/twilio/status/",
                {"MessageSid": sid, "MessageStatus": state, "To": "+14155550123"},
            ).status_code
        )

    def reply(sid, body):
        return lambda c: (
            post_twilio(
                c,
                "/webhooks/twilio/inbound/",
                {"MessageSid": sid, "From": "+14155550123", "To": "+15125550999", "Body": body},
            ).status_code
        )

    jobs = []
    for m in outbound:
        jobs += [status(m.provider_message_id, "sent"), status(m.provider_message_id, "delivered")]
    jobs += [reply(f"SMin{i}", f"answer {i}") for i in range(4)]
    statuses = _burst(jobs * 2)
    assert statuses == [200] * len(jobs) * 2
    assert ProviderEvent.objects.count() == len(jobs)
    assert Message.objects.filter(direction="inbound").count() == 4
    assert all(
        m.status == "delivered" and m.delivered_at
        for m in Message.objects.filter(pk__in=[o.pk for o in outbound])
    )
    business.refresh_from_db()
    assert business.contact_status == "replied"
    assert LeadEvent.objects.filter(business=business, kind="reply").count() == 4
