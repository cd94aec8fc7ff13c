"""Generated websites: a preview per lead, made live when the lead buys."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class SiteStatus(models.TextChoices):
    PREVIEW = "preview", "Preview"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    CANCELLED = "cancelled", "Cancelled"
    ARCHIVED = "archived", "Archived"


class SubscriptionStatus(models.TextChoices):
    NONE = "", "None"
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"


class Site(models.Model):
    slug = models.SlugField(max_length=120, unique=True)
    # Nullable only for legacy orphans; `link_orphan_sites` repairs them.
    business = models.ForeignKey(
        "crm.Business", null=True, blank=True, on_delete=models.PROTECT, related_name="sites"
    )
    status = models.CharField(max_length=12, choices=SiteStatus.choices, default=SiteStatus.PREVIEW)
    status_changed_at = models.DateTimeField(default=timezone.now)
    template = models.CharField(max_length=40, default="generic")
    # The business data the page was rendered from (name, phone, address, hours, …).
    content = models.JSONField(default=dict, blank=True)
    html = models.TextField(blank=True, default="")
    preview_url = models.URLField(max_length=500, blank=True, default="")
    purchased_at = models.DateTimeField(null=True, blank=True)
    subscription_status = models.CharField(
        max_length=12,
        choices=SubscriptionStatus.choices,
        blank=True,
        default=SubscriptionStatus.NONE,
    )
    subscription_started_at = models.DateTimeField(null=True, blank=True)
    subscription_ends_at = models.DateTimeField(null=True, blank=True)
    first_viewed_at = models.DateTimeField(null=True, blank=True)
    view_count = models.PositiveIntegerField(default=0)
    # When the last "site_viewed" / "claim_clicked" timeline event was written: one per
    # window (sites.services), so a prospect reloading the page does not flood the timeline.
    view_event_at = models.DateTimeField(null=True, blank=True)
    claim_event_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["business", "-created_at"], name="site_business")]

    def __str__(self) -> str:
        return self.slug

    def get_absolute_url(self) -> str:
        return f"/p/{self.slug}/"
