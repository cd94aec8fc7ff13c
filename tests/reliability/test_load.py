"""7. Load: a bounded burst of real HTTP requests on loopback against a live server (pytest's
threaded live_server, real sockets): Twilio status callbacks, SES open notifications for one
message (a hot row), Svix-signed Recurrente events, and the staff lead table with filters,
from 8 client threads at once. Proves: no error response, no lost event (the inbox holds
exactly the events sent), no lost update (the hot message's open counter equals the opens
sent). Prints the rates measured (copied into docs/reliability.md)."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings
from django.test import Client
from twilio.request_validator import RequestValidator

from campaigns.models import Channel, Message
from crm.models import ProviderEvent
from tests.billing.conftest import sample, svix_headers
from tests.campaigns.events_helpers import BASIC, lead, sent_message, ses_sample

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
SMS_MESSAGES = 40  # × (sent, delivered) status callbacks
OPENS = 80  # SES opens of one message
PAYMENTS = 30  # Recurrente events, each its own svix-id
LEAD_PAGES = 80


def test_bounded_webhook_and_lead_table_load_loses_nothing(live_server, staff_user):
    """270 interleaved requests from 8 threads on a live server: all 200, inbox rows = events
    sent, the hot message's open counter = opens sent, every SMS delivered."""
    base = live_server.url
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    sms = [
        sent_message(
            lead(email=f"l{i}@load{i}.com", phone=f"+1415556{i:04d}", name=f"Load {i}"),
            channel=Channel.SMS,
            provider_id=f"SMload{i:04d}",
        )
        for i in range(SMS_MESSAGES)
    ]
    hot = sent_message(
        lead(email="recipient@example.com", name="Hot Row Co", phone="(512) 555-0999"),
        provider_id="7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
    )
    session = Client()
    session.force_login(staff_user)
    cookie = {"sessionid": session.cookies["sessionid"].value}

    jobs = []
    for m in sms:
        for state in ("sent", "delivered"):
            params = {
                "MessageSid": m.provider_message_id,
                "MessageStatus": state,
                "To": m.to_address,
            }
            path = "/webhooks/twilio/status/"
            sig = validator.compute_signature(settings.PUBLIC_BASE_URL + path, params)
            jobs.append(
                ("twilio", "POST", path, {"data": params, "headers": {"X-Twilio-Signature": sig}})
            )
    for _ in range(OPENS):
        body, sns_id = ses_sample("ses_open.json")
        headers = {
            "Authorization": BASIC,
            "X-Amz-Sns-Message-Type": "Notification",
            "X-Amz-Sns-Message-Id": sns_id,
            "Content-Type": "text/plain; charset=UTF-8",
        }
        jobs.append(
            (
                "ses",
                "POST",
                "/anymail/amazon_ses/tracking/",
                {"data": body.encode(), "headers": headers},
            )
        )
    for _ in range(PAYMENTS):
        payload = sample("subscription_create")
        payload["id"] = f"su_{uuid.uuid4().hex[:12]}"
        body = json.dumps(payload).encode()
        headers = {**svix_headers(body), "Content-Type": "application/json"}
        jobs.append(
            ("recurrente", "POST", "/webhooks/recurrente/", {"data": body, "headers": headers})
        )
    filters = [
        "",
        "?contact_status=texted",
        "?city=Austin&sort=-rating",
        "?q=Load&p=2",
        "?min_rating=4",
    ]
    for i in range(LEAD_PAGES):
        headers = {"HX-Request": "true"} if i % 2 else {}
        jobs.append(
            (
                "leads",
                "GET",
                "/admin/crm/leads/" + filters[i % len(filters)],
                {"headers": headers, "cookies": cookie},
            )
        )
    # interleave kinds so every endpoint is under load at the same time
    jobs = [jobs[i] for i in sorted(range(len(jobs)), key=lambda i: (i * 7919) % len(jobs))]

    def run(job):
        kind, method, path, kw = job
        started = time.perf_counter()
        with requests.Session() as http:
            response = http.request(method, base + path, timeout=30, allow_redirects=False, **kw)
        return kind, response.status_code, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(run, jobs))
    elapsed = time.perf_counter() - started

    errors = [(k, s) for k, s, _ in results if s != 200]
    assert not errors, errors[:20]
    webhook_events = SMS_MESSAGES * 2 + OPENS + PAYMENTS
    assert ProviderEvent.objects.count() == webhook_events  # none lost, none doubled
    assert (
        ProviderEvent.objects.filter(provider="twilio", status="processed").count()
        == SMS_MESSAGES * 2
    )
    assert (
        Message.objects.filter(pk__in=[m.pk for m in sms], status="delivered").count()
        == SMS_MESSAGES
    )
    hot.refresh_from_db()
    assert hot.opened_count == OPENS  # no lost update on one hot row
    assert not ProviderEvent.objects.filter(status="failed").exists()

    by_kind: dict[str, list[float]] = {}
    for kind, _, seconds in results:
        by_kind.setdefault(kind, []).append(seconds)
    rate = len(results) / elapsed
    lines = [f"{len(results)} requests, {THREADS} threads, {elapsed:.1f} s, {rate:.0f} req/s"]
    for kind, times in sorted(by_kind.items()):
        times.sort()
        lines.append(
            f"{kind}: {len(times)} requests, p50 {times[len(times) // 2] * 1000:.0f} ms, "
            f"p95 {times[int(len(times) * 0.95)] * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms"
        )
    lines.append(f"inbox rows {ProviderEvent.objects.count()} = events sent {webhook_events}")
    print("\nLOAD " + "\nLOAD ".join(lines))
