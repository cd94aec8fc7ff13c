"""A small world for the page-by-page browser tests: the analytics world (leads, two email
campaigns, opens, clicks, a reply, purchases in USD and GTQ) plus unread replies, an
unmatched provider event in the inbox and an API token, every row through the services and
lifecycles."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from campaigns.models import Channel, Message
from campaigns.replies import reply_record
from crm import inbox
from crm.models import ProviderEvent
from crm.tallies import tally_rebuild
from crm.tokens import token_create
from tests.analytics_world import World, build_world
from tests.samples import PROVIDER_SAMPLES


@dataclass
class PageWorld:
    world: World
    replies: list[Message]
    unmatched: ProviderEvent


def build_page_world(settings, *, token_user=None) -> PageWorld:
    world = build_world(settings)
    leads, sent = world.leads, world.messages
    replies = [
        reply_record(
            business=leads["C"],
            channel=Channel.EMAIL,
            body="How much would a site like that cost for a small dental office? "
            "We have two locations and would like online booking.",
            at=world.now,
            provider_message_id="email:<reply-c@example.com>",
            from_address=leads["C"].email,
            subject="Re: Your new website",
            in_reply_to=sent["C"],
        ),
        reply_record(
            business=leads["B"],
            channel=Channel.EMAIL,
            body="Not now, thanks.",
            at=world.now,
            provider_message_id="email:<reply-b@example.com>",
            from_address=leads["B"].email,
            subject="Re: Your new website",
            in_reply_to=sent["B"],
        ),
    ]
    params = dict(
        parse_qsl((PROVIDER_SAMPLES / "twilio_inbound_sms.txt").read_text(), keep_blank_values=True)
    )
    params["From"] = "+15125550999"  # no lead has this number: unmatched
    unmatched, _ = inbox.record_and_process(
        "twilio", params["MessageSid"], "inbound", {"kind": "inbound", **params}
    )
    if token_user is not None:
        token_create(user=token_user, name="reporting script", created_by=token_user)
    # On SQLite the previous transactional test's flush deleted its leads after their
    # tallies, and the delete triggers left negative deltas behind (PostgreSQL truncates,
    # firing no row trigger): recount, as after any load that bypassed the triggers.
    tally_rebuild()
    return PageWorld(world=world, replies=replies, unmatched=unmatched)
