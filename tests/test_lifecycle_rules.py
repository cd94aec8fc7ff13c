"""The lifecycles' rules as pure functions (what seed_demo derives its statuses with) say
exactly what the database functions do, status by status."""

import uuid

import pytest
from django.utils import timezone

from billing import lifecycle as billing
from billing.models import Checkout, CheckoutStatus
from campaigns import lifecycle as messages
from campaigns.models import Message, MessageStatus
from crm import lifecycle as crm
from crm.lifecycle import WEBSITE_RANK
from sites import lifecycle as sites
from sites.models import Site, SiteStatus

pytestmark = pytest.mark.django_db


def _message(business, status: str) -> Message:
    return Message.objects.create(
        business=business,
        channel="email",
        to_address=business.email,
        token=uuid.uuid4().hex,
        status=status,
        provider_message_id=uuid.uuid4().hex,
    )


@pytest.mark.parametrize("kind", sorted(messages.TRACK_MARKS))
def test_a_provider_mark_moves_a_message_as_its_rule_says(business, kind):
    for status in MessageStatus.values:
        message = _message(business, status)
        messages.message_track(kind=kind, message=message, at=timezone.now())
        message.refresh_from_db()
        assert message.status == messages.message_status_after(kind, status), (kind, status)


def test_the_send_steps_move_a_message_as_their_rules_say(business):
    steps = {
        "claim": lambda m: messages.message_claim_for_sending(message=m),
        "mark_sent": lambda m: messages.message_mark_sent(message=m, provider_message_id="x"),
        "send_failed": lambda m: messages.message_mark_send_failed(message=m, error="x"),
        "cancel": lambda m: messages.message_cancel(message=m, reason="x"),
    }
    for step, apply in steps.items():
        for status in MessageStatus.values:
            message = _message(business, status)
            apply(message)
            message.refresh_from_db()
            assert message.status == messages.message_status_after(step, status), (step, status)


def test_checkout_moves_follow_their_rule(business):
    site = Site.objects.create(business=business, slug="joes", html="<p>Joe</p>")
    moves = {
        CheckoutStatus.PAID: billing.checkout_mark_paid,
        CheckoutStatus.ABANDONED: billing.checkout_mark_abandoned,
    }
    for to, apply in moves.items():
        for status in CheckoutStatus.values:
            checkout = Checkout.objects.create(site=site, business=business, status=status)
            apply(checkout=checkout)
            checkout.refresh_from_db()
            assert checkout.status == billing.checkout_status_after(status, to), (to, status)


def test_site_moves_follow_their_rule(business):
    for event, apply in (("activate", sites.site_activate), ("archive", sites.site_archive)):
        for status in SiteStatus.values:
            site = Site.objects.create(business=business, slug=f"{event}-{status}", status=status)
            apply(site=site)
            site.refresh_from_db()
            assert site.status == sites.site_status_after(event, status), (event, status)


def test_website_moves_are_what_business_advance_website_does(business):
    for current in WEBSITE_RANK:
        for to in WEBSITE_RANK:
            crm.business_set_status(business=business, actor=None, website_status=current)
            moved = crm.business_advance_website(business=business, to=to, source="test")
            assert (moved is not None) == crm.website_moves(current, to), (current, to)


def test_contact_moves_are_what_business_advance_does(business):
    for current in crm.CONTACT_RANK:
        for to in crm.CONTACT_RANK:
            crm.business_set_status(business=business, actor=None, contact_status=current)
            business.refresh_from_db()
            furthest = business.furthest_contact_status
            moved = crm.business_advance(business=business, to=to, source="test")
            business.refresh_from_db()
            status_moves, furthest_moves = crm.advance_moves(current, furthest, to)
            assert (moved is not None) == status_moves, (current, to)
            assert (business.furthest_contact_status == to) == (furthest_moves or furthest == to), (
                current,
                to,
            )
