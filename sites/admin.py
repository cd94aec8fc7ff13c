from django.contrib import admin
from django.db import models

from sites.models import Site


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("slug", "business", "status", "template", "view_count", "created_at")
    list_filter = ("status", "template")
    list_select_related = ("business",)
    search_fields = ("slug", "business__name")
    raw_id_fields = ("business",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    # Statuses move only through sites.lifecycle; view counters only through sites.services.
    readonly_fields = (
        "status",
        "status_changed_at",
        "subscription_status",
        "subscription_started_at",
        "subscription_ends_at",
        "purchased_at",
        "first_viewed_at",
        "view_count",
        "view_event_at",
        "claim_event_at",
    )
