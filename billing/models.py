"""Money: checkouts, customers, subscriptions and payments. Amounts are integer cents."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Currency(models.TextChoices):
    USD = "USD", "US dollar"
    GTQ = "GTQ", "Guatemalan quetzal"


class CheckoutStatus(models.TextChoices):
    OPEN = "open", "Open"
    PAID = "paid", "Paid"
    ABANDONED = "abandoned", "Abandoned"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


class Checkout(models.Model):
    site = models.ForeignKey("sites.Site", on_delete=models.PROTECT, related_name="checkouts")
    business = models.ForeignKey("crm.Business", on_delete=models.PROTECT, related_name="checkouts")
    # Attribution, decided once when the checkout is created (billing/attribution.py): the
    # message it is credited to, and that message's campaign (kept if the message goes).
    message = models.ForeignKey(
        "campaigns.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="checkouts",
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="checkouts",
    )
    provider_checkout_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    url = models.URLField(max_length=1000, blank=True, default="")
    status = models.CharField(
        max_length=10, choices=CheckoutStatus.choices, default=CheckoutStatus.OPEN
    )
    setup_fee_cents = models.PositiveIntegerField(default=0)
    monthly_price_cents = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, choices=Currency.choices, default=Currency.USD)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    abandoned_at = models.DateTimeField(null=True, blank=True)
    # The one reminder email an abandoned checkout may get (never a second).
    reminder_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"], name="checkout_status_created")]

    def __str__(self) -> str:
        return self.provider_checkout_id or f"checkout {self.pk}"


class Customer(models.Model):
    business = models.ForeignKey("crm.Business", on_delete=models.PROTECT, related_name="customers")
    site = models.ForeignKey(
        "sites.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="customers"
    )
    name = models.CharField(max_length=255, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    provider_customer_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name or self.email or f"customer {self.pk}"


class SubscriptionState(models.TextChoices):
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"


class BillingInterval(models.TextChoices):
    MONTH = "month", "Monthly"
    YEAR = "year", "Yearly"
    WEEK = "week", "Weekly"


class Subscription(models.Model):
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="subscriptions"
    )
    site = models.ForeignKey(
        "sites.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="subscriptions"
    )
    # The checkout whose first payment created it (null for subscriptions made elsewhere).
    checkout = models.ForeignKey(
        Checkout, null=True, blank=True, on_delete=models.SET_NULL, related_name="subscriptions"
    )
    provider_subscription_id = models.CharField(max_length=255, unique=True)
    plan_name = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(
        max_length=10, choices=SubscriptionState.choices, default=SubscriptionState.ACTIVE
    )
    amount_cents = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, choices=Currency.choices, default=Currency.USD)
    interval = models.CharField(
        max_length=5, choices=BillingInterval.choices, default=BillingInterval.MONTH
    )
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    # Staff asked Recurrente to cancel; the status changes when its webhook confirms.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status"], name="subscription_status")]

    def __str__(self) -> str:
        return self.provider_subscription_id


class PaymentKind(models.TextChoices):
    """billing/charges.py: the purchase is one charge (setup fee + first period); each
    later charge of the subscription is a renewal."""

    SETUP = "setup", "Purchase (setup + first month)"
    SUBSCRIPTION = "subscription", "Renewal"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Payment(models.Model):
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    checkout = models.ForeignKey(
        Checkout, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    business = models.ForeignKey(
        "crm.Business", null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    # The webhook body's top-level `id` (pa_…, ba_…).
    provider_payment_id = models.CharField(max_length=255, unique=True)
    amount_cents = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, choices=Currency.choices, default=Currency.USD)
    kind = models.CharField(max_length=12, choices=PaymentKind.choices, default=PaymentKind.SETUP)
    status = models.CharField(
        max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    # card, bank_transfer (what the provider reported).
    method = models.CharField(max_length=20, blank=True, default="")
    paid_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["status", "paid_at"], name="payment_status_paid")]

    def __str__(self) -> str:
        return self.provider_payment_id
