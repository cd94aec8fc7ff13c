"""Checkouts and purchases: the price and the checkout's metadata come from billing.services,
the payments from billing.charges (one purchase charge, then monthly renewals: the shape the
webhook and the sandbox record), their statuses from billing.lifecycle's rules
(CHECKOUT_MOVES, PAYMENT_MOVES) and the subscription's from the webhook's own table of
Recurrente events; the site goes live through sites.lifecycle's rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from billing.charges import Charge, add_interval, purchase_charges
from billing.lifecycle import checkout_status_after, payment_moves
from billing.models import (
    BillingInterval,
    Checkout,
    CheckoutStatus,
    Customer,
    Payment,
    PaymentStatus,
    Subscription,
)
from billing.services import Price, checkout_metadata
from billing.webhooks import SUBSCRIPTION_EVENTS
from crm.formatting import format_money
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
    (abandoned after CHECKOUT_ABANDON_MINUTES), maybe after a declined card. Attribution as
    billing.attribution decides it: the message whose link was just clicked (`row`) and
    its campaign, stored on the checkout."""
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
            "campaign_id": row["campaign_id"],
            "provider_checkout_id": provider_id,
            "url": f"https://app.recurrente.com/checkout-session/{provider_id}",
            "status": status,
            "setup_fee_cents": price.setup_fee_cents,
            "monthly_price_cents": price.monthly_price_cents,
            "currency": price.currency,
            "metadata": checkout_metadata(
                checkout=checkout_id,
                site=site["id"],
                business=business.pk,
                message=msg_id,
                campaign=row["campaign_id"],
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
        f"Checkout started: {price.setup_fee} setup + {price.monthly}",
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
    charge = _charges(price, failed_at)[0]  # the purchase charge, declined
    amount = charge.amount_cents
    pay_id = world.tables[Payment].add(
        checkout_id=checkout_id,
        business_id=business.pk,
        provider_payment_id=f"pa_{world.hex(48)}",
        amount_cents=amount,
        currency=charge.currency,
        kind=charge.kind,
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
    """The payment webhook: customer, subscription (linked to its checkout) and
    billing.charges' payments (the purchase, then each monthly renewal up to now); the site
    live, the lead `purchased` and its site `sold`."""
    row["converted_at"] = paid_at
    customer_id = world.tables[Customer].add(
        business_id=business.pk,
        site_id=site["id"],
        name=business.name,
        email=business.email,
        provider_customer_id=f"us_{world.hex(48)}",
        created_at=paid_at,
    )
    charges = _charges(price, paid_at, until=world.now)
    sub_id = world.tables[Subscription].add(
        customer_id=customer_id,
        site_id=site["id"],
        checkout_id=checkout_id,
        provider_subscription_id=f"su_{world.hex(48)}",
        status=SUBSCRIPTION_EVENTS["subscription.create"],
        amount_cents=price.monthly_price_cents,
        currency=price.currency,
        current_period_start=charges[-1].at,
        current_period_end=add_interval(charges[-1].at, BillingInterval.MONTH),
        started_at=paid_at,
        status_changed_at=paid_at,
    )
    links = {"subscription_id": sub_id, "customer_id": customer_id, "business_id": business.pk}
    purchase_id = None
    for charge in charges:
        pid = _payment(world, links, charge,
                       checkout_id=checkout_id if charge.pays_checkout else None)  # fmt: skip
        if charge.pays_checkout:
            purchase_id = pid
            continue
        story.note(
            charge.at,
            LeadEventKind.PAYMENT,
            WEBHOOK,
            f"Payment received: {format_money(charge.amount_cents, charge.currency)}",
            {"amount_cents": charge.amount_cents, "currency": charge.currency},
            payment_id=pid,
        )
    sites.activate(site, paid_at)
    first = charges[0]
    story.note(
        paid_at,
        LeadEventKind.PAYMENT,
        WEBHOOK,
        f"Payment received: {format_money(first.amount_cents, first.currency)}",
        {"amount_cents": first.amount_cents, "currency": first.currency},
        payment_id=purchase_id,
        site_id=site["id"],
    )
    story.note(paid_at, LeadEventKind.SUBSCRIPTION, WEBHOOK, "Subscription active",
               {"status": "active"}, site_id=site["id"])  # fmt: skip
    story.advance(paid_at, ContactStatus.PURCHASED, WEBHOOK, payment_id=purchase_id)
    story.website(paid_at, WebsiteStatus.SOLD, site["id"])


def _charges(price: Price, paid_at: datetime, until: datetime | None = None):
    return purchase_charges(
        setup_fee_cents=price.setup_fee_cents,
        period_cents=price.monthly_price_cents,
        currency=price.currency,
        paid_at=paid_at,
        until=until,
    )


def _payment(world, links: dict[str, Any], charge: Charge, **more) -> int:
    return world.tables[Payment].add(
        **links,
        **more,
        provider_payment_id=f"pa_{world.hex(48)}",
        amount_cents=charge.amount_cents,
        currency=charge.currency,
        kind=charge.kind,
        status=_reported(PaymentStatus.SUCCEEDED),
        paid_at=charge.at,
        created_at=charge.at,
    )
