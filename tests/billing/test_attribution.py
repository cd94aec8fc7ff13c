"""Attribution is decided once, when the checkout is created, and stored on it: the last
message the lead clicked, else opened or replied to, within ATTRIBUTION_DAYS; else the last
message sent in that window; else none. Purchases, revenue and MRR per campaign read it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.attribution import checkout_attribution
from billing.backends import SandboxBackend
from billing.models import Checkout, Subscription
from campaigns.metrics import campaign_metrics
from campaigns.models import Campaign
from crm.periods import period_parse
from tests.analytics_world import mark_clicked, mark_opened, mark_replied, send_email
from webmagic import analytics

pytestmark = pytest.mark.django_db

PURCHASE = "/p/joes-plumbing/purchase/"


def _campaign(name: str, days_ago: int) -> Campaign:
    return Campaign.objects.create(
        name=name, channel="email", started_at=timezone.now() - timedelta(days=days_ago)
    )


def _ago(days: float):
    return timezone.now() - timedelta(days=days)


def test_the_last_click_wins_over_a_later_open_and_a_later_send(business):
    a, b, c = _campaign("A", 10), _campaign("B", 8), _campaign("C", 2)
    clicked = send_email(a, business, _ago(10))
    mark_clicked(clicked, _ago(9))
    opened = send_email(b, business, _ago(8))
    mark_opened(opened, _ago(3))
    send_email(c, business, _ago(2))
    assert checkout_attribution(business_id=business.pk, at=timezone.now()) == clicked


def test_without_a_click_the_latest_open_or_reply_wins_then_the_latest_send(business):
    a, b, c = _campaign("A", 10), _campaign("B", 8), _campaign("C", 2)
    replied = send_email(a, business, _ago(10))
    mark_replied(replied, _ago(4))
    opened = send_email(b, business, _ago(8))
    mark_opened(opened, _ago(6))
    sent = send_email(c, business, _ago(2))
    assert checkout_attribution(business_id=business.pk, at=timezone.now()) == replied
    replied.replied_at = None  # what the rule sees without that reply
    replied.save(update_fields=["replied_at"])
    assert checkout_attribution(business_id=business.pk, at=timezone.now()) == opened
    opened.opened_at = None
    opened.save(update_fields=["opened_at"])
    assert checkout_attribution(business_id=business.pk, at=timezone.now()) == sent


def test_nothing_inside_the_window_credits_no_campaign(business, settings):
    settings.ATTRIBUTION_DAYS = 30
    old = send_email(_campaign("Old", 40), business, _ago(40))
    mark_clicked(old, _ago(39))
    assert checkout_attribution(business_id=business.pk, at=timezone.now()) is None
    settings.ATTRIBUTION_DAYS = 45
    assert checkout_attribution(business_id=business.pk, at=timezone.now()) == old


def test_the_purchase_button_stores_the_credited_campaign_and_it_never_moves(
    client, site, business
):
    """POST /p/<slug>/purchase/ → the checkout carries its campaign and message; a click on
    another campaign's message afterwards changes no campaign's purchases or revenue."""
    a, b = _campaign("Spring", 10), _campaign("Autumn", 5)
    spring = send_email(a, business, _ago(10))
    mark_clicked(spring, _ago(1))
    autumn = send_email(b, business, _ago(5))
    assert client.post(PURCHASE).status_code == 302
    checkout = Checkout.objects.get()
    assert (checkout.campaign, checkout.message) == (a, spring)
    assert checkout.metadata["wm_campaign"] == str(a.pk)
    SandboxBackend().pay(checkout)
    mark_clicked(autumn, timezone.now())  # after the purchase: too late to matter
    metrics = campaign_metrics([a, b])
    assert (metrics[a.pk].counts["converted"], metrics[b.pk].counts["converted"]) == (1, 0)
    assert metrics[a.pk].revenue == [{"currency": "USD", "cents": 49700}]
    assert metrics[b.pk].revenue == []
    rows = {r["label"]: r for r in analytics.revenue_by_source(period_parse("all"), "campaign")}
    assert rows["Spring"]["revenue_cents"] == 49700 and rows["Spring"]["mrr_cents"] == 9700
    assert "(no campaign)" not in rows


def test_renewals_are_credited_through_the_subscription_s_checkout(client, site, business):
    """Lifetime revenue: the purchase and every renewal, though a renewal has no checkout."""
    a = _campaign("Spring", 10)
    mark_clicked(send_email(a, business, _ago(10)), _ago(2))
    client.post(PURCHASE)
    backend = SandboxBackend()
    backend.pay(Checkout.objects.get())
    subscription = Subscription.objects.get()
    backend.renew(subscription, at=timezone.now() + timedelta(seconds=1))
    backend.renew(subscription, at=timezone.now() + timedelta(seconds=2))
    m = campaign_metrics([a])[a.pk]
    assert m.counts["converted"] == 1
    assert m.revenue == [{"currency": "USD", "cents": 49700 + 2 * 9700}]
    performance = analytics.campaign_performance(period_parse("all"))
    assert performance[0]["purchases"] == 1
    assert performance[0]["revenue"] == [{"currency": "USD", "cents": 49700 + 2 * 9700}]
