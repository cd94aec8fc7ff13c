"""A small hand-built world for the analytics tests, reached through the lifecycle and
services (messages sent and opened the way the webhooks apply them; purchases through the
sandbox payments backend and the real webhook path).

    lead  category  city             score  contact           then
    A     Plumber   Austin, TX       80     C1, t0 (20d ago)  opened, clicked, replied, bought (USD)
    B     Plumber   Austin, TX       60     C1, t0            opened, then unsubscribed
    C     Dentist   Dallas, TX       30     C1, t0            nothing
    D     Dentist   Dallas, TX       90     C2, t1 (6d ago)   clicked, bought (USD)
    E     Plumber   Austin, TX       10     never             —
    F     Roofer    Springfield, IL  55     never             bought without a campaign (GTQ)
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from billing.backends import SandboxBackend
from billing.services import checkout_create
from campaigns.lifecycle import (
    message_claim_for_sending,
    message_mark_clicked,
    message_mark_opened,
    message_mark_replied,
    message_mark_sent,
)
from campaigns.models import Campaign, Direction, Message
from crm.lifecycle import (
    business_advance,
    business_advance_website,
    business_opt_out,
    business_record_contact,
)
from crm.models import Business
from crm.services import business_create
from sites.models import Site

USD_SALE = 40000 + 9700  # setup fee + first month
GTQ_SALE = 10000


@dataclass
class World:
    now: datetime
    t0: datetime
    t1: datetime
    leads: dict[str, Business]
    c1: Campaign
    c2: Campaign
    messages: dict[str, Message]


def _lead(name, category, city, state, score):
    business = business_create(
        data={
            "name": name,
            "email": f"{name.lower()}@example.com",
            "phone": "",
            "city": city,
            "state": state,
            "category": category,
        },
        source="test",
    )
    # The score is an input (the scorer's output), not a lifecycle status.
    Business.objects.filter(pk=business.pk).update(qualification_score=score)
    return business


def send_email(campaign, business, at, *, step: int = 1):
    message = Message.objects.create(
        campaign=campaign,
        step=step,
        business=business,
        direction=Direction.OUTBOUND,
        channel="email",
        to_address=business.email,
        subject="Your new website",
        body="Hi",
        token=secrets.token_hex(8),
    )
    assert message_claim_for_sending(message=message)
    assert message_mark_sent(message=message, provider_message_id=f"ses-{message.pk}", at=at)
    business_record_contact(
        business=business, channel="email", source="provider", at=at, message=message
    )
    return message


def mark_opened(message, at):
    message_mark_opened(message=message, at=at)
    business_advance(business=message.business_id, to="opened", source="provider", at=at)


def mark_clicked(message, at):
    message_mark_clicked(message=message, at=at)
    business_advance(business=message.business_id, to="clicked", source="provider", at=at)


def mark_replied(message, at):
    message_mark_replied(message=message, at=at)
    business_advance(business=message.business_id, to="replied", source="provider", at=at)


def _site(business):
    site = Site.objects.create(
        business=business, slug=f"site-{business.slug}", html="<html><body>x</body></html>"
    )
    business_advance_website(business=business, to="generated", source="system")
    return site


def _buy(site, message=None):
    checkout, _ = checkout_create(
        site=site, success_url="/done/", cancel_url="/cancel/", message=message
    )
    SandboxBackend().pay(checkout)


def build_world(settings) -> World:
    settings.SETUP_FEE_CENTS = 40000
    settings.MONTHLY_PRICE_CENTS = 9700
    settings.PRICE_CURRENCY = "USD"
    settings.RECURRENTE_PUBLIC_KEY = ""
    settings.RECURRENTE_SECRET_KEY = ""
    now = timezone.now()
    t0, t1 = now - timedelta(days=20), now - timedelta(days=6)
    leads = {
        "A": _lead("Alpha", "Plumber", "Austin", "TX", 80),
        "B": _lead("Bravo", "Plumber", "Austin", "TX", 60),
        "C": _lead("Charlie", "Dentist", "Dallas", "TX", 30),
        "D": _lead("Delta", "Dentist", "Dallas", "TX", 90),
        "E": _lead("Echo", "Plumber", "Austin", "TX", 10),
        "F": _lead("Foxtrot", "Roofer", "Springfield", "IL", 55),
    }
    # Campaigns sent by hand below; started when their first message went out.
    c1 = Campaign.objects.create(name="Spring plumbers", channel="email", started_at=t0)
    c2 = Campaign.objects.create(name="Dentists", channel="email", started_at=t1)
    m = {
        "A": send_email(c1, leads["A"], t0),
        "B": send_email(c1, leads["B"], t0),
        "C": send_email(c1, leads["C"], t0),
        "D": send_email(c2, leads["D"], t1),
    }
    mark_opened(m["A"], t0 + timedelta(hours=1))
    mark_clicked(m["A"], t0 + timedelta(hours=2))
    mark_replied(m["A"], t0 + timedelta(hours=3))
    mark_opened(m["B"], t0 + timedelta(hours=1))
    business_opt_out(
        business=leads["B"], channel="email", source="public", at=t0 + timedelta(days=1)
    )
    mark_clicked(m["D"], t1 + timedelta(hours=1))
    sites = {k: _site(leads[k]) for k in ("A", "B", "D", "F")}
    _buy(sites["A"], m["A"])
    _buy(sites["D"], m["D"])
    settings.PRICE_CURRENCY = "GTQ"
    settings.SETUP_FEE_CENTS = 0
    settings.MONTHLY_PRICE_CENTS = GTQ_SALE
    _buy(sites["F"])
    settings.PRICE_CURRENCY = "USD"
    for k in leads:
        leads[k].refresh_from_db()
    return World(now=now, t0=t0, t1=t1, leads=leads, c1=c1, c2=c2, messages=m)


def send_sms(campaign, business, at, *, clicked: bool = False):
    """A text of `campaign` to `business` sent at `at` (and its link clicked an hour later)."""
    message = Message.objects.create(
        campaign=campaign,
        business=business,
        direction=Direction.OUTBOUND,
        channel="sms",
        to_address="+15125550199",
        body="Your new website",
        token=secrets.token_hex(8),
    )
    assert message_claim_for_sending(message=message)
    assert message_mark_sent(message=message, provider_message_id=f"SM{message.pk}", at=at)
    business_record_contact(
        business=business, channel="sms", source="provider", at=at, message=message
    )
    if clicked:
        mark_clicked(message, at + timedelta(hours=1))
    return message


def monday(at: datetime):
    day = at.date()
    return day - timedelta(days=day.weekday())
