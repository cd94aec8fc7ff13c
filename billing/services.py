"""Billing writes that are not status rules: checkout creation, abandonment, cancellation.

Statuses themselves change only in billing.lifecycle; the lead's only in crm.lifecycle.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from billing import lifecycle as billing_lifecycle
from billing.backends import PaymentsError, get_backend
from billing.models import Checkout, CheckoutStatus, Subscription, SubscriptionState
from billing.queries import format_money
from campaigns.models import Message
from crm.lifecycle import business_advance, lead_event_add
from crm.models import Business, ContactStatus, EventSource, LeadEventKind
from crm.normalize import is_digits
from sites.models import Site, SiteStatus

logger = logging.getLogger(__name__)

# Session key / cookie name the tracked-link view may set with the Message that brought
# the visitor (its id or its token).
MESSAGE_SESSION_KEY = "wm_message"


class CheckoutUnavailable(Exception):
    """This site cannot be bought (no lead, already live, archived)."""


@dataclass(frozen=True)
class Price:
    setup_fee_cents: int
    monthly_price_cents: int
    currency: str

    @property
    def setup_fee(self) -> str:
        return format_money(self.setup_fee_cents, self.currency)

    @property
    def monthly(self) -> str:
        return format_money(self.monthly_price_cents, self.currency)

    @property
    def first_charge(self) -> str:
        return format_money(self.setup_fee_cents + self.monthly_price_cents, self.currency)


def price_current() -> Price:
    return Price(settings.SETUP_FEE_CENTS, settings.MONTHLY_PRICE_CENTS, settings.PRICE_CURRENCY)


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or behind our own TLS proxy (TRUST_X_FORWARDED_PROTO) the address the
    proxy appended last to X-Forwarded-For (earlier entries are client-controlled)."""
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if forwarded:
            return forwarded[-1][:64]
    return request.META.get("REMOTE_ADDR", "")[:64] or "unknown"


def purchase_rate_limited(ip: str) -> bool:
    """Count one purchase attempt for `ip`; True once it exceeds PURCHASE_RATE_LIMIT an hour."""
    key = f"billing:purchase:{ip}"
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=3600)
        count = 1
    return count > settings.PURCHASE_RATE_LIMIT


# Without a session/cookie hint, the lead's most recently clicked message within this window
# gets the credit (last-click attribution).
ATTRIBUTION_DAYS = 30


def message_from_request(request: HttpRequest, business_id: int) -> Message | None:
    """The message whose tracked link brought this visitor, if it is this lead's."""
    qs = Message.objects.filter(business_id=business_id)
    raw = request.session.get(MESSAGE_SESSION_KEY) or request.COOKIES.get(MESSAGE_SESSION_KEY)
    if raw not in (None, ""):
        raw = str(raw)[:64]
        found = qs.filter(pk=int(raw)).first() if is_digits(raw) else qs.filter(token=raw).first()
        if found is not None:
            return found
    since = timezone.now() - timedelta(days=ATTRIBUTION_DAYS)
    return (
        qs.filter(clicked_at__gte=since, direction="outbound")
        .order_by("-clicked_at", "-pk")
        .first()
    )


def _open_checkout(site: Site) -> Checkout | None:
    cutoff = timezone.now() - timedelta(minutes=settings.CHECKOUT_ABANDON_MINUTES)
    return (
        Checkout.objects.filter(
            site=site, status=CheckoutStatus.OPEN, created_at__gte=cutoff, url__gt=""
        )
        .order_by("-created_at")
        .first()
    )


def checkout_metadata(
    *, checkout: int, site: int, business: int, message: int | None
) -> dict[str, str]:
    """Our ids, carried by the provider's checkout so every payment links back to them."""
    return {
        "wm_checkout": str(checkout),
        "wm_site": str(site),
        "wm_business": str(business),
        "wm_message": str(message) if message else "",
    }


def checkout_create(
    *,
    site: Site,
    success_url: str,
    cancel_url: str,
    message: Message | None = None,
    by_staff: bool = False,
) -> tuple[Checkout, bool]:
    """Create (or reuse the open) checkout for `site`. Returns (checkout, created).

    Our own ids go into the provider checkout's metadata so every payment links back. The
    lead moves to `interested` (not when staff try the button: that is not the prospect's
    interest). Raises CheckoutUnavailable, or PaymentsError when the provider fails (then
    nothing is saved and the lead does not move)."""
    with transaction.atomic():
        # One checkout per site at a time: a double click waits for the first one.
        site = (
            Site.objects.select_for_update(of=("self",)).select_related("business").get(pk=site.pk)
        )
        business = site.business
        if business is None:
            raise CheckoutUnavailable("this website is not linked to a business")
        if site.status == SiteStatus.ARCHIVED:
            raise CheckoutUnavailable("this website is no longer available")
        if site.status == SiteStatus.ACTIVE:
            raise CheckoutUnavailable("this website is already live")
        existing = _open_checkout(site)
        if existing is not None:
            return existing, False
        price = price_current()
        checkout = Checkout.objects.create(
            site=site,
            business=business,
            message=message,
            setup_fee_cents=price.setup_fee_cents,
            monthly_price_cents=price.monthly_price_cents,
            currency=price.currency,
        )
        checkout.metadata = checkout_metadata(
            checkout=checkout.pk,
            site=site.pk,
            business=business.pk,
            message=message.pk if message else None,
        )
        provider_id, url = get_backend().checkout_create(
            checkout, success_url=success_url, cancel_url=cancel_url
        )
        checkout.provider_checkout_id = provider_id
        checkout.url = url
        checkout.save(update_fields=["provider_checkout_id", "url", "metadata"])
        lead_event_add(
            business=business,
            kind=LeadEventKind.CHECKOUT,
            source=EventSource.PUBLIC,
            summary=f"Checkout started{' by staff' if by_staff else ''}: "
            f"{price.setup_fee} setup + {price.monthly}/month",
            data={"checkout": checkout.pk, "provider_checkout_id": provider_id},
            site=site,
            message=message,
        )
        if by_staff:
            return checkout, True
        business_advance(
            business=business,
            to=ContactStatus.INTERESTED,
            source=EventSource.PUBLIC,
            data={"checkout": checkout.pk},
            site=site,
            message=message,
        )
        return checkout, True


def checkouts_expire(*, now: datetime | None = None) -> int:
    """Mark checkouts left open for CHECKOUT_ABANDON_MINUTES abandoned: a timeline line each,
    and (CHECKOUT_REMINDER_EMAIL) one reminder email with the preview link. Returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.CHECKOUT_ABANDON_MINUTES)
    count = 0
    stale = Checkout.objects.filter(status=CheckoutStatus.OPEN, created_at__lt=cutoff)
    for checkout in stale.select_related("site", "business").order_by("pk")[:1000]:
        with transaction.atomic():
            if not billing_lifecycle.checkout_mark_abandoned(checkout=checkout, at=now):
                continue
            lead_event_add(
                business=checkout.business_id,
                kind=LeadEventKind.CHECKOUT,
                source=EventSource.SYSTEM,
                summary="Checkout abandoned (not paid)",
                at=now,
                data={"checkout": checkout.pk},
                site_id=checkout.site_id,
            )
        count += 1
        if settings.CHECKOUT_REMINDER_EMAIL:
            checkout_remind(checkout=checkout)
    return count


# campaigns' merge fields: substituted as plain text there (scraped names are never code).
REMINDER_SUBJECT = "Your new website for {{ business_name }} is still waiting"
REMINDER_BODY = (
    "Hi {{ business_name }},\n\nYou started setting up your new website but did not finish "
    "the payment. Your preview is still here:\n\n{{ preview_url }}\n\n"
    "Reply to this email if you have any questions."
)


def checkout_remind(*, checkout: Checkout) -> bool:
    """Send the one reminder of an abandoned checkout through the campaigns' email path
    (suppression and opt-outs apply there). Returns whether a reminder was sent."""
    try:
        from campaigns.sending import SendRefused
        from campaigns.services import message_send_oneoff
    except ImportError:
        logger.warning("campaigns.services.message_send_oneoff is missing: no reminder sent")
        return False
    business = Business.objects.get(pk=checkout.business_id)
    if business.contact_status == ContactStatus.PURCHASED:
        return False
    if not billing_lifecycle.checkout_mark_reminded(checkout=checkout):
        return False  # another worker sent it, or it was paid meanwhile
    try:
        message = message_send_oneoff(
            business=business,
            channel="email",
            subject=REMINDER_SUBJECT,
            body=REMINDER_BODY,
            site=checkout.site,
        )
    except SendRefused as exc:
        summary, message = f"Checkout reminder not sent: {exc}", None
    else:
        summary = "Checkout reminder email sent"
    lead_event_add(
        business=business,
        kind=LeadEventKind.CHECKOUT,
        source=EventSource.SYSTEM,
        summary=summary,
        data={"checkout": checkout.pk},
        site_id=checkout.site_id,
        message=message,
    )
    return message is not None


def subscription_cancel_request(*, subscription: Subscription, actor) -> bool:
    """Ask the provider to cancel; the status changes when its webhook confirms.
    Raises PaymentsError when the provider refuses. Returns False if already requested
    or cancelled."""
    if subscription.status == SubscriptionState.CANCELLED:
        return False
    with transaction.atomic():
        if not billing_lifecycle.subscription_mark_cancel_requested(subscription=subscription):
            return False
        business_id = subscription.customer.business_id if subscription.customer else None
        if business_id:
            lead_event_add(
                business=business_id,
                kind=LeadEventKind.SUBSCRIPTION,
                source=EventSource.MANUAL,
                actor=actor,
                summary="Subscription cancellation requested; waiting for Recurrente to confirm",
                data={"subscription": subscription.provider_subscription_id},
                site_id=subscription.site_id,
            )
        # Inside the transaction: if the provider refuses, the request mark is rolled back.
        get_backend().subscription_cancel(subscription.provider_subscription_id)
    return True


__all__ = [
    "CheckoutUnavailable",
    "PaymentsError",
    "checkout_create",
    "checkouts_expire",
    "subscription_cancel_request",
]
