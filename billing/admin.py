from django.contrib import admin

from billing.models import Checkout, Customer, Payment, Subscription


@admin.register(Checkout)
class CheckoutAdmin(admin.ModelAdmin):
    list_display = ("provider_checkout_id", "business", "site", "status", "created_at")
    list_filter = ("status",)
    raw_id_fields = ("business", "site", "message")
    readonly_fields = ("status", "paid_at", "abandoned_at", "reminder_sent_at")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "provider_customer_id", "business")
    raw_id_fields = ("business", "site")


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("provider_subscription_id", "customer", "status", "amount_cents", "currency")
    list_filter = ("status", "currency")
    raw_id_fields = ("customer", "site", "checkout")
    readonly_fields = ("status", "status_changed_at", "cancelled_at", "cancel_requested_at")


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ("provider_payment_id", "kind", "status", "amount_cents", "currency", "paid_at")
    list_filter = ("status", "kind", "currency")
    raw_id_fields = ("subscription", "checkout", "customer", "business")
    readonly_fields = ("status", "paid_at", "failed_at")
