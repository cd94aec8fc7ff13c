"""Billing pages: the public purchase flow, the sandbox checkout, the Recurrente webhook and
the staff billing page. Thin: parse, call one service or query, render."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.db.models import Count, Q
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.backends import PaymentsError, SandboxBackend, get_backend, webhook_secret
from billing.models import Checkout, CheckoutStatus, Customer, Payment, Subscription
from billing.queries import (
    churned_since,
    mrr_by_currency,
    revenue_by_currency,
    subscription_counts,
)
from billing.services import (
    CheckoutUnavailable,
    checkout_create,
    client_ip,
    message_from_request,
    price_current,
    purchase_rate_limited,
    subscription_cancel_request,
)
from billing.webhooks import PROVIDER, WebhookRejected, webhook_receive
from crm.csv_export import csv_response
from crm.formatting import format_money
from crm.models import ProviderEvent, ProviderEventStatus
from crm.periods import period_from_params
from crm.permissions import can_admin, is_staff, staff_required, superuser_required
from sites.models import Site
from sites.orphans import site_business_ensure

logger = logging.getLogger(__name__)

LIST_LIMIT = 200


def _public(response: HttpResponse) -> HttpResponse:
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "private, no-store"
    return response


def _public_page(request, template: str, context: dict, status: int = 200) -> HttpResponse:
    return _public(render(request, template, context, status=status))


# --- public purchase flow -----------------------------------------------------------------


@require_POST
def purchase(request: HttpRequest, slug: str) -> HttpResponse:
    site = get_object_or_404(Site.objects.select_related("business"), slug=slug)
    if purchase_rate_limited(client_ip(request)):
        return _public_page(
            request,
            "billing/purchase_problem.html",
            {"site": site, "problem": "Too many attempts. Please wait a while and try again."},
            status=429,
        )
    # An orphan preview gets its lead first (link_orphan_sites' code), then is bought as usual.
    site = site_business_ensure(site=site)
    message = message_from_request(request, site.business_id) if site.business_id else None
    success = reverse("billing:checkout-success", args=[slug])
    cancel = reverse("billing:checkout-cancel", args=[slug])
    try:
        checkout, _created = checkout_create(
            site=site,
            success_url=request.build_absolute_uri(success),
            cancel_url=request.build_absolute_uri(cancel),
            message=message,
            by_staff=is_staff(request.user),
        )
    except CheckoutUnavailable as exc:
        return _public_page(
            request, "billing/purchase_problem.html", {"site": site, "problem": str(exc)}, 409
        )
    except PaymentsError:
        logger.exception("checkout for site %s failed at the payment provider", site.pk)
        return _public_page(
            request,
            "billing/purchase_problem.html",
            {
                "site": site,
                "problem": "The payment service is not available right now. "
                "Nothing was charged; please try again in a few minutes.",
            },
            status=502,
        )
    return HttpResponseRedirect(checkout.url)


@require_GET
def checkout_success(request: HttpRequest, slug: str) -> HttpResponse:
    site = get_object_or_404(Site, slug=slug)
    return _public_page(request, "billing/checkout_success.html", {"site": site})


@require_GET
def checkout_cancel(request: HttpRequest, slug: str) -> HttpResponse:
    site = get_object_or_404(Site, slug=slug)
    return _public_page(
        request, "billing/checkout_cancel.html", {"site": site, "price": price_current()}
    )


def _sandbox() -> SandboxBackend:
    backend = get_backend()
    if not isinstance(backend, SandboxBackend):
        raise Http404("the sandbox payments backend is not active")
    return backend


@require_http_methods(["GET", "POST"])
def sandbox_checkout(request: HttpRequest, checkout_id: str) -> HttpResponse:
    backend = _sandbox()
    checkout = get_object_or_404(
        Checkout.objects.select_related("site", "business"), provider_checkout_id=checkout_id
    )
    success_url = checkout.metadata.get("sandbox_success_url") or checkout.site.get_absolute_url()
    cancel_url = checkout.metadata.get("sandbox_cancel_url") or checkout.site.get_absolute_url()
    if request.method == "POST":
        if checkout.status == CheckoutStatus.PAID:
            return HttpResponseRedirect(success_url)
        action = request.POST.get("action")
        if action not in {"pay", "decline"}:
            return _public(HttpResponse("Unknown action.", status=400))
        backend.pay(checkout, succeed=action == "pay")
        return HttpResponseRedirect(success_url if action == "pay" else request.path)
    return _public_page(
        request,
        "billing/sandbox_checkout.html",
        {
            "checkout": checkout,
            "setup_fee": format_money(checkout.setup_fee_cents, checkout.currency),
            "monthly": format_money(checkout.monthly_price_cents, checkout.currency),
            "total": format_money(
                checkout.setup_fee_cents + checkout.monthly_price_cents, checkout.currency
            ),
            "cancel_url": cancel_url,
            "failed_payments": checkout.payments.filter(status="failed").order_by("-created_at"),
        },
    )


# --- webhook ------------------------------------------------------------------------------


@csrf_exempt
@require_POST
def recurrente_webhook(request: HttpRequest) -> HttpResponse:
    try:
        event = webhook_receive(request.body, request.headers, secret=webhook_secret())
    except WebhookRejected as exc:
        logger.warning("Recurrente webhook rejected: %s", exc)
        return HttpResponse(f"rejected: {exc}", status=403, content_type="text/plain")
    # Stored is what matters to the sender: a failed application stays in the inbox with its
    # error and is replayed from there, so Svix need not retry.
    return HttpResponse(f"ok {event.status}", content_type="text/plain")


# --- staff pages --------------------------------------------------------------------------


def _money_rows(by_currency: dict[str, int]) -> list[str]:
    return [format_money(cents, currency) for currency, cents in sorted(by_currency.items())]


@staff_required
@require_GET
def billing_home(request: HttpRequest) -> HttpResponse:
    subscriptions = (
        Subscription.objects.select_related("customer", "customer__business", "site")
        .annotate(payment_count=Count("payments", filter=Q(payments__status="succeeded")))
        .order_by("-started_at", "-pk")
    )
    customers = (
        Customer.objects.select_related("business", "site")
        .annotate(subscription_count=Count("subscriptions"))
        .order_by("-created_at", "-pk")
    )
    abandoned = Checkout.objects.filter(status=CheckoutStatus.ABANDONED).select_related(
        "business", "site"
    )
    payments = Payment.objects.select_related("business", "subscription").order_by(
        "-created_at", "-pk"
    )
    events = ProviderEvent.objects.filter(provider=PROVIDER).exclude(
        status=ProviderEventStatus.PROCESSED
    )
    context = {
        "mrr": _money_rows(mrr_by_currency()),
        "counts": subscription_counts(),
        "churned_30d": churned_since(timezone.now() - timedelta(days=30)),
        "revenue": _money_rows(revenue_by_currency()),
        "subscriptions": subscriptions[:LIST_LIMIT],
        "subscription_total": Subscription.objects.count(),
        "customers": customers[:LIST_LIMIT],
        "customer_total": Customer.objects.count(),
        "abandoned": abandoned.order_by("-abandoned_at", "-pk")[:LIST_LIMIT],
        "abandoned_total": abandoned.count(),
        "payments": payments[:50],
        "events": events.order_by("-received_at", "-pk")[:50],
        "can_admin": can_admin(request.user),
        "limit": LIST_LIMIT,
        "sandbox": getattr(settings, "PAYMENTS_BACKEND", "").endswith("SandboxBackend"),
    }
    return render(request, "billing/billing_home.html", context)


PAYMENT_CSV = [
    "paid_at", "created_at", "lead", "kind", "status", "amount_cents", "currency", "amount",
    "credited_campaign", "provider_payment_id", "failure_reason",
]  # fmt: skip


@staff_required
@require_GET
def payments_export(request: HttpRequest) -> HttpResponse:
    """Every payment (or those made in `period` / `from`–`to`, by when each was recorded),
    newest first, through the one CSV writer: a scraped name cannot run as a formula."""
    try:
        period = period_from_params(request.GET, default="all")
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    payments = period.filter(Payment.objects.all(), "created_at").order_by("-created_at", "-pk")
    rows = (
        [
            p.paid_at,
            p.created_at,
            p.business.name if p.business else "",
            p.get_kind_display(),
            p.status,
            p.amount_cents,
            p.currency,
            format_money(p.amount_cents, p.currency),
            credited.name if (credited := _credited(p)) else "",
            p.provider_payment_id,
            p.failure_reason,
        ]  # fmt: skip
        for p in payments.select_related(
            "business", "checkout__campaign", "subscription__checkout__campaign"
        ).iterator(chunk_size=1000)
    )
    return csv_response(f"payments-{period.key}.csv", PAYMENT_CSV, rows)


def _credited(payment: Payment):
    """The campaign the payment's purchase is credited to (a renewal: through its
    subscription's checkout)."""
    checkout = payment.checkout or (payment.subscription.checkout if payment.subscription else None)
    return checkout.campaign if checkout else None


@superuser_required
@require_POST
def subscription_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(Subscription.objects.select_related("customer"), pk=pk)
    try:
        requested = subscription_cancel_request(subscription=subscription, actor=request.user)
    except PaymentsError as exc:
        messages.error(request, f"Recurrente refused the cancellation: {exc}")
    else:
        if requested:
            messages.success(
                request,
                f"Cancellation of {subscription.provider_subscription_id} requested; the "
                "status changes when Recurrente confirms it.",
            )
        else:
            messages.info(request, "That subscription is already cancelled or being cancelled.")
    return HttpResponseRedirect(reverse("billing:billing-home"))
