"""Reads about sites shared by the builder, the preview pages and other apps' pages."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from crm.models import Business
from sites.models import Site, SiteStatus


def site_current_qs() -> QuerySet[Site]:
    """Sites that stand for their lead: every status but archived."""
    return Site.objects.exclude(status=SiteStatus.ARCHIVED)


def site_for_business(business: Business | int) -> Site | None:
    """The lead's current site (the newest that is not archived), or None."""
    pk = business.pk if isinstance(business, Business) else int(business)
    return site_current_qs().filter(business_id=pk).order_by("-created_at", "-pk").first()


def businesses_without_site(qs: QuerySet[Business]) -> QuerySet[Business]:
    """The leads of `qs` that have no current site (an archived one does not count)."""
    return qs.filter(~Exists(site_current_qs().filter(business_id=OuterRef("pk"))))
