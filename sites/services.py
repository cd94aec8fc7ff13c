"""What a prospect's visit to the public pages writes: view counts and timeline events.

The timeline gets one "site_viewed" (or "claim_clicked") line per site per window, not one
per page load: the window is claimed with a conditional UPDATE, so concurrent requests
write it once.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from crm.lifecycle import lead_event_add
from crm.models import EventSource, LeadEventKind
from crm.permissions import is_staff
from sites.lifecycle import site_record_view
from sites.models import Site

VIEW_EVENT_WINDOW = timedelta(hours=24)
CLAIM_EVENT_WINDOW = timedelta(hours=1)

# User agents that are not a person looking at the page: crawlers, link unfurlers (chat
# apps and mail scanners fetch links to preview them), HTTP libraries, headless browsers.
BOT_UA = re.compile(
    r"bot|crawl|spider|slurp|preview|facebookexternalhit|embedly|vkshare|quora link|"
    r"whatsapp|telegram|skype|slack|discord|linkedin|pinterest|outlook|"
    r"curl|wget|python-requests|python-urllib|aiohttp|httpx|go-http-client|okhttp|java/|"
    r"libwww|apache-httpclient|node-fetch|axios|headless|phantomjs|puppeteer|playwright|"
    r"selenium|lighthouse|pingdom|uptime|monitor|scanner|validator|feedfetcher|proofpoint|"
    r"mimecast|barracuda",
    re.IGNORECASE,
)


def is_bot(user_agent: str) -> bool:
    """A missing user agent counts as a bot: browsers always send one."""
    return not user_agent.strip() or bool(BOT_UA.search(user_agent))


def visit_counts(request: HttpRequest) -> bool:
    """Whether this request is a prospect's visit: a GET by a non-staff, non-bot browser
    that is not a prefetch."""
    if request.method != "GET" or is_staff(request.user):
        return False
    purpose = (request.headers.get("Sec-Purpose") or request.headers.get("Purpose") or "").lower()
    if "prefetch" in purpose or "prerender" in purpose:
        return False
    return not is_bot(request.headers.get("User-Agent", ""))


def _claim_window(site: Site, field: str, window: timedelta, now: datetime) -> bool:
    return bool(
        Site.objects.filter(pk=site.pk)
        .filter(Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": now - window}))
        .update(**{field: now})
    )


def site_visit_record(*, site: Site, at: datetime | None = None) -> bool:
    """Count a prospect's view; the first view in a window also goes on the lead's timeline.
    Returns whether a timeline event was written."""
    at = at or timezone.now()
    first = site.first_viewed_at is None
    with transaction.atomic():
        site_record_view(site=site, at=at)
        if site.business_id is None or not _claim_window(
            site, "view_event_at", VIEW_EVENT_WINDOW, at
        ):
            return False
        lead_event_add(
            business=site.business_id,
            kind=LeadEventKind.SITE_VIEWED,
            source=EventSource.PUBLIC,
            summary="Preview site viewed for the first time" if first else "Preview site viewed",
            at=at,
            data={"slug": site.slug, "first": first},
            site=site,
        )
        return True


def site_claim_record(*, site: Site, at: datetime | None = None) -> bool:
    """A prospect opened "Claim this website": one timeline event per window."""
    at = at or timezone.now()
    with transaction.atomic():
        if site.business_id is None or not _claim_window(
            site, "claim_event_at", CLAIM_EVENT_WINDOW, at
        ):
            return False
        lead_event_add(
            business=site.business_id,
            kind=LeadEventKind.CLAIM_CLICKED,
            source=EventSource.PUBLIC,
            summary="Clicked “Claim this website”",
            at=at,
            data={"slug": site.slug},
            site=site,
        )
        return True
