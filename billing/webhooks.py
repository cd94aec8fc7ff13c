"""Recurrente webhooks (delivered by Svix) → the inbox → Payment / Subscription / Site / lead.

`webhook_receive` verifies the Svix signature (HMAC-SHA256 over "{id}.{timestamp}.{body}",
5-minute tolerance) and stores the event in crm's inbox under its `svix-id` (the payload's
`id` is the object's id and repeats across event types), then applies it. The sandbox
backend calls the same function, so fake payments take the real path.

`event_apply` is the inbox handler for provider "recurrente". It is idempotent: the inbox
applies each svix-id once, and every write below is conditional, so a replay or a second
delivery under another svix-id changes nothing twice. An event about a subscription or
checkout we do not know yet raises Unmatched (the inbox retries it); a payment that links a
subscription applies the subscription events that were waiting for it at once.
"""

from __future__ import annotations

import calendar
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing import lifecycle as billing_lifecycle
from billing.models import (
    BillingInterval,
    Checkout,
    Customer,
    PaymentKind,
    PaymentStatus,
    Subscription,
    SubscriptionState,
)
from billing.queries import format_money
from campaigns.lifecycle import message_mark_converted
from crm import inbox
from crm.lifecycle import business_advance, business_advance_website, lead_event_add
from crm.models import (
    ContactStatus,
    EventSource,
    LeadEventKind,
    ProviderEvent,
    ProviderEventStatus,
    WebsiteStatus,
)
from crm.normalize import is_digits
from sites.lifecycle import site_activate, site_set_subscription_status

logger = logging.getLogger(__name__)

PROVIDER = "recurrente"


class WebhookRejected(Exception):
    """Missing headers, bad signature, stale timestamp or no secret configured: 403."""


def webhook_verify(body: bytes, headers: Mapping[str, str], *, secret: str) -> dict[str, Any]:
    """Verify the Svix signature with `secret` (billing.backends.webhook_secret(): the
    payments backend knows it); return the parsed JSON object."""
    from svix.webhooks import Webhook, WebhookVerificationError

    wanted = ("svix-id", "svix-timestamp", "svix-signature")
    lowered = {k.lower(): v for k, v in headers.items() if k.lower() in wanted}
    missing = [h for h in wanted if not lowered.get(h)]
    if missing:
        raise WebhookRejected(f"missing header(s): {', '.join(missing)}")
    if not secret:
        raise WebhookRejected("RECURRENTE_WEBHOOK_SECRET is not configured")
    try:
        Webhook(secret).verify(body, lowered)
    except WebhookVerificationError as exc:
        raise WebhookRejected(str(exc)) from None
    except Exception as exc:  # a malformed secret or header value
        raise WebhookRejected(f"verification failed: {exc}") from None
    try:
        payload = json.loads(body)
    except ValueError:
        raise WebhookRejected("body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookRejected("body is not a JSON object")
    return payload


def webhook_receive(body: bytes, headers: Mapping[str, str], *, secret: str) -> ProviderEvent:
    """Verify, store (deduped on svix-id), apply. Raises WebhookRejected."""
    payload = webhook_verify(body, headers, secret=secret)
    svix_id = {k.lower(): v for k, v in headers.items()}["svix-id"]
    event, _created = inbox.record_and_process(
        PROVIDER,
        svix_id,
        str(payload.get("event_type") or "unknown"),
        payload,
        occurred_at=_parse_time(payload.get("created_at")),
    )
    return event


# --- applying events ------------------------------------------------------------------------


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _cents(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"amount_in_cents must be a non-negative integer, got {value!r}")
    return value


def add_interval(at: datetime, interval: str, count: int = 1) -> datetime:
    """`at` plus whole billing intervals, month ends clamped (Jan 31 + 1 month = Feb 28)."""
    if interval == BillingInterval.WEEK:
        return at + timedelta(weeks=count)
    months = count * (12 if interval == BillingInterval.YEAR else 1)
    month0 = at.month - 1 + months
    year, month = at.year + month0 // 12, month0 % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def _event_time(event: ProviderEvent) -> datetime:
    return event.occurred_at or _parse_time(event.payload.get("created_at")) or timezone.now()


def _timeline(event: ProviderEvent, business_id: int, kind: str, summary: str, **links) -> None:
    lead_event_add(
        business=business_id,
        kind=kind,
        source=EventSource.WEBHOOK,
        summary=summary,
        at=_event_time(event),
        data={"event_type": event.event_type, "provider": PROVIDER},
        provider_event=event,
        **links,
    )


def _find_checkout(payload: dict) -> Checkout | None:
    checkout_id = _str(_get(payload, "checkout", "id"))
    if checkout_id:
        found = Checkout.objects.filter(provider_checkout_id=checkout_id).first()
        if found:
            return found
    ours = _get(payload, "checkout", "metadata", "wm_checkout")
    if ours and is_digits(str(ours)):
        return Checkout.objects.filter(pk=int(ours)).first()
    return None


def _subscription_id(payload: dict) -> str:
    """The su_… id of a payment event (payment.paymentable when it is a Subscription)."""
    paymentable = _get(payload, "payment", "paymentable") or {}
    sid = _str(paymentable.get("id"))
    if paymentable.get("type") == "Subscription" or sid.startswith("su_"):
        return sid
    return ""


def _customer_ids(payload: dict) -> tuple[str, str, str]:
    """(provider id, name, email) from a payment or subscription event."""
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    return (
        _str(customer.get("id")) or _str(payload.get("customer_id")),
        _str(customer.get("full_name")) or _str(payload.get("customer_name")),
        _str(customer.get("email")) or _str(payload.get("customer_email")),
    )


def _recurring_price(payload: dict) -> dict | None:
    for product in [payload.get("product"), *(payload.get("products") or [])]:
        for price in _get(product, "prices") or []:
            if isinstance(price, dict) and price.get("charge_type") == "recurring":
                return price
    return None


def _customer_for(checkout: Checkout, payload: dict) -> Customer:
    provider_id, name, email = _customer_ids(payload)
    defaults = {
        "business_id": checkout.business_id,
        "site_id": checkout.site_id,
        "name": name[:255],
        "email": email[:254],
    }
    if provider_id:
        customer, _ = Customer.objects.get_or_create(
            provider_customer_id=provider_id, defaults=defaults
        )
        return customer
    customer = Customer.objects.filter(
        business_id=checkout.business_id, site_id=checkout.site_id
    ).first()
    return customer or Customer.objects.create(**defaults)


def apply_payment_succeeded(event: ProviderEvent) -> None:
    payload = event.payload
    at = _event_time(event)
    payment_id = _str(payload.get("id"))
    if not payment_id:
        raise ValueError("payment event without a top-level id")
    amount = _cents(payload.get("amount_in_cents"))
    currency = _str(payload.get("currency")).upper() or "USD"
    method = "bank_transfer" if event.event_type.startswith("bank_transfer") else "card"
    subscription_id = _subscription_id(payload)
    checkout = _find_checkout(payload)
    subscription = (
        Subscription.objects.filter(provider_subscription_id=subscription_id).first()
        if subscription_id
        else None
    )
    if checkout is None and subscription is None:
        raise inbox.Unmatched(
            f"no checkout {_get(payload, 'checkout', 'id')!r} or subscription "
            f"{subscription_id!r} known yet"
        )

    if checkout is not None:
        customer = _customer_for(checkout, payload)
        site_id, business_id = checkout.site_id, checkout.business_id
    else:
        customer = subscription.customer
        site_id = subscription.site_id
        business_id = customer.business_id if customer else None

    if subscription_id and subscription is None:
        monthly = checkout.monthly_price_cents if checkout.currency == currency else 0
        subscription, _ = Subscription.objects.get_or_create(
            provider_subscription_id=subscription_id,
            defaults={
                "customer": customer,
                "site_id": site_id,
                "checkout": checkout,
                "amount_cents": monthly or amount,
                "currency": currency,
                "interval": BillingInterval.MONTH,
                "plan_name": "Website subscription",
                "started_at": at,
                "status_changed_at": at,
            },
        )
    if subscription is not None:
        updates = {}
        if subscription.customer_id is None:
            updates["customer"] = customer
        if subscription.site_id is None and site_id:
            updates["site_id"] = site_id
        if subscription.checkout_id is None and checkout is not None:
            updates["checkout"] = checkout
        if updates:
            Subscription.objects.filter(pk=subscription.pk).update(**updates)

    payment, changed = billing_lifecycle.payment_record(
        provider_payment_id=payment_id,
        status=PaymentStatus.SUCCEEDED,
        at=at,
        defaults={
            "amount_cents": amount,
            "currency": currency,
            "kind": PaymentKind.SUBSCRIPTION if subscription_id else PaymentKind.SETUP,
            "method": method,
            "checkout": checkout,
            "subscription": subscription,
            "customer": customer,
            "business_id": business_id,
            "failure_reason": "",
        },
    )
    inbox.event_link_lead(event, business_id)
    if not changed:
        return
    if business_id:
        _timeline(
            event,
            business_id,
            LeadEventKind.PAYMENT,
            f"Payment received: {format_money(amount, currency)}"
            + (" (bank transfer)" if method == "bank_transfer" else ""),
            payment=payment,
            site_id=site_id,
        )
    if subscription is not None:
        subscription.refresh_from_db()
        billing_lifecycle.subscription_set_period(
            subscription=subscription,
            start=at,
            end=add_interval(at, subscription.interval),
        )
        if subscription.status == SubscriptionState.PAST_DUE:
            _subscription_status(event, subscription, SubscriptionState.ACTIVE)
            subscription.refresh_from_db()
    if checkout is not None and billing_lifecycle.checkout_mark_paid(checkout=checkout, at=at):
        _timeline(
            event,
            business_id,
            LeadEventKind.CHECKOUT,
            "Checkout paid",
            payment=payment,
            site_id=site_id,
        )
    if site_id:
        site_activate(site=site_id, at=at)
        if subscription is not None and subscription.status != SubscriptionState.CANCELLED:
            site_set_subscription_status(site=site_id, status=subscription.status, at=at)
    if business_id:
        links = {"payment": payment, "site_id": site_id, "provider_event": event}
        business_advance(
            business=business_id,
            to=ContactStatus.PURCHASED,
            source=EventSource.WEBHOOK,
            at=at,
            **links,
        )
        business_advance_website(
            business=business_id,
            to=WebsiteStatus.SOLD,
            source=EventSource.WEBHOOK,
            at=at,
            **links,
        )
    if checkout is not None and checkout.message_id:
        message_mark_converted(message=checkout.message_id, at=at)
    if subscription is not None:
        _apply_waiting_subscription_events(subscription.provider_subscription_id, event.pk)


def _apply_waiting_subscription_events(subscription_id: str, current_pk: int) -> None:
    waiting = (
        ProviderEvent.objects.filter(provider=PROVIDER, status=ProviderEventStatus.UNMATCHED)
        .filter(
            Q(event_type__startswith="subscription.", payload__id=subscription_id)
            | Q(event_type__startswith="setup_intent.", payload__suscription__id=subscription_id)
            | Q(event_type__startswith="setup_intent.", payload__subscription__id=subscription_id)
        )
        .exclude(pk=current_pk)
        .order_by("occurred_at", "received_at", "pk")
        .values_list("pk", flat=True)
    )
    for pk in list(waiting):
        inbox.process(pk)


def apply_payment_failed(event: ProviderEvent) -> None:
    payload = event.payload
    at = _event_time(event)
    payment_id = _str(payload.get("id"))
    if not payment_id:
        raise ValueError("payment event without a top-level id")
    amount = _cents(payload.get("amount_in_cents") or 0)
    currency = _str(payload.get("currency")).upper() or "USD"
    subscription_id = _subscription_id(payload)
    checkout = _find_checkout(payload)
    subscription = (
        Subscription.objects.filter(provider_subscription_id=subscription_id)
        .select_related("customer")
        .first()
        if subscription_id
        else None
    )
    if checkout is None and subscription is None:
        raise inbox.Unmatched("no checkout or subscription known yet for this failed payment")
    business_id = (
        checkout.business_id
        if checkout
        else (subscription.customer.business_id if subscription.customer else None)
    )
    site_id = checkout.site_id if checkout else subscription.site_id
    reason = _str(payload.get("failure_reason")) or "payment failed"
    pending = event.event_type.endswith(".pending")
    payment, changed = billing_lifecycle.payment_record(
        provider_payment_id=payment_id,
        status=PaymentStatus.PENDING if pending else PaymentStatus.FAILED,
        at=at,
        failure_reason=reason,
        defaults={
            "amount_cents": amount,
            "currency": currency,
            "kind": PaymentKind.SUBSCRIPTION if subscription_id else PaymentKind.SETUP,
            "method": "bank_transfer" if event.event_type.startswith("bank_transfer") else "card",
            "checkout": checkout,
            "subscription": subscription,
            "business_id": business_id,
        },
    )
    inbox.event_link_lead(event, business_id)
    if changed and business_id:
        summary = (
            f"Bank transfer pending: {format_money(amount, currency)}"
            if pending
            else f"Payment failed ({format_money(amount, currency)}): {reason}"
        )
        _timeline(
            event, business_id, LeadEventKind.PAYMENT, summary, payment=payment, site_id=site_id
        )


SUBSCRIPTION_EVENTS = {
    "subscription.create": SubscriptionState.ACTIVE,
    "subscription.past_due": SubscriptionState.PAST_DUE,
    "subscription.paused": SubscriptionState.PAUSED,
    "subscription.cancel": SubscriptionState.CANCELLED,
}


def _subscription_status(event: ProviderEvent, subscription: Subscription, status: str) -> None:
    at = _event_time(event)
    if not billing_lifecycle.subscription_set_status(
        subscription=subscription, status=status, at=at
    ):
        return
    business_id = subscription.customer.business_id if subscription.customer else None
    if subscription.site_id:
        site_set_subscription_status(site=subscription.site_id, status=status, at=at)
    if business_id:
        label = SubscriptionState(status).label.lower()
        _timeline(
            event,
            business_id,
            LeadEventKind.SUBSCRIPTION,
            f"Subscription {label}"
            + (f" (site {settings.CANCELLED_SITE_STATUS})" if status == "cancelled" else ""),
            site_id=subscription.site_id,
        )


def apply_subscription_event(event: ProviderEvent) -> None:
    payload = event.payload
    subscription_id = _str(payload.get("id"))
    subscription = (
        Subscription.objects.select_related("customer")
        .filter(provider_subscription_id=subscription_id)
        .first()
    )
    if subscription is None or subscription.customer_id is None:
        # Its payment (which carries our checkout and links the su_ id) has not arrived yet.
        raise inbox.Unmatched(f"subscription {subscription_id!r} is not linked to a payment yet")
    inbox.event_link_lead(event, subscription.customer.business_id)
    if event.event_type == "subscription.create":
        price = _recurring_price(payload)
        if price and isinstance(price.get("amount_in_cents"), int):
            interval = price.get("billing_interval")
            Subscription.objects.filter(pk=subscription.pk).update(
                amount_cents=price["amount_in_cents"],
                currency=_str(price.get("currency")).upper() or subscription.currency,
                interval=interval if interval in BillingInterval.values else subscription.interval,
                plan_name=_str(_get(payload, "product", "name"))[:255] or subscription.plan_name,
            )
    _subscription_status(event, subscription, SUBSCRIPTION_EVENTS[event.event_type])


def apply_setup_intent(event: ProviderEvent) -> None:
    payload = event.payload
    subscription_id = _str(_get(payload, "suscription", "id")) or _str(
        _get(payload, "subscription", "id")
    )
    subscription = (
        Subscription.objects.select_related("customer")
        .filter(provider_subscription_id=subscription_id)
        .first()
    )
    if subscription is None or subscription.customer is None:
        raise inbox.Unmatched(f"subscription {subscription_id!r} is not known yet")
    business_id = subscription.customer.business_id
    inbox.event_link_lead(event, business_id)
    succeeded = event.event_type.endswith(".succeeded")
    _timeline(
        event,
        business_id,
        LeadEventKind.SUBSCRIPTION,
        "Card saved for the subscription" if succeeded else "Card setup cancelled",
        site_id=subscription.site_id,
    )


HANDLERS = {
    "payment_intent.succeeded": apply_payment_succeeded,
    "bank_transfer_intent.succeeded": apply_payment_succeeded,
    "payment_intent.failed": apply_payment_failed,
    "bank_transfer_intent.failed": apply_payment_failed,
    "bank_transfer_intent.pending": apply_payment_failed,
    "setup_intent.succeeded": apply_setup_intent,
    "setup_intent.cancelled": apply_setup_intent,
    **dict.fromkeys(SUBSCRIPTION_EVENTS, apply_subscription_event),
}


def event_apply(event: ProviderEvent) -> None:
    """The inbox handler for provider "recurrente"."""
    handler = HANDLERS.get(event.event_type)
    if handler is None:
        raise inbox.Ignored(f"unknown Recurrente event type {event.event_type!r}: stored only")
    with transaction.atomic():
        handler(event)
