"""Webhooks and clicks at the same instant (PostgreSQL only: it needs real concurrent
connections; SQLite serialises writers)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from billing.models import Checkout, Customer, Payment, Subscription
from crm.models import LeadEvent, LeadEventKind, ProviderEvent
from tests.billing.conftest import WEBHOOK_URL, make_checkout, sample, svix_headers
from tests.concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _post(body: bytes, msg_id: str):
    def call():
        return (
            Client()
            .post(
                WEBHOOK_URL,
                data=body,
                content_type="application/json",
                headers=svix_headers(body, msg_id=msg_id),
            )
            .status_code
        )

    return call


@pytest.mark.parametrize("round_", range(3))
def test_one_payment_delivered_four_times_at_once_is_applied_once(site, business, round_):
    make_checkout(site)
    body = json.dumps(sample("payment_intent_succeeded")).encode()
    # Two distinct svix ids (a provider retry) and each of them twice (a duplicate delivery).
    calls = [_post(body, f"msg_{round_}_{i % 2}") for i in range(4)]
    assert run_together(calls) == [200] * 4
    assert ProviderEvent.objects.count() == 2
    assert set(ProviderEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert Payment.objects.count() == 1
    assert Customer.objects.count() == 1
    assert Subscription.objects.count() == 1
    lines = LeadEvent.objects.filter(business=business)
    assert lines.filter(kind=LeadEventKind.PAYMENT).count() == 1
    assert lines.filter(kind=LeadEventKind.CHECKOUT).count() == 1
    assert lines.filter(kind=LeadEventKind.CONTACT_STATUS, data__new="purchased").count() == 1
    business.refresh_from_db()
    assert business.contact_status == "purchased"


def test_simultaneous_purchase_clicks_make_one_checkout(site, business):
    url = f"/p/{site.slug}/purchase/"
    locations = run_together([lambda: Client().post(url)["Location"]] * 4)
    assert Checkout.objects.count() == 1
    assert len(set(locations)) == 1
    assert LeadEvent.objects.filter(business=business, kind=LeadEventKind.CHECKOUT).count() == 1
