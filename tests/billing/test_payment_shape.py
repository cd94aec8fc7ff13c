"""One payment shape for a purchase (billing/charges.py), whoever records it: the
Recurrente webhook fed the provider's own sample, the sandbox backend, and seed_demo.

Recurrente charges a checkout's setup fee and first month as ONE payment whose paymentable
is the new subscription; each renewal is one payment of the month's price."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.backends import SandboxBackend
from billing.charges import add_interval
from billing.models import Checkout, Payment, PaymentKind, Subscription
from billing.services import checkout_create
from tests.billing.conftest import make_checkout, post_signed, sample

pytestmark = pytest.mark.django_db


def shape(checkout: Checkout) -> dict:
    """What a purchase left in billing, without ids and times."""
    subscription = Subscription.objects.get(checkout=checkout)
    payments = Payment.objects.filter(subscription=subscription).order_by("paid_at", "pk")
    return {
        "payments": [
            (
                p.kind,
                p.amount_cents,
                p.currency,
                p.status,
                p.checkout_id == checkout.pk,
                p.customer_id is not None,
                p.business_id == checkout.business_id,
            )
            for p in payments
        ],  # fmt: skip
        "subscription": (subscription.amount_cents, subscription.currency, subscription.status),
    }


PURCHASE_GTQ = {
    "payments": [("setup", 10000, "GTQ", "succeeded", True, True, True)],
    "subscription": (10000, "GTQ", "active"),
}


def test_the_recurrente_sample_makes_one_purchase_payment(client, site):
    """payment_intent.succeeded then subscription.create, the documentation's own bodies
    (their subscription ids made to agree, as the samples' README says)."""
    checkout = make_checkout(site)  # the sample's checkout: GTQ 100.00 a month, no setup fee
    post_signed(client, sample("payment_intent_succeeded"))
    created = sample("subscription_create")
    created["id"] = "su_id123"
    created["product"]["prices"][0]["amount_in_cents"] = 10000
    post_signed(client, created)
    assert shape(checkout) == PURCHASE_GTQ


def test_the_sandbox_makes_the_same_shape(site, settings):
    settings.PRICE_CURRENCY, settings.SETUP_FEE_CENTS, settings.MONTHLY_PRICE_CENTS = (
        "GTQ", 0, 10000,
    )  # fmt: skip
    checkout, _ = checkout_create(site=site, success_url="/ok/", cancel_url="/no/")
    SandboxBackend().pay(checkout)
    assert shape(checkout) == PURCHASE_GTQ


def test_with_a_setup_fee_it_is_still_one_charge_then_a_renewal_per_month(site):
    checkout, _ = checkout_create(site=site, success_url="/ok/", cancel_url="/no/")
    backend = SandboxBackend()
    backend.pay(checkout)
    backend.renew(Subscription.objects.get(), at=timezone.now() + timedelta(seconds=1))
    assert shape(checkout) == {
        "payments": [
            (PaymentKind.SETUP, 40000 + 9700, "USD", "succeeded", True, True, True),
            (PaymentKind.SUBSCRIPTION, 9700, "USD", "succeeded", False, True, True),
        ],
        "subscription": (9700, "USD", "active"),
    }


def test_seed_demo_purchases_have_the_same_shape():
    call_command("seed_demo", "--leads", "300", "--seed", "1", "--now", "2026-03-01T12:00:00Z")
    paid = Checkout.objects.filter(status="paid")
    assert paid.count() >= 3
    for checkout in paid:
        got = shape(checkout)
        first, *renewals = got["payments"]
        assert first == (
            PaymentKind.SETUP, checkout.setup_fee_cents + checkout.monthly_price_cents,
            checkout.currency, "succeeded", True, True, True,
        )  # fmt: skip
        assert renewals == [
            (PaymentKind.SUBSCRIPTION, checkout.monthly_price_cents, checkout.currency,
             "succeeded", False, True, True)
        ] * len(renewals)  # fmt: skip
        assert got["subscription"] == (checkout.monthly_price_cents, checkout.currency, "active")
        # Renewals fall on the monthly anniversaries of the purchase.
        times = list(
            Payment.objects.filter(subscription__checkout=checkout)
            .order_by("paid_at")
            .values_list("paid_at", flat=True)
        )
        assert times == [add_interval(times[0], "month", n) for n in range(len(times))]
        assert checkout.campaign_id == checkout.message.campaign_id
