"""Raw data access at /admin/db/. Status fields are read-only here: a raw edit would bypass
the lifecycle (and its timeline and signals)."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from crm.models import (
    ApiToken,
    Business,
    ImportBatch,
    ImportRecord,
    LeadDayTally,
    LeadEvent,
    LeadTally,
    ProviderEvent,
    SavedView,
)
from crm.sidebar import sidebar_forget


class SidebarListed:
    """For the admin of a model the lead page's cached lists show (crm.sidebar): every save
    or delete made here drops them."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        sidebar_forget()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        sidebar_forget()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        sidebar_forget()


admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class StaffUserAdmin(SidebarListed, UserAdmin):
    """Django's own user admin; staff users are the lead page's colleagues."""


@admin.register(Business)
class BusinessAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "city",
        "state",
        "category",
        "contact_status",
        "website_status",
        "qualification_score",
        "created_at",
    )
    list_filter = ("contact_status", "website_status", "website_kind")
    search_fields = ("name", "email", "phone", "city")
    readonly_fields = (
        "contact_status",
        "contact_status_changed_at",
        "furthest_contact_status",
        "website_status",
        "website_status_changed_at",
        "created_at",
        "updated_at",
    )
    raw_id_fields = ("owner",)
    show_full_result_count = False

    def lookup_allowed(self, lookup, value, request=None):
        # The lead table's case-insensitive place filters, so ?city__iexact=… works here too
        # (bench/lead_table.py compares this changelist with the lead table, same filter).
        if lookup in {"city__iexact", "category__iexact", "state__iexact"}:
            return True
        return super().lookup_allowed(lookup, value, request)


@admin.register(LeadEvent)
class LeadEventAdmin(admin.ModelAdmin):
    list_display = ("business", "kind", "source", "at", "actor")
    list_filter = ("kind", "source")
    raw_id_fields = ("business", "actor", "message", "site", "payment", "provider_event")
    show_full_result_count = False


@admin.register(ProviderEvent)
class ProviderEventAdmin(admin.ModelAdmin):
    list_display = ("provider", "event_type", "event_id", "status", "attempts", "received_at")
    list_filter = ("provider", "status")
    search_fields = ("event_id",)
    readonly_fields = ("status", "processed_at", "attempts", "error")
    raw_id_fields = ("business",)


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = ("file_name", "format", "created", "updated", "skipped", "started_at")


@admin.register(ImportRecord)
class ImportRecordAdmin(admin.ModelAdmin):
    list_display = ("batch", "row_number", "outcome", "reason", "business")
    list_filter = ("outcome",)
    raw_id_fields = ("batch", "business")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at")


@admin.register(SavedView)
class SavedViewAdmin(SidebarListed, admin.ModelAdmin):
    list_display = ("name", "params", "created_by", "created_at")


@admin.register(LeadTally, LeadDayTally)
class LeadTallyAdmin(admin.ModelAdmin):
    """Maintained by database triggers; shown for inspection only."""

    list_display = ("__str__",)
    list_filter = ("field",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
