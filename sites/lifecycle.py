"""Site status rules: the only code that changes Site.status and its subscription fields.

preview → active (purchased) → suspended / cancelled (subscription ended); archived by staff.
Each function is one conditional UPDATE (race-free) and returns whether anything changed.
The lead's website_status is the crm lifecycle's business; callers move both.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from sites.models import Site, SiteStatus, SubscriptionStatus


def _pk(site: Site | int) -> int:
    return site.pk if isinstance(site, Site) else int(site)


# event → the status it moves a site to, and the statuses that stay as they are.
SITE_MOVES: dict[str, tuple[str, tuple[str, ...]]] = {
    "activate": (SiteStatus.ACTIVE, (SiteStatus.ACTIVE,)),
    "archive": (SiteStatus.ARCHIVED, (SiteStatus.ARCHIVED,)),
}


def site_status_after(event: str, current: str) -> str:
    """The status a site at `current` has after `event` (the rule the functions below apply)."""
    to, stays = SITE_MOVES[event]
    return current if current in stays else to


def site_activate(*, site: Site | int, at: datetime | None = None) -> bool:
    """A payment completed: the site goes live (from preview, suspended or cancelled)."""
    at = at or timezone.now()
    pk = _pk(site)
    Site.objects.filter(pk=pk, purchased_at__isnull=True).update(purchased_at=at)
    to, stays = SITE_MOVES["activate"]
    return bool(
        Site.objects.filter(pk=pk)
        .exclude(status__in=stays)
        .update(status=to, status_changed_at=at, updated_at=timezone.now())
    )


def site_set_subscription_status(
    *,
    site: Site | int,
    status: str,
    at: datetime | None = None,
    ends_at: datetime | None = None,
) -> bool:
    """Follow the subscription (active, past_due, paused, cancelled). A cancelled
    subscription takes the site down to CANCELLED_SITE_STATUS (suspended or cancelled)."""
    if status not in SubscriptionStatus.values or not status:
        raise ValueError(f"unknown subscription status {status!r}")
    at = at or timezone.now()
    pk = _pk(site)
    fields: dict = {"subscription_status": status, "updated_at": timezone.now()}
    if status == SubscriptionStatus.CANCELLED:
        fields["subscription_ends_at"] = ends_at or at
    changed = bool(Site.objects.filter(pk=pk).exclude(subscription_status=status).update(**fields))
    Site.objects.filter(pk=pk, subscription_started_at__isnull=True).exclude(
        subscription_status=SubscriptionStatus.CANCELLED
    ).update(subscription_started_at=at)
    if status == SubscriptionStatus.CANCELLED:
        down = settings.CANCELLED_SITE_STATUS
        changed |= bool(
            Site.objects.filter(pk=pk, status=SiteStatus.ACTIVE).update(
                status=down, status_changed_at=at
            )
        )
    elif status == SubscriptionStatus.ACTIVE:
        changed |= bool(
            Site.objects.filter(
                pk=pk, status__in=[SiteStatus.SUSPENDED, SiteStatus.CANCELLED]
            ).update(status=SiteStatus.ACTIVE, status_changed_at=at)
        )
    return changed


def site_archive(*, site: Site | int) -> bool:
    now = timezone.now()
    to, stays = SITE_MOVES["archive"]
    return bool(
        Site.objects.filter(pk=_pk(site))
        .exclude(status__in=stays)
        .update(status=to, status_changed_at=now, updated_at=now)
    )


def site_record_view(*, site: Site | int, at: datetime | None = None) -> None:
    """One counted visit (callers exclude staff and bots): view_count + 1, first_viewed_at."""
    at = at or timezone.now()
    Site.objects.filter(pk=_pk(site)).update(
        view_count=F("view_count") + 1,
        first_viewed_at=_first(at),
    )


def _first(at: datetime):
    return Case(
        When(Q(first_viewed_at__isnull=True) | Q(first_viewed_at__gt=at), then=Value(at)),
        default=F("first_viewed_at"),
    )
