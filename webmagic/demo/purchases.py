"""Checkouts and purchases: the price and the checkout's metadata come from billing.services,
their statuses from billing.lifecycle's rules (CHECKOUT_MOVES, PAYMENT_MOVES) and the
subscription's from the webhook's own table of Recurrente events; the site goes live through
sites.lifecycle's rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from billing.lifecycle import checkout_status_after, payment_moves
from billing.models import (
    Checkout,
    CheckoutStatus,
    Customer,
    Payment,
    PaymentKind,
    PaymentStatus,
    Subscription,
)
from billing.queries import format_money
from billing.services import Price, checkout_metadata
from billing.webhooks import SUBSCRIPTION_EVENTS
from crm.models import Business, ContactStatus, EventSource, LeadEventKind, WebsiteStatus
from webmagic.demo import sites
from webmagic.demo.data import GTQ_MONTHLY_CENTS, GTQ_SETUP_CENTS, P
from webmagic.demo.story import LeadStory

WEBHOOK = EventSource.WEBHOOK
CARD_DECLINED = "Your card was declined."


def _price(world, paid: bool) -> Price:
    """Every fifth purchase, from the second on, is in quetzales (and a fifth of the rest)."""
    if paid:
        world.purchases += 1
        gtq = world.purchases % 5 == 2
    else:
        gtq = world.rng.random() < P["gtq"]
    if gtq:
        return Price(GTQ_SETUP_CENTS, GTQ_MONTHLY_CENTS, "GTQ")
    return Price(world.setup_cents, world.monthly_cents, "USD")


def _reported(to: str) -> str:
    """The status of a new payment the provider reports as `to` (payment_record's rule)."""
    pending = PaymentStatus.PENDING
    return to if payment_moves(pending, to, created=True) else pending


def checkout(world, story: LeadStory, business: Business, row, msg_id: int, site, at: datetime):
    """checkout_create from the preview: the lead `interested`; then paid, or left open
    (abandoned after CHECKOUT_ABANDON_MINUTES), maybe after a declined card."""
    rng, now = world.rng, world.now
    if at > now:
        return
    checkout_id = world.tables[Checkout].reserve()
    paid_at = at + timedelta(seconds=rng.uniform(120, 3 * 3600))
    paid = rng.random() < P["paid_of_checkout"] and paid_at <= now
    price = _price(world, paid)
    provider_id = f"ch_{world.hex(48)}"
    abandon_at = at + timedelta(minutes=settings.CHECKOUT_ABANDON_MINUTES)
    status = CheckoutStatus.OPEN
    if paid:
        status = checkout_status_after(status, CheckoutStatus.PAID)
    elif abandon_at <= now:
        status = checkout_status_after(status, CheckoutStatus.ABANDONED)
    world.tables[Checkout].put(
        checkout_id,
        {
            "site_id": site["id"],
            "business_id": business.pk,
            "message_id": msg_id,
            "provider_checkout_id": provider_id,
            "url": f"https://app.recurrente.com/checkout-session/{provider_id}",
            "status": status,
            "setup_fee_cents": price.setup_fee_cents,
            "monthly_price_cents": price.monthly_price_cents,
            "currency": price.currency,
            "metadata": checkout_metadata(
                checkout=checkout_id, site=site["id"], business=business.pk, message=msg_id
            ),
            "created_at": at,
            "paid_at": paid_at if paid else None,
            "abandoned_at": abandon_at if status == CheckoutStatus.ABANDONED else None,
        },
    )
    links = {"site_id": site["id"], "message_id": msg_id}
    story.note(
        at,
        LeadEventKind.CHECKOUT,
        EventSource.PUBLIC,
        f"Checkout started: {price.setup_fee} setup + {price.monthly}/month",
        {"checkout": checkout_id, "provider_checkout_id": provider_id},
        **links,
    )
    story.advance(at, ContactStatus.INTERESTED, EventSource.PUBLIC, **links)
    if paid:
        purchase(world, story, business, row, checkout_id, site, paid_at, price)
    elif rng.random() < P["failed_payment_of_unpaid"]:
        _declined(world, story, business, checkout_id, at, price)


def _declined(world, story, business, checkout_id: int, at: datetime, price: Price) -> None:
    failed_at = at + timedelta(seconds=world.rng.uniform(60, 3600))
    if failed_at > world.now:
        return
    amount = price.setup_fee_cents + price.monthly_price_cents
    pay_id = world.tables[Payment].add(
        checkout_id=checkout_id,
        business_id=business.pk,
        provider_payment_id=f"pa_{world.hex(48)}",
        amount_cents=amount,
        currency=price.currency,
        kind=PaymentKind.SETUP,
        status=_reported(PaymentStatus.FAILED),
        failed_at=failed_at,
        failure_reason=CARD_DECLINED,
        created_at=failed_at,
    )
    story.note(
        failed_at,
        LeadEventKind.PAYMENT,
        WEBHOOK,
        f"Payment failed ({format_money(amount, price.currency)}): {CARD_DECLINED}",
        payment_id=pay_id,
    )


def purchase(world, story, business, row, checkout_id, site, paid_at, price: Price) -> None:
    """The payment webhook: customer, subscription, the setup payment and one payment per
    monthly period up to now; the site live, the lead `purchased` and its site `sold`."""
    row["converted_at"] = paid_at
    customer_id = world.tables[Customer].add(
        business_id=business.pk,
        site_id=site["id"],
        name=business.name,
        email=business.email,
        provider_customer_id=f"us_{world.hex(48)}",
        created_at=paid_at,
    )
    periods = _periods(paid_at, world.now)
    sub_id = world.tables[Subscription].add(
        customer_id=customer_id,
        site_id=site["id"],
        provider_subscription_id=f"su_{world.hex(48)}",
        status=SUBSCRIPTION_EVENTS["subscription.create"],
        amount_cents=price.monthly_price_cents,
        currency=price.currency,
        current_period_start=periods[-1],
        current_period_end=periods[-1] + timedelta(days=30),
        started_at=paid_at,
        status_changed_at=paid_at,
    )
    links = {"subscription_id": sub_id, "customer_id": customer_id, "business_id": business.pk}
    setup_id = _payment(world, links, price.setup_fee_cents, price, PaymentKind.SETUP, paid_at,
                        checkout_id=checkout_id)  # fmt: skip
    for n, period in enumerate(periods):
        pid = _payment(world, links, price.monthly_price_cents, price, PaymentKind.SUBSCRIPTION,
                       period, checkout_id=checkout_id if n == 0 else None)  # fmt: skip
        if n:
            story.note(
                period,
                LeadEventKind.PAYMENT,
                WEBHOOK,
                f"Payment received: {price.monthly}",
                {"amount_cents": price.monthly_price_cents, "currency": price.currency},
                payment_id=pid,
            )
    sites.activate(site, paid_at)
    first = price.setup_fee_cents + price.monthly_price_cents
    story.note(
        paid_at,
        LeadEventKind.PAYMENT,
        WEBHOOK,
        f"Payment received: {format_money(first, price.currency)}",
        {"amount_cents": first, "currency": price.currency},
        payment_id=setup_id,
        site_id=site["id"],
    )
    story.note(paid_at, LeadEventKind.SUBSCRIPTION, WEBHOOK, "Subscription active",
               {"status": "active"}, site_id=site["id"])  # fmt: skip
    story.advance(paid_at, ContactStatus.PURCHASED, WEBHOOK, payment_id=setup_id)
    story.website(paid_at, WebsiteStatus.SOLD, site["id"])


def _periods(start: datetime, now: datetime) -> list[datetime]:
    """Monthly anniversaries up to now: the first one is charged with the setup fee."""
    periods = [start]
    while periods[-1] + timedelta(days=30) <= now:
        periods.append(periods[-1] + timedelta(days=30))
    return periods


def _payment(world, links: dict[str, Any], cents: int, price: Price, kind: str, at, **more) -> int:
    return world.tables[Payment].add(
        **links,
        **more,
        provider_payment_id=f"pa_{world.hex(48)}",
        amount_cents=cents,
        currency=price.currency,
        kind=kind,
        status=_reported(PaymentStatus.SUCCEEDED),
        paid_at=at,
        created_at=at,
    )
