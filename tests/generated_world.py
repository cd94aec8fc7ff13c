"""A generated world for the agreement tests (tests/test_one_truth.py): a seeded generator,
small enough to build in a second or two, that reaches every state through the lifecycle,
the services and the real webhook path (purchases through the sandbox backend):

- leads created over the last ~500 days (some today, this week, this month…);
- email campaigns with follow-ups and SMS campaigns started from today to a year ago, each
  to a random set of the leads that existed then; messages queued, failed, sent, delivered,
  bounced; opens (email), clicks, replies; opt-outs after a campaign's message (a lead may
  get two campaigns on one channel, and the opt-out belongs to the later one);
- purchases credited by the real attribution, in USD and GTQ, some renewed; a purchase with
  no campaign and a checkout never paid.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from billing.backends import SandboxBackend
from billing.models import Checkout, Subscription
from billing.services import checkout_create
from campaigns.lifecycle import (
    message_claim_for_sending,
    message_mark_bounced,
    message_mark_delivered,
    message_mark_send_failed,
)
from campaigns.models import Campaign, CampaignStatus, Direction, Message
from crm.lifecycle import business_mark_bounced, business_opt_out
from crm.models import Business
from crm.periods import day_start, period_parse
from crm.services import business_create
from sites.models import Site
from tests.analytics_world import mark_clicked, mark_opened, mark_replied, send_email, send_sms

CATEGORIES = ("Plumber", "Dentist", "Roofer", "Bakery")
CITIES = (("Austin", "TX"), ("Dallas", "TX"), ("Springfield", "IL"), ("Antigua", "GT"))
# Campaigns: (channel, days ago it started). Five, so the dashboard shows every one.
CAMPAIGNS = (("email", 0.05), ("sms", 2.5), ("email", 12), ("email", 60), ("sms", 300))
LEAD_AGES = (0.01, 0.02, 1.5, 3, 5, 9, 20, 35, 45, 80, 100, 150, 250, 320, 400, 500)
PRICES = {"USD": (40000, 9700), "GTQ": (0, 75000)}


@dataclass
class GeneratedWorld:
    now: datetime
    leads: list[Business]
    campaigns: list[Campaign]
    purchases: int


def _boundary_times(now: datetime) -> list[datetime]:
    """An hour either side of where each period starts (local midnight in CRM_TIME_ZONE):
    a day counted in the wrong zone shows at once."""
    times = []
    for key in ("today", "week", "month", "7d", "30d", "90d"):
        start = day_start(period_parse(key, now=now).first_day)
        times += [t for t in (start - timedelta(hours=1), start + timedelta(hours=1)) if t < now]
    return times


def _leads(rng: random.Random, now: datetime, n: int) -> list[Business]:
    leads = []
    edges = _boundary_times(now)
    for i in range(n + len(edges)):
        city, state = CITIES[i % len(CITIES)]
        lead = business_create(
            data={
                "name": f"{rng.choice(('Best', 'Prime', 'Lone Star'))} {CATEGORIES[i % 4]} {i}",
                "email": f"lead{i}@biz{i}.example",
                "phone": f"(512) 555-{1000 + i}",
                "city": city,
                "state": state,
                "category": CATEGORIES[i % 4],
            },
            source="generated",
        )
        created = (
            edges[i - n]
            if i >= n
            else now - timedelta(days=rng.choice(LEAD_AGES) + rng.random() * 0.01)
        )
        # When it was scraped and its score are inputs (an import's), not lifecycle states.
        Business.objects.filter(pk=lead.pk).update(
            created_at=created,
            contact_status_changed_at=created,
            website_status_changed_at=created,
            qualification_score=rng.randint(0, 100),
        )
        lead.refresh_from_db()
        leads.append(lead)
    return leads


def _queued(campaign: Campaign, lead: Business, step: int = 1) -> Message:
    return Message.objects.create(
        campaign=campaign,
        business=lead,
        step=step,
        direction=Direction.OUTBOUND,
        channel=campaign.channel,
        to_address=lead.email if campaign.channel == "email" else "+15125550199",
        token=secrets.token_hex(8),
    )


def _send(campaign: Campaign, lead: Business, at: datetime, step: int = 1) -> Message:
    if campaign.channel == "sms":
        return send_sms(campaign, lead, at)
    return send_email(campaign, lead, at, step=step)


def _engage(rng: random.Random, campaign: Campaign, message: Message, at: datetime, now):
    """What a prospect does with a delivered message (only what happened before now)."""
    email = campaign.channel == "email"
    step = timedelta(hours=rng.uniform(0.1, 2))
    if email and rng.random() < 0.55 and at + step < now:
        at += step
        mark_opened(message, at)
    if rng.random() < 0.45 and at + step < now:
        at += step
        mark_clicked(message, at)
    if rng.random() < 0.3 and at + step < now:
        at += step
        mark_replied(message, at)
    if rng.random() < 0.2 and at + step < now:
        business_opt_out(
            business=message.business_id, channel=campaign.channel, source="generated",
            at=at + step,
        )  # fmt: skip


def _campaign(rng: random.Random, n: int, channel: str, days: float, leads, now) -> Campaign:
    start = now - timedelta(days=days)
    campaign = Campaign.objects.create(
        name=f"{channel.upper()} wave {n}",
        channel=channel,
        status=CampaignStatus.SENDING if days < 1 else CampaignStatus.COMPLETED,
        started_at=start,
        followups=[{"after_days": 1, "subject": "", "body": "Still there?"}]
        if channel == "email"
        else [],
    )
    existing = [lead for lead in leads if lead.created_at < start]
    span = min(days * 0.5, 2.0)
    for lead in rng.sample(existing, k=min(len(existing), rng.randint(5, 9))):
        at = start + timedelta(days=rng.random() * span)
        fate = rng.choices(
            ("queued", "failed", "sent", "delivered", "bounced"),
            (1, 1, 2, 6, 1 if channel == "email" else 0),
        )[0]
        if fate == "queued":
            _queued(campaign, lead)
            continue
        if fate == "failed":
            message = _queued(campaign, lead)
            message_claim_for_sending(message=message)
            message_mark_send_failed(message=message, error="554 refused", at=at)
            continue
        message = _send(campaign, lead, at)
        if fate == "bounced":
            message_mark_bounced(message=message, at=at + timedelta(seconds=30), reason="5.1.1")
            business_mark_bounced(business=lead, source="generated", at=at + timedelta(seconds=30))
            continue
        if fate == "sent":
            continue
        message_mark_delivered(message=message, at=at + timedelta(seconds=20))
        _engage(rng, campaign, message, at + timedelta(seconds=20), now)
        follow_at = at + timedelta(days=1)
        if channel == "email" and follow_at < now and rng.random() < 0.5:
            follow = _send(campaign, lead, follow_at, step=2)
            message_mark_delivered(message=follow, at=follow_at + timedelta(seconds=20))
            _engage(rng, campaign, follow, follow_at + timedelta(seconds=20), now)
    return campaign


def _buy(settings, rng: random.Random, lead: Business, currency: str, *, pay: bool = True):
    settings.PRICE_CURRENCY = currency
    settings.SETUP_FEE_CENTS, settings.MONTHLY_PRICE_CENTS = PRICES[currency]
    site = Site.objects.create(business=lead, slug=f"site-{lead.slug}", html="<p>x</p>")
    checkout, _ = checkout_create(site=site, success_url="/ok/", cancel_url="/no/")
    if not pay:
        return None
    backend = SandboxBackend()
    backend.pay(checkout)
    subscription = Subscription.objects.get(checkout=checkout)
    for n in range(rng.randint(0, 2)):
        backend.renew(subscription, at=timezone.now() + timedelta(seconds=n + 1))
    return checkout


def generate_world(settings, *, seed: int, leads: int = 32) -> GeneratedWorld:
    settings.RECURRENTE_PUBLIC_KEY = settings.RECURRENTE_SECRET_KEY = ""
    rng = random.Random(seed)
    now = timezone.now()
    people = _leads(rng, now, leads)
    campaigns = [
        _campaign(rng, n, channel, days, people, now)
        for n, (channel, days) in enumerate(CAMPAIGNS, 1)
    ]
    # Purchases: engaged leads, credited by the real attribution when the checkout is made.
    engaged = list(
        Business.objects.filter(
            messages__direction=Direction.OUTBOUND, messages__clicked_at__isnull=False
        )
        .exclude(contact_status__in=("unsubscribed", "bounced"))
        .distinct()
        .order_by("pk")
    )
    purchases = 0
    for n, lead in enumerate(rng.sample(engaged, k=min(len(engaged), 5))):
        _buy(settings, rng, lead, ("USD", "GTQ")[n % 2])
        purchases += 1
    never_contacted = [p for p in people if not p.messages.exists()]
    if never_contacted:
        _buy(settings, rng, never_contacted[0], "GTQ")  # a purchase with no campaign
        purchases += 1
    if len(never_contacted) > 1:
        _buy(settings, rng, never_contacted[1], "USD", pay=False)  # a checkout left open
    settings.PRICE_CURRENCY = "USD"
    assert Checkout.objects.filter(status="paid").count() == purchases
    return GeneratedWorld(now=now, leads=people, campaigns=campaigns, purchases=purchases)
