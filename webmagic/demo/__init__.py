"""The demo world behind `seed_demo`: leads, sites, campaigns, messages and purchases.

The world is a snapshot, not a replay: rows are written in bulk (COPY on PostgreSQL,
bulk_create elsewhere), but everything on them comes from the product's own code. Each lead
is simulated on its own:

    scraped (created_at) → business_fields (the one score, the normalised keys) → maybe a
    preview site (site_content) → maybe pitched by one campaign (email, or SMS with consent;
    rendered by campaigns.sending) → provider events (delivered / opened / clicked /
    bounced / failed) → reply, opt-out, checkout, payment

Its statuses, and its messages', checkouts', payments' and site's, are what the lifecycles'
own rules make of those events in time order (crm.lifecycle.advance_moves / website_moves,
campaigns.lifecycle.message_status_after, billing.lifecycle.checkout_status_after /
payment_moves, sites.lifecycle.site_status_after); campaigns are completed by the
dispatcher's own check. The timeline gets the lines the lifecycle and the services write.

Deterministic: the same --seed and the same anchor time (`now`) give the same rows, ids
included (ids are assigned here, starting after the highest existing id).

    data       the fixed data: trades, cities, names, the funnel's odds, templates
    world      settings, tables, staff, campaigns, the orphan site, the build loop
    leads      one lead from its scrape to its row
    story      one lead's timeline and statuses
    sites      preview sites
    outreach   messages, provider events, replies, opt-outs
    purchases  checkouts, payments, subscriptions
    tables     bulk writing
    build      demo_build / demo_reset / demo_counts
"""

from webmagic.demo.build import (
    BULK_LOAD_FROM,
    WORLD_MODELS,
    demo_build,
    demo_counts,
    demo_reset,
    demo_world_exists,
)
from webmagic.demo.data import ORPHAN_CONTENT, ORPHAN_SLUG

__all__ = [
    "BULK_LOAD_FROM",
    "ORPHAN_CONTENT",
    "ORPHAN_SLUG",
    "WORLD_MODELS",
    "demo_build",
    "demo_counts",
    "demo_reset",
    "demo_world_exists",
]
