"""Billing test helpers: a preview site for the `business` fixture, and Svix signing."""

from __future__ import annotations

import json
import secrets
from datetime import datetime

import pytest
from django.utils import timezone
from svix.webhooks import Webhook

from tests.samples import PROVIDER_SAMPLES

SAMPLES = PROVIDER_SAMPLES

WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WEBHOOK_URL = "/webhooks/recurrente/"


def sample(name: str) -> dict:
    return json.loads((SAMPLES / f"recurrente_{name}.json").read_text())


def svix_headers(
    body: bytes, *, msg_id: str | None = None, at: datetime | None = None, secret=WEBHOOK_SECRET
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{secrets.token_hex(8)}"
    at = at or timezone.now()
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(int(at.timestamp())),
        "svix-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


def post_signed(client, payload: dict | bytes, **kwargs):
    """POST a body to the Recurrente webhook, signed like Svix does. Returns the response."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = svix_headers(body, **kwargs)
    return client.post(
        WEBHOOK_URL,
        data=body,
        content_type="application/json",
        headers=headers,
    )


@pytest.fixture(autouse=True)
def _billing_settings(settings):
    settings.RECURRENTE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.RECURRENTE_PUBLIC_KEY = ""
    settings.RECURRENTE_SECRET_KEY = ""
    settings.SETUP_FEE_CENTS = 40000
    settings.MONTHLY_PRICE_CENTS = 9700
    settings.PRICE_CURRENCY = "USD"
    settings.CANCELLED_SITE_STATUS = "suspended"
    settings.PURCHASE_RATE_LIMIT = 10
    settings.CHECKOUT_REMINDER_EMAIL = False
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def site(business):
    from sites.models import Site

    return Site.objects.create(
        business=business, slug="joes-plumbing", html="<html><body>Joe</body></html>"
    )


def make_checkout(site, *, provider_id="ch_id123", currency="GTQ", monthly=10000, setup=0):
    """An open checkout as checkout_create leaves it, with the sample's provider id."""
    from billing.models import Checkout

    checkout = Checkout.objects.create(
        site=site,
        business=site.business,
        provider_checkout_id=provider_id,
        url=f"https://app.recurrente.com/checkout-session/{provider_id}",
        setup_fee_cents=setup,
        monthly_price_cents=monthly,
        currency=currency,
    )
    checkout.metadata = {
        "wm_checkout": str(checkout.pk),
        "wm_site": str(site.pk),
        "wm_business": str(site.business_id),
        "wm_message": "",
    }
    checkout.save(update_fields=["metadata"])
    return checkout
