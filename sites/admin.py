from django.contrib import admin

from sites.models import Site


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("slug", "business", "status", "template", "view_count", "created_at")
    list_filter = ("status", "template")
    search_fields = ("slug",)
    raw_id_fields = ("business",)
    readonly_fields = ("status", "status_changed_at", "subscription_status", "purchased_at")
