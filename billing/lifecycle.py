"""Checkout, Subscription and Payment status rules: the only code that changes them.

Each write is a conditional UPDATE (or a row lock for the payment upsert), so a duplicate or
concurrent webhook changes nothing twice, and returns whether it changed something.

- Checkout: open → paid | abandoned | cancelled; an abandoned (or expired) checkout that is
  paid after all still becomes paid. Paid is final.
- Subscription: active ⇄ past_due / paused; cancelled is final. A status event older than
  the last change is ignored (webhooks arrive out of order).
- Payment (keyed by the provider's id): pending → succeeded | failed; a later success
  updates an earlier failed row; a late failure never undoes a success.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.models import (
    Checkout,
    CheckoutStatus,
    Payment,
    PaymentStatus,
    Subscription,
    SubscriptionState,
)


def _pk(obj) -> int:
    return obj.pk if hasattr(obj, "pk") else int(obj)


# --- Checkout -----------------------------------------------------------------------------

# status → the statuses a checkout moves to it from.
CHECKOUT_MOVES: dict[str, tuple[str, ...]] = {
    CheckoutStatus.PAID: (CheckoutStatus.OPEN, CheckoutStatus.ABANDONED, CheckoutStatus.EXPIRED),
    CheckoutStatus.ABANDONED: (CheckoutStatus.OPEN,),
}


def checkout_status_after(current: str, to: str) -> str:
    """The status a checkout at `current` has after a move to `to` (the rule below)."""
    return to if current in CHECKOUT_MOVES[to] else current


def checkout_mark_paid(*, checkout: Checkout | int, at: datetime | None = None) -> bool:
    at = at or timezone.now()
    return bool(
        Checkout.objects.filter(
            pk=_pk(checkout), status__in=CHECKOUT_MOVES[CheckoutStatus.PAID]
        ).update(status=CheckoutStatus.PAID, paid_at=at)
    )


def checkout_mark_abandoned(*, checkout: Checkout | int, at: datetime | None = None) -> bool:
    at = at or timezone.now()
    return bool(
        Checkout.objects.filter(
            pk=_pk(checkout), status__in=CHECKOUT_MOVES[CheckoutStatus.ABANDONED]
        ).update(status=CheckoutStatus.ABANDONED, abandoned_at=at)
    )


def checkout_mark_reminded(*, checkout: Checkout | int, at: datetime | None = None) -> bool:
    """Claim the one reminder of an abandoned checkout (only one caller ever wins)."""
    at = at or timezone.now()
    return bool(
        Checkout.objects.filter(
            pk=_pk(checkout), status=CheckoutStatus.ABANDONED, reminder_sent_at__isnull=True
        ).update(reminder_sent_at=at)
    )


# --- Subscription -------------------------------------------------------------------------


def subscription_set_status(
    *, subscription: Subscription | int, status: str, at: datetime | None = None
) -> bool:
    """Follow a provider status event. Cancelled is final; an event older than the last
    change does not overwrite a newer status."""
    if status not in SubscriptionState.values:
        raise ValueError(f"unknown subscription status {status!r}")
    at = at or timezone.now()
    fields: dict[str, Any] = {"status": status, "status_changed_at": at}
    if status == SubscriptionState.CANCELLED:
        fields["cancelled_at"] = at
    return bool(
        Subscription.objects.filter(pk=_pk(subscription), status_changed_at__lte=at)
        .exclude(status=status)
        .exclude(status=SubscriptionState.CANCELLED)
        .update(**fields)
    )


def subscription_set_period(
    *, subscription: Subscription | int, start: datetime, end: datetime | None
) -> bool:
    """A paid period: the period only moves forward."""
    return bool(
        Subscription.objects.filter(pk=_pk(subscription))
        .filter(Q(current_period_start__isnull=True) | Q(current_period_start__lt=start))
        .update(current_period_start=start, current_period_end=end)
    )


def subscription_mark_cancel_requested(
    *, subscription: Subscription | int, at: datetime | None = None
) -> bool:
    at = at or timezone.now()
    return bool(
        Subscription.objects.filter(pk=_pk(subscription), cancel_requested_at__isnull=True)
        .exclude(status=SubscriptionState.CANCELLED)
        .update(cancel_requested_at=at)
    )


# --- Payment ------------------------------------------------------------------------------

# status → the statuses a payment moves to it from (a late failure never undoes a success).
PAYMENT_MOVES: dict[str, set[str]] = {
    PaymentStatus.PENDING: {PaymentStatus.PENDING},
    PaymentStatus.FAILED: {PaymentStatus.PENDING, PaymentStatus.FAILED},
    PaymentStatus.SUCCEEDED: {PaymentStatus.PENDING, PaymentStatus.FAILED},
}


def payment_moves(current: str, to: str, *, created: bool) -> bool:
    """Whether a payment at `current` (just `created` or not) takes the status `to`."""
    return current in PAYMENT_MOVES[to] and (created or current != to)


def payment_record(
    *,
    provider_payment_id: str,
    status: str,
    at: datetime,
    defaults: dict[str, Any],
    failure_reason: str = "",
) -> tuple[Payment, bool]:
    """Create or update the Payment with this provider id. Returns (payment, changed).

    `defaults`: amount_cents, currency, kind, method and links (checkout, subscription,
    customer, business), written when the row is created or its status changes."""
    if status not in PaymentStatus.values:
        raise ValueError(f"unknown payment status {status!r}")
    with transaction.atomic():
        payment, created = Payment.objects.select_for_update().get_or_create(
            provider_payment_id=provider_payment_id,
            defaults={**defaults, "status": PaymentStatus.PENDING, "created_at": at},
        )
        if not created:
            payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if not payment_moves(payment.status, status, created=created):
            return payment, created
        for field, value in defaults.items():
            if value is not None:
                setattr(payment, field, value)
        payment.status = status
        if status == PaymentStatus.SUCCEEDED:
            payment.paid_at = at
        elif status == PaymentStatus.FAILED:
            payment.failed_at = at
            payment.failure_reason = (failure_reason or "")[:500]
        payment.save()
        return payment, True
