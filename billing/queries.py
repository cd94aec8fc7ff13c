"""Reads on billing rows shared by the dashboard, analytics and the API."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, Count, F, IntegerField, Sum, Value, When

from billing.models import BillingInterval, Payment, PaymentStatus, Subscription, SubscriptionState

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
