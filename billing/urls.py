from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("p/<slug:slug>/purchase/", views.purchase, name="purchase"),
    path("p/<slug:slug>/purchase/done/", views.checkout_success, name="checkout-success"),
    path("p/<slug:slug>/purchase/cancelled/", views.checkout_cancel, name="checkout-cancel"),
    path("billing/sandbox/<str:checkout_id>/", views.sandbox_checkout, name="sandbox-checkout"),
    path("webhooks/recurrente/", views.recurrente_webhook, name="recurrente-webhook"),
    path("admin/crm/billing/", views.billing_home, name="billing-home"),
    path("admin/crm/billing/payments.csv", views.payments_export, name="payments-export"),
    path(
        "admin/crm/billing/subscriptions/<int:pk>/cancel/",
        views.subscription_cancel,
        name="subscription-cancel",
    ),
]
