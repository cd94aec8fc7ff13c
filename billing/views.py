"""Billing pages: the public purchase flow, the sandbox checkout, the Recurrente webhook and
the staff billing page. Thin: parse, call one service or query, render."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
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
from django.views.decorators.vary import vary_on_headers

from billing.backends import PaymentsError, SandboxBackend, get_backend, webhook_secret
from billing.models import (
    Checkout,
    CheckoutStatus,
    Payment,
    PaymentStatus,
    Subscription,
    SubscriptionState,
)
from billing.queries import (
    checkout_rows,
    churned_since,
    customer_rows,
    mrr_by_currency,
    payment_rows,
    recurrente_event_rows,
    revenue_by_currency,
    subscription_counts,
    subscription_rows,
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
from billing.webhooks import WebhookRejected, webhook_receive
from crm.csv_export import csv_response
from crm.formatting import format_money
from crm.models import ProviderEventStatus
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


@dataclass(frozen=True)
class BillingTab:
    """One tab of the billing page: its rows (a query taking q, and status when it has
    status choices) and the status it shows when none is asked for."""

    label: str
    noun: str
    rows: Callable[..., QuerySet]
    statuses: list[tuple[str, str]]
    default_status: str = ""


BILLING_TABS = {
    "subscriptions": BillingTab(
        "Subscriptions", "subscription", subscription_rows, SubscriptionState.choices
    ),
    "customers": BillingTab("Customers", "customer", customer_rows, []),
    "payments": BillingTab("Payments", "payment", payment_rows, PaymentStatus.choices),
    "checkouts": BillingTab("Checkouts", "checkout", checkout_rows, CheckoutStatus.choices),
    "events": BillingTab(
        "Recurrente events",
        "event",
        recurrente_event_rows,
        [("attention", "Not applied"), *ProviderEventStatus.choices],
        "attention",
    ),
}
DEFAULT_TAB = "subscriptions"
PAGE_SIZE = 50
SEARCH_MAX = 200


def _billing_choice(request: HttpRequest) -> tuple[str, str, str, list[str]]:
    """(tab, q, status, errors) from the query string; a bad value is an error, never
    silently replaced by another list."""
    errors = []
    tab = request.GET.get("tab") or DEFAULT_TAB
    if tab not in BILLING_TABS:
        errors.append(f"Unknown tab {tab!r}: use one of {', '.join(BILLING_TABS)}.")
        tab = DEFAULT_TAB
    spec = BILLING_TABS[tab]
    status = request.GET.get("status", spec.default_status)
    if status and status not in {value for value, _ in spec.statuses}:
        errors.append(f"Unknown status {status!r} for {spec.label.lower()}.")
    q = (request.GET.get("q") or "").strip()
    if len(q) > SEARCH_MAX:
        errors.append(f"Search for at most {SEARCH_MAX} characters.")
    return tab, q, status, errors


@staff_required
@require_GET
@vary_on_headers("HX-Request")
def billing_home(request: HttpRequest) -> HttpResponse:
    """KPI cards, then one tab of rows (subscriptions, customers, payments, checkouts,
    Recurrente events not applied) with search, a status filter and pages. An htmx request
    for another tab, search or page gets the tab alone."""
    tab, q, status, errors = _billing_choice(request)
    spec = BILLING_TABS[tab]
    page = None
    if not errors:
        found = spec.rows(q=q, status=status) if spec.statuses else spec.rows(q=q)
        page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    home_url = reverse("billing:billing-home")
    context = {
        "home_url": home_url,
        "tab": tab,
        "spec": spec,
        "tabs": [
            (key, other.label, f"{home_url}?tab={key}") for key, other in BILLING_TABS.items()
        ],
        "q": q,
        "status": status,
        "errors": errors,
        "page": page,
        "query": urlencode({k: v for k, v in (("tab", tab), ("q", q), ("status", status)) if v}),
        "can_admin": can_admin(request.user),
    }
    htmx = request.htmx
    if htmx and not htmx.history_restore_request and htmx.target == "billing-tab":
        return render(request, "billing/billing_home.html#billing-tab", context)
    counts = subscription_counts()
    context |= {
        "mrr": _money_rows(mrr_by_currency()),
        "counts": counts,
        "churned_30d": churned_since(timezone.now() - timedelta(days=30)),
        "revenue": _money_rows(revenue_by_currency()),
        "abandoned_total": Checkout.objects.filter(status=CheckoutStatus.ABANDONED).count(),
        "events_total": recurrente_event_rows(status="attention").count(),
        "sandbox": getattr(settings, "PAYMENTS_BACKEND", "").endswith("SandboxBackend"),
    }
    return render(request, "billing/billing_home.html", context, status=400 if errors else 200)


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
@require_http_methods(["GET", "POST"])
def subscription_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what cancelling would do, and the button that does it; POST: ask Recurrente to
    cancel (the status changes when its webhook confirms)."""
    subscription = get_object_or_404(
        Subscription.objects.select_related("customer", "customer__business", "site"), pk=pk
    )
    if request.method == "GET":
        return render(request, "billing/subscription_cancel.html", {"s": subscription})
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
    return HttpResponseRedirect(reverse("billing:billing-home") + "?tab=subscriptions")
