"""Building, counting and deleting the demo world: one transaction per build."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from billing.models import Checkout, Customer, Payment, Subscription
from campaigns.models import Campaign, Message, Suppression
from crm.models import Business, ImportBatch, ImportRecord, LeadEvent, ProviderEvent
from crm.sidebar import sidebar_forget
from crm.tallies import tally_rebuild
from sites.models import Site
from webmagic import sql
from webmagic.demo.world import World

# Every table of the world, children first (the order deletes go in).
WORLD_MODELS = (
    Payment,
    Subscription,
    Customer,
    Checkout,
    LeadEvent,
    Message,
    Campaign,
    Suppression,
    Site,
    ProviderEvent,
    ImportRecord,
    ImportBatch,
    Business,
)
BULK_LOAD_FROM = 10_000  # leads; below this a plain load is as fast


def demo_world_exists() -> bool:
    """Whether the database already holds a world (leads, sites or campaigns)."""
    return Business.objects.exists() or Site.objects.exists() or Campaign.objects.exists()


def demo_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in reversed(WORLD_MODELS)}


def demo_reset() -> None:
    """Delete the whole CRM world (user accounts stay). TRUNCATE on PostgreSQL."""
    if connection.vendor == "postgresql":
        sql.demo_truncate(WORLD_MODELS)
        return
    for model in WORLD_MODELS:
        model.objects.all().delete()


def demo_build(
    *,
    leads: int,
    seed: int = 1,
    now: datetime | None = None,
    reset: bool = False,
    log: Callable[[str], None] = lambda line: None,
) -> dict[str, int]:
    """Build the demo world in one transaction. Returns the row counts per model.

    Raises ValueError for a bad lead count. On a database that already has a world,
    pass reset=True (the caller decides; `seed_demo` refuses without --reset)."""
    if leads < 0:
        raise ValueError("--leads must be 0 or more")
    now = (now or timezone.now()).replace(microsecond=0)
    started = time.monotonic()

    def phase(what: str) -> None:
        log(f"  {what} ({time.monotonic() - started:.0f}s)")

    with transaction.atomic():
        if reset:
            demo_reset()
            phase("old world deleted")
        world = World(leads=leads, seed=seed, now=now, log=log)
        world.staff()
        world.plan_campaigns()
        world.orphan_site()
        _load(world, bulk=connection.vendor == "postgresql" and leads >= BULK_LOAD_FROM)
        phase("rows written, indexes in place")
        world.complete_campaigns()
        # The maintained lead counts (crm.tallies) are fed by triggers that a bulk load
        # skips (and TRUNCATE empties): recount them from the rows just written.
        tally_rebuild()
        if connection.vendor == "postgresql":
            sql.demo_sequences_and_statistics(list(world.tables))
        sidebar_forget()  # new staff and campaigns for the lead page's menus
        phase("campaigns completed, counts recounted, statistics updated; committing")
    return demo_counts()


def _load(world: World, *, bulk: bool) -> None:
    """Every lead's rows, on PostgreSQL from 10,000 leads without secondary indexes."""
    with sql.demo_bulk_load(list(world.tables)) if bulk else nullcontext():
        world.build()
        for table in world.tables.values():
            table.flush()
