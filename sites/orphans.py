"""Repair legacy sites that have no business (the seed's `la-plumbing-pros` case).

For each orphan: rebuild the lead's data from `site.content`, find the lead by the dedupe
order (crm.services.business_match) or create it (source "orphan_site"), link the site,
and set the lead's website_status from the site's status through the lifecycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from crm.lifecycle import business_advance_website, lead_event_add
from crm.models import Business, EventSource, LeadEventKind, WebsiteStatus
from crm.services import InvalidBusinessData, business_create, business_fields, business_match
from sites.models import Site, SiteStatus
from sites.queries import site_current_qs

ORPHAN_SOURCE = "orphan_site"

# DESIGN.md: preview → generated, active / suspended / cancelled → sold, archived → archived.
WEBSITE_STATUS_FOR_SITE = {
    SiteStatus.PREVIEW: WebsiteStatus.GENERATED,
    SiteStatus.ACTIVE: WebsiteStatus.SOLD,
    SiteStatus.SUSPENDED: WebsiteStatus.SOLD,
    SiteStatus.CANCELLED: WebsiteStatus.SOLD,
    SiteStatus.ARCHIVED: WebsiteStatus.ARCHIVED,
}


@dataclass
class OrphanOutcome:
    slug: str
    action: str  # "linked", "created" or "skipped"
    business_id: int | None = None
    business_name: str = ""
    matched_by: str = ""
    reason: str = ""


@dataclass
class OrphanSummary:
    outcomes: list[OrphanOutcome] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)


def _matched_by(fields: dict, business: Business) -> str:
    if fields.get("gmb_place_id") and fields["gmb_place_id"] == business.gmb_place_id:
        return "place id"
    if fields.get("phone_normalized") and fields["phone_normalized"] == business.phone_normalized:
        return "phone"
    if fields.get("website_domain") and fields["website_domain"] == business.website_domain:
        return "website domain"
    return "name + city"


def site_link_orphan(
    *, site: Site, actor=None, event_source: str = EventSource.COMMAND
) -> OrphanOutcome:
    """Give one orphan site its business. One transaction; skipped sites change nothing.
    `event_source` says who asked (the command, or a prospect claiming the site)."""
    content = site.content if isinstance(site.content, dict) else {}
    try:
        fields = business_fields(content)
    except InvalidBusinessData as exc:
        return OrphanOutcome(site.slug, "skipped", reason=f"content unusable: {exc}")
    with transaction.atomic():
        business = business_match(fields)
        created = business is None
        if created:
            try:
                business = business_create(
                    data=content, source=ORPHAN_SOURCE, actor=actor, event_source=event_source
                )
            except InvalidBusinessData as exc:  # e.g. a concurrent import took the place id
                transaction.set_rollback(True)
                return OrphanOutcome(site.slug, "skipped", reason=f"cannot create its lead: {exc}")
        # Conditional: a concurrent run that linked the site first wins, and we undo ours.
        if not Site.objects.filter(pk=site.pk, business__isnull=True).update(business=business):
            transaction.set_rollback(True)
            return OrphanOutcome(site.slug, "skipped", reason="already linked by another run")
        site.business = business
        matched_by = "" if created else _matched_by(fields, business)
        how = "created from the site's data" if created else f"matched by {matched_by}"
        lead_event_add(
            business=business,
            kind=LeadEventKind.SITE_LINKED,
            source=event_source,
            actor=actor,
            summary=f"Orphan site {site.slug} linked ({how})",
            data={"slug": site.slug, "created": created, "matched_by": matched_by},
            site=site,
        )
        target = WEBSITE_STATUS_FOR_SITE.get(site.status)
        if target == WebsiteStatus.ARCHIVED and (
            site_current_qs().filter(business=business).exclude(pk=site.pk).exists()
        ):
            target = None  # an archived leftover never archives a lead that has a live site
        if target is not None:
            business_advance_website(
                business=business,
                to=target,
                source=event_source,
                actor=actor,
                data={"site": site.slug, "site_status": site.status},
                site=site,
            )
    return OrphanOutcome(
        site.slug,
        "created" if created else "linked",
        business_id=business.pk,
        business_name=business.name,
        matched_by=matched_by,
    )


def site_business_ensure(*, site: Site, event_source: str = EventSource.PUBLIC) -> Site:
    """The site with its business: an orphan is linked first, exactly as link_orphan_sites
    would link it (a prospect claiming or buying it must not wait for an operator). A site
    whose content cannot make a lead stays an orphan."""
    if site.business_id is None:
        site_link_orphan(site=site, event_source=event_source)
        site = Site.objects.select_related("business").get(pk=site.pk)
    return site


def sites_link_orphans(*, slugs: list[str] | None = None, actor=None) -> OrphanSummary:
    """Link every orphan site (or those of `slugs`), oldest first."""
    summary = OrphanSummary()
    qs = Site.objects.filter(business__isnull=True).order_by("created_at", "pk")
    if slugs:
        qs = qs.filter(slug__in=slugs)
    for site in qs.iterator():
        summary.outcomes.append(site_link_orphan(site=site, actor=actor))
    return summary
