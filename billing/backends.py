"""Payments backends, chosen by PAYMENTS_BACKEND like Django's email backends.

- `RecurrenteBackend`: real checkouts through billing.recurrente.
- `SandboxBackend` (make run, tests): a local checkout page marked SANDBOX. Its Pay button
  builds the same Svix-signed webhook body a real payment produces and feeds it through the
  same verification and processing path as /webhooks/recurrente/. It refuses to run when
  real Recurrente keys are configured, so a live install can never take fake payments.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from billing.models import Checkout
from billing.recurrente import RecurrenteClient
from billing.webhooks import webhook_receive


class PaymentsError(Exception):
    """The payment provider could not do what we asked (shown to the user, nothing saved)."""


class BaseBackend:
    is_sandbox = False

    def checkout_create(
        self, checkout: Checkout, *, success_url: str, cancel_url: str
    ) -> tuple[str, str]:
        """Create the provider's checkout. Returns (provider_checkout_id, url)."""
        raise NotImplementedError

    def subscription_cancel(self, provider_subscription_id: str) -> None:
        raise NotImplementedError


def checkout_items(checkout: Checkout) -> list[dict[str, Any]]:
    """A one-time setup fee plus the monthly subscription, inline (no Recurrente price ids)."""
    items: list[dict[str, Any]] = []
    if checkout.setup_fee_cents:
        items.append(
            {
                "name": "Website setup",
                "currency": checkout.currency,
                "amount_in_cents": checkout.setup_fee_cents,
                "quantity": 1,
            }
        )
    items.append(
        {
            "name": "Website subscription",
            "currency": checkout.currency,
            "amount_in_cents": checkout.monthly_price_cents,
            "charge_type": "recurring",
            "billing_interval": "month",
            "billing_interval_count": 1,
            "quantity": 1,
        }
    )
    return items


class RecurrenteBackend(BaseBackend):
    def __init__(self, client: RecurrenteClient | None = None):
        self.client = client or RecurrenteClient.from_settings()

    def checkout_create(
        self, checkout: Checkout, *, success_url: str, cancel_url: str
    ) -> tuple[str, str]:
        from billing.recurrente import RecurrenteError

        try:
            result = self.client.checkout_create(
                items=checkout_items(checkout),
                success_url=success_url,
                cancel_url=cancel_url,
                metadata=checkout.metadata,
            )
        except RecurrenteError as exc:
            raise PaymentsError(str(exc)) from exc
        return result["id"], result["checkout_url"]

    def subscription_cancel(self, provider_subscription_id: str) -> None:
        from billing.recurrente import RecurrenteError

        try:
            self.client.subscription_cancel(provider_subscription_id)
        except RecurrenteError as exc:
            raise PaymentsError(str(exc)) from exc


def real_keys_configured() -> bool:
    return bool(settings.RECURRENTE_PUBLIC_KEY or settings.RECURRENTE_SECRET_KEY)


def sandbox_webhook_secret() -> str:
    """A whsec_ key derived from SECRET_KEY, for sandbox events when no secret is set."""
    digest = hmac.new(settings.SECRET_KEY.encode(), b"billing-sandbox-webhook", hashlib.sha256)
    return "whsec_" + base64.b64encode(digest.digest()).decode()


def webhook_secret() -> str:
    """The key our Recurrente webhooks are signed with: RECURRENTE_WEBHOOK_SECRET, else the
    sandbox's own when the sandbox is the payments backend, else none (nothing is accepted;
    a misconfigured backend accepts nothing either)."""
    if settings.RECURRENTE_WEBHOOK_SECRET:
        return settings.RECURRENTE_WEBHOOK_SECRET
    try:
        sandbox = get_backend().is_sandbox
    except Exception:
        sandbox = False
    return sandbox_webhook_secret() if sandbox else ""


class SandboxBackend(BaseBackend):
    is_sandbox = True

    def __init__(self):
        if real_keys_configured():
            raise ImproperlyConfigured(
                "PAYMENTS_BACKEND is the sandbox but RECURRENTE_PUBLIC_KEY/SECRET_KEY are set: "
                "refusing fake payments on an install with real keys. Use "
                "billing.backends.RecurrenteBackend."
            )

    def checkout_create(
        self, checkout: Checkout, *, success_url: str, cancel_url: str
    ) -> tuple[str, str]:
        provider_id = f"ch_sandbox_{secrets.token_hex(8)}"
        checkout.metadata = {
            **checkout.metadata,
            "sandbox_success_url": success_url,
            "sandbox_cancel_url": cancel_url,
        }
        return provider_id, reverse("billing:sandbox-checkout", args=[provider_id])

    def subscription_cancel(self, provider_subscription_id: str) -> None:
        from billing.models import Subscription

        sub = Subscription.objects.select_related("customer").get(
            provider_subscription_id=provider_subscription_id
        )
        self.deliver(sandbox_subscription_body(sub, "subscription.cancel"))

    # --- the fake provider side -------------------------------------------------------------

    def sign(self, body: bytes, *, msg_id: str | None = None, at: datetime | None = None):
        """Svix headers for `body`, as Svix would send them."""
        from svix.webhooks import Webhook

        msg_id = msg_id or f"msg_sandbox_{secrets.token_hex(10)}"
        at = at or timezone.now()
        return {
            "svix-id": msg_id,
            "svix-timestamp": str(int(at.timestamp())),
            "svix-signature": Webhook(self.webhook_secret()).sign(msg_id, at, body.decode()),
        }

    def webhook_secret(self) -> str:
        return settings.RECURRENTE_WEBHOOK_SECRET or sandbox_webhook_secret()

    def deliver(self, payload: dict[str, Any]):
        """Sign a body and run it through the webhook's own receive path."""
        body = json.dumps(payload).encode()
        return webhook_receive(body, self.sign(body), secret=self.webhook_secret())

    def pay(self, checkout: Checkout, *, succeed: bool = True) -> None:
        """What Recurrente does when the prospect pays: a payment event (and, on success, the
        subscription.create that follows it)."""
        body = sandbox_payment_body(checkout, succeed=succeed)
        self.deliver(body)
        if succeed:
            self.deliver(
                {
                    "id": body["payment"]["paymentable"]["id"],
                    "event_type": "subscription.create",
                    "api_version": "2024-04-24",
                    "created_at": timezone.now().isoformat(),
                    "customer_id": body["customer"]["id"],
                    "customer_email": body["customer"]["email"],
                    "customer_name": body["customer"]["full_name"],
                    "product": _sandbox_product(checkout),
                }
            )


def _sandbox_product(checkout: Checkout) -> dict[str, Any]:
    return {
        "id": "prod_sandbox",
        "name": "Website subscription",
        "prices": [
            {
                "amount_in_cents": checkout.monthly_price_cents,
                "billing_interval": "month",
                "billing_interval_count": 1,
                "charge_type": "recurring",
                "currency": checkout.currency,
            }
        ],
    }


def _sandbox_id(prefix: str, checkout: Checkout) -> str:
    return f"{prefix}_sandbox_{checkout.pk}"


def sandbox_payment_body(checkout: Checkout, *, succeed: bool = True) -> dict[str, Any]:
    """Shaped like provider-samples/recurrente_payment_intent_*.json."""
    business = checkout.business
    now = timezone.now().isoformat()
    subscription_id = _sandbox_id("su", checkout)
    payment_id = f"pa_sandbox_{secrets.token_hex(6)}"
    return {
        "id": payment_id,
        "event_type": "payment_intent.succeeded" if succeed else "payment_intent.failed",
        "api_version": "2024-04-24",
        "checkout": {
            "id": checkout.provider_checkout_id,
            "status": "paid" if succeed else "unpaid",
            "payment_method": {"id": "pay_m_sandbox", "type": "card", "card": {"last4": "4242"}},
            "metadata": {
                k: v for k, v in checkout.metadata.items() if not k.startswith("sandbox_")
            },
        },
        "created_at": now,
        "failure_reason": None if succeed else "Sandbox: the card was declined.",
        "amount_in_cents": checkout.setup_fee_cents + checkout.monthly_price_cents,
        "currency": checkout.currency,
        "customer": {
            "email": business.email or "customer@example.com",
            "full_name": business.name,
            "id": _sandbox_id("us", checkout),
        },
        "payment": {
            "id": payment_id,
            "paymentable": {"id": subscription_id, "type": "Subscription"},
        },
        "product": {"id": "prod_sandbox"},
    }


def sandbox_subscription_body(subscription, event_type: str) -> dict[str, Any]:
    customer = subscription.customer
    return {
        "id": subscription.provider_subscription_id,
        "event_type": event_type,
        "api_version": "2024-04-24",
        "created_at": timezone.now().isoformat(),
        "customer_id": customer.provider_customer_id if customer else "",
        "customer_email": customer.email if customer else "",
        "customer_name": customer.name if customer else "",
    }


def get_backend(path: str | None = None) -> BaseBackend:
    cls = import_string(path or settings.PAYMENTS_BACKEND)
    return cls()
