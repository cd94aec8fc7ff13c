"""Reads on billing rows shared by the dashboard, analytics, the billing page and the API."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When

from billing.models import (
    BillingInterval,
    Checkout,
    Customer,
    Payment,
    PaymentStatus,
    Subscription,
    SubscriptionState,
)
from crm.models import Provider, ProviderEvent, ProviderEventStatus

# A subscription counts toward MRR while it is billed: active or past due (still owed).
MRR_STATUSES = (SubscriptionState.ACTIVE, SubscriptionState.PAST_DUE)


def revenue_by_currency(*, since: datetime | None = None, until: datetime | None = None):
    """{currency: cents} of succeeded payments, by paid_at."""
    qs = Payment.objects.filter(status=PaymentStatus.SUCCEEDED)
    if since is not None:
        qs = qs.filter(paid_at__gte=since)
    if until is not None:
        qs = qs.filter(paid_at__lt=until)
    return {
        row["currency"]: row["cents"]
        for row in qs.values("currency").annotate(cents=Sum("amount_cents")).order_by("currency")
    }


def monthly_cents() -> Case:
    """A subscription's amount normalised to a month (yearly / 12, weekly × 52 / 12, rounded
    down to the cent), as an expression over Subscription rows."""
    return Case(
        When(interval=BillingInterval.YEAR, then=F("amount_cents") / Value(12)),
        When(interval=BillingInterval.WEEK, then=F("amount_cents") * Value(52) / Value(12)),
        default=F("amount_cents"),
        output_field=IntegerField(),
    )


def mrr_by_currency() -> dict[str, int]:
    """{currency: cents per month} of billed subscriptions (see monthly_cents)."""
    return {
        row["currency"]: int(row["cents"] or 0)
        for row in Subscription.objects.filter(status__in=MRR_STATUSES)
        .values("currency")
        .annotate(cents=Sum(monthly_cents()))
        .order_by("currency")
    }


def subscription_counts() -> dict[str, int]:
    """{status: number of subscriptions}, every status present (0 when none)."""
    counts = dict.fromkeys(SubscriptionState.values, 0)
    for row in Subscription.objects.values("status").annotate(n=Count("pk")).order_by():
        counts[row["status"]] = row["n"]
    return counts


def churned_since(since: datetime) -> int:
    """Subscriptions cancelled since `since`."""
    return Subscription.objects.filter(
        status=SubscriptionState.CANCELLED, cancelled_at__gte=since
    ).count()


# --- the billing page's tabs -------------------------------------------------------------------


def subscription_rows(*, q: str = "", status: str = "") -> QuerySet[Subscription]:
    """Subscriptions newest first, with their customer, lead and site and the number of
    succeeded payments; `q` matches the customer's name or email, the lead's name or the
    provider id."""
    rows = Subscription.objects.select_related("customer", "customer__business", "site").annotate(
        payment_count=Count("payments", filter=Q(payments__status=PaymentStatus.SUCCEEDED))
    )
    if status:
        rows = rows.filter(status=status)
    if q:
        rows = rows.filter(
            Q(customer__name__icontains=q)
            | Q(customer__email__icontains=q)
            | Q(customer__business__name__icontains=q)
            | Q(provider_subscription_id__icontains=q)
        )
    return rows.order_by("-started_at", "-pk")


def customer_rows(*, q: str = "") -> QuerySet[Customer]:
    """Customers newest first, with their lead, site and number of subscriptions."""
    rows = Customer.objects.select_related("business", "site").annotate(
        subscription_count=Count("subscriptions")
    )
    if q:
        rows = rows.filter(
            Q(name__icontains=q)
            | Q(email__icontains=q)
            | Q(business__name__icontains=q)
            | Q(provider_customer_id__icontains=q)
        )
    return rows.order_by("-created_at", "-pk")


def payment_rows(*, q: str = "", status: str = "") -> QuerySet[Payment]:
    """Payments newest first, with their lead."""
    rows = Payment.objects.select_related("business", "subscription")
    if status:
        rows = rows.filter(status=status)
    if q:
        rows = rows.filter(
            Q(business__name__icontains=q)
            | Q(customer__email__icontains=q)
            | Q(provider_payment_id__icontains=q)
        )
    return rows.order_by("-created_at", "-pk")


def checkout_rows(*, q: str = "", status: str = "") -> QuerySet[Checkout]:
    """Checkouts newest first, with their lead and site."""
    rows = Checkout.objects.select_related("business", "site")
    if status:
        rows = rows.filter(status=status)
    if q:
        rows = rows.filter(
            Q(business__name__icontains=q)
            | Q(business__email__icontains=q)
            | Q(provider_checkout_id__icontains=q)
        )
    return rows.order_by("-created_at", "-pk")


def recurrente_event_rows(*, q: str = "", status: str = "attention") -> QuerySet[ProviderEvent]:
    """Recurrente events from the inbox, newest first: `attention` (the default) is every one
    not applied (failed, unmatched, ignored, pending), else one inbox status."""
    rows = ProviderEvent.objects.filter(provider=Provider.RECURRENTE)
    if status == "attention":
        rows = rows.exclude(status=ProviderEventStatus.PROCESSED)
    elif status:
        rows = rows.filter(status=status)
    if q:
        rows = rows.filter(Q(event_type__icontains=q) | Q(event_id__icontains=q))
    return rows.order_by("-received_at", "-pk")
