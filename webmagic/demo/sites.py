"""Preview sites: their content, template and URL come from the site builder's own functions
(sites.builder), their status moves from sites.lifecycle's rules. The page's HTML is left
empty: the preview view renders it from template and content (rendering 640,000 pages
would cost most of a million-lead seed)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from crm.models import Business, EventSource, LeadEventKind, WebsiteStatus
from sites.builder import preview_url, site_content, site_template_for
from sites.lifecycle import site_status_after
from sites.models import Site, SiteStatus
from webmagic.demo.data import HOUR, MINUTE, P
from webmagic.demo.story import LeadStory

WS = WebsiteStatus


def preview_site(
    world, story: LeadStory, business: Business, created: datetime, *, qualified: bool
) -> dict[str, Any] | None:
    """Maybe a preview site for the lead (most qualified leads get one), as generate_site
    leaves it: status preview, the lead at `generated`."""
    rng = world.rng
    if rng.random() >= (P["site_if_qualified"] if qualified else P["site_if_not"]):
        return None
    at = created + HOUR + timedelta(seconds=rng.random() * 4 * 86400)
    if at >= world.now - 10 * MINUTE:
        return None
    site_id = world.tables[Site].reserve()
    content = site_content(business)
    template = site_template_for(str(content.get("category") or ""))
    url = preview_url(business.slug)
    story.website(at - timedelta(seconds=20), WS.GENERATING, site_id)
    story.website(at, WS.GENERATED, site_id)
    story.note(
        at,
        LeadEventKind.SITE_GENERATED,
        EventSource.SYSTEM,
        f"Preview site generated: {url}",
        {"slug": business.slug, "template": template, "regenerated": False},
        site_id=site_id,
    )
    return {
        "id": site_id,
        "slug": business.slug,
        "business_id": business.pk,
        "status": SiteStatus.PREVIEW,
        "status_changed_at": at,
        "template": template,
        "content": content,
        "html": "",
        "preview_url": url,
        "created_at": at,
        "updated_at": at,
    }


def archive(world, story: LeadStory, site: dict[str, Any], owner: int | None) -> None:
    """Staff archive a site nobody was pitched (site_archive, and the lead's `archived`)."""
    at = site["created_at"] + timedelta(days=world.rng.uniform(1, 20))
    if at >= world.now:
        return
    site.update(status=site_status_after("archive", site["status"]), status_changed_at=at)
    story.website(at, WS.ARCHIVED, site["id"], actor=owner, manual=True)


def viewed(world, story: LeadStory, site: dict[str, Any], at: datetime, **links: Any) -> None:
    """A counted visit from a tracked link (site_record_view): the first view is dated."""
    first = site.get("first_viewed_at")
    if first is None or at < first:
        site["first_viewed_at"] = at
        story.note(
            at,
            LeadEventKind.SITE_VIEWED,
            EventSource.PUBLIC,
            "Preview site viewed for the first time",
            {"slug": site["slug"], "first": True},
            site_id=site["id"],
            **links,
        )
    site["view_count"] = site.get("view_count", 0) + 1 + int(world.rng.expovariate(0.5))


def activate(site: dict[str, Any], at: datetime) -> None:
    """A purchase: the site goes live (site_activate, site_set_subscription_status)."""
    site.update(
        status=site_status_after("activate", site["status"]),
        status_changed_at=at,
        purchased_at=at,
        subscription_status="active",
        subscription_started_at=at,
    )
