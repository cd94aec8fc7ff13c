"""The world being built: the settings it reads once, the tables it writes, the demo staff,
the campaigns every pitch belongs to, the orphan site, and the loop that simulates the leads
chunk by chunk."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection

from billing.models import Checkout, Customer, Payment, Subscription
from campaigns import services as campaign_services
from campaigns.models import Campaign, Channel, Message, Suppression
from campaigns.suppression import suppression_value
from crm.models import Business, LeadEvent
from sites.builder import preview_url
from sites.models import Site, SiteStatus
from webmagic.demo import leads
from webmagic.demo.data import (
    CHUNK,
    DAY,
    DEMO_STAFF,
    EMAIL_BODY,
    EMAIL_SUBJECT,
    FOLLOWUP,
    HOUR,
    ORPHAN_CONTENT,
    ORPHAN_PHONE_KEY,
    ORPHAN_SLUG,
    SMS_BODY,
    WORLD_DAYS,
)
from webmagic.demo.tables import Table, copy_batch, next_id

TABLE_MODELS = (
    Campaign,
    Business,
    Site,
    Message,
    Checkout,
    Customer,
    Subscription,
    Payment,
    Suppression,
    LeadEvent,
)


@dataclass
class CampaignWindow:
    """A campaign and the time its pitches were planned in."""

    campaign: Campaign  # as written (unsaved here): its step templates render the messages
    start: datetime
    end: datetime  # pitches due before this belong to this campaign
    running: bool

    @property
    def pk(self) -> int:
        return self.campaign.pk

    @property
    def channel(self) -> str:
        return self.campaign.channel


class World:
    def __init__(self, *, leads: int, seed: int, now: datetime, log: Callable[[str], None]):
        self.total = leads
        self.rng = random.Random(seed)
        self.now = now
        self.log = log
        self.qualified_score = settings.QUALIFIED_SCORE
        self.setup_cents = settings.SETUP_FEE_CENTS
        self.monthly_cents = settings.MONTHLY_PRICE_CENTS
        self.senders = {
            Channel.EMAIL: settings.DEFAULT_FROM_EMAIL,
            Channel.SMS: settings.TWILIO_FROM_NUMBER or "+15125550100",
        }
        self.tables = {model: Table(model, next_id(model)) for model in TABLE_MODELS}
        self.slugs: set[str] = set(Site.objects.values_list("slug", flat=True)) | {ORPHAN_SLUG}
        self.phones: set[int] = {ORPHAN_PHONE_KEY}
        self.owners: list[int] = []
        self.campaigns: list[CampaignWindow] = []
        self.purchases = 0

    # --- what every part uses --------------------------------------------------------------

    def hex(self, bits: int = 64) -> str:
        return leads.hex_id(self.rng, bits)

    def token(self) -> str:
        return self.hex(128)

    def provider_message_id(self, channel: str, *, inbound: bool = False) -> str:
        if channel == Channel.SMS:
            return f"SM{self.hex(128)}"
        if inbound:
            return f"inbound-{self.hex(96)}"
        return f"0100018{self.hex(36)}-{self.hex(32)}-000000"

    def sender_for(self, channel: str) -> str:
        return self.senders[channel]

    def phone(self, area_codes: tuple[int, ...]) -> str:
        """A phone number no other lead has, as scrapes write them: (512) 555-0147."""
        rng = self.rng
        while True:
            area = area_codes[int(rng.random() * len(area_codes))]
            exchange = 555 if rng.random() < 0.6 else 201 + int(rng.random() * 789)
            line = 100 + int(rng.random() * 9900)
            key = area * 10**7 + exchange * 10**4 + line
            if key not in self.phones and exchange not in (911, 411):
                self.phones.add(key)
                return f"({area}) {exchange}-{line:04d}"

    def suppress(self, kind: str, value: str, reason: str, source: str, at: datetime) -> None:
        """A Suppression row, its value as campaigns.suppression stores it."""
        self.tables[Suppression].add(
            kind=kind, value=suppression_value(kind, value), reason=reason, source=source, at=at
        )

    def campaign_for(self, channel: str, at: datetime) -> CampaignWindow | None:
        for window in self.campaigns:
            if window.channel == channel and window.start <= at < window.end:
                return window
        return None

    # --- before the leads ------------------------------------------------------------------

    def staff(self) -> None:
        """The demo staff (no usable password), created when missing; sales own leads."""
        user_model = get_user_model()
        for username, first, last, group in DEMO_STAFF:
            user, created = user_model.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@webmagic.example",
                    "is_staff": True,
                },
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            user.groups.add(Group.objects.get_or_create(name=group)[0])
            if group == "sales":
                self.owners.append(user.pk)

    def plan_campaigns(self) -> None:
        """Email waves every 12 days (the last one still sending) and three SMS pilots."""
        for window in (*self._email_waves(), *self._sms_pilots()):
            fields = {f.attname: getattr(window.campaign, f.attname) for f in _campaign_fields()}
            self.tables[Campaign].put(window.pk, fields)
            self.campaigns.append(window)
        self.tables[Campaign].flush()

    def _campaign(self, n: int, start: datetime, **fields) -> Campaign:
        """A campaign started at `start` (campaign_start's rule gives its status)."""
        return Campaign(
            pk=self.tables[Campaign].reserve(),
            status=campaign_services.campaign_start_status(start_at=start, now=start),
            scheduled_at=start,
            started_at=start,
            created_by_id=self.owners[n % len(self.owners)],
            **fields,
        )

    def _email_waves(self) -> list[CampaignWindow]:
        now, windows = self.now, []
        end = now - 8 * DAY
        while end > now - (WORLD_DAYS + 12) * DAY:
            windows.append((end - 12 * DAY, end))
            end -= 12 * DAY
        windows.reverse()
        windows.append((now - 8 * DAY, now + 4 * DAY))
        focus = ("trades", "restaurants", "salons & clinics", "home services", "all categories")
        waves = []
        for n, (start, end) in enumerate(windows, 1):
            campaign = self._campaign(
                n,
                start,
                name=f"Wave {n} — free preview sites ({focus[n % len(focus)]})",
                channel=Channel.EMAIL,
                audience_query=f"min_score={self.qualified_score}&has_email=yes"
                f"&website_status=generated&created_before={end.date().isoformat()}",
                subject_template=EMAIL_SUBJECT,
                body_template=EMAIL_BODY,
                followups=[FOLLOWUP],
                send_rate_per_minute=30,
                daily_cap=1000,
                created_at=start - 2 * HOUR,
            )
            waves.append(CampaignWindow(campaign, start, end, running=end > now))
        return waves

    def _sms_pilots(self) -> list[CampaignWindow]:
        pilots = []
        labels = ("SMS pilot — Texas trades", "SMS — restaurants", "SMS — all")
        for n, label in enumerate(labels, 1):
            start = self.now - (WORLD_DAYS + 10) * DAY + (n - 1) * 42 * DAY
            end = min(start + 42 * DAY, self.now - 3 * DAY)
            campaign = self._campaign(
                n,
                start,
                name=label,
                channel=Channel.SMS,
                audience_query=f"min_score={self.qualified_score}&has_phone=yes",
                body_template=SMS_BODY,
                send_rate_per_minute=10,
                daily_cap=300,
                created_at=start - HOUR,
            )
            pilots.append(CampaignWindow(campaign, start, end, running=False))
        return pilots

    def orphan_site(self) -> None:
        """The site whose lead was lost: link_orphan_sites repairs it."""
        at = self.now - 200 * DAY
        self.tables[Site].add(
            slug=ORPHAN_SLUG,
            business_id=None,
            status=SiteStatus.PREVIEW,
            status_changed_at=at,
            template="plumber",
            content=ORPHAN_CONTENT,
            html="",
            preview_url=preview_url(ORPHAN_SLUG),
            created_at=at,
            updated_at=at,
        )

    # --- the leads -------------------------------------------------------------------------

    def build(self) -> None:
        """Simulate the leads chunk by chunk. On PostgreSQL one writer thread COPYs a chunk
        while the next one is generated (the server's work overlaps ours); the main thread
        does not touch the connection meanwhile, and waits for the writer before it hands
        over the next chunk, so at most two chunks are in memory and an error in either
        thread ends the build (the caller's transaction rolls everything back)."""
        postgres = connection.vendor == "postgresql"
        if postgres:
            connection.ensure_connection()
        writer = ThreadPoolExecutor(max_workers=1) if postgres else None
        pending, done, started = None, 0, time.monotonic()
        try:
            while done < self.total:
                n = min(CHUNK, self.total - done)
                for _ in range(n):
                    leads.lead(self)
                if writer is None:
                    for table in self.tables.values():
                        table.flush()
                else:
                    batch = [(table, table.take()) for table in self.tables.values()]
                    if pending is not None:
                        pending.result()
                    pending = writer.submit(copy_batch, connection.connection, batch)
                done += n
                if self.total >= 50_000:
                    self.log(
                        f"  {done:,} / {self.total:,} leads ({time.monotonic() - started:.0f}s)"
                    )
            if pending is not None:
                pending.result()
        finally:
            if writer is not None:
                writer.shutdown(wait=True)

    # --- after the leads -------------------------------------------------------------------

    def complete_campaigns(self) -> None:
        """The dispatcher's own check (campaign_complete_if_done) completes every campaign
        whose window has passed, on the day it would have found it done."""
        for window in self.campaigns:
            if not window.running:
                done_at = window.end + (4 * DAY if window.channel == Channel.EMAIL else DAY)
                campaign_services.campaign_complete_if_done(campaign=window.pk, now=done_at)


def _campaign_fields():
    return [f for f in Campaign._meta.concrete_fields if not f.primary_key]
