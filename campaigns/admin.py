from django.contrib import admin

from campaigns.models import Campaign, LinkHit, Message, Suppression
from crm.admin import SidebarListed


@admin.register(Campaign)
class CampaignAdmin(SidebarListed, admin.ModelAdmin):  # campaign names: a lead-page filter
    list_display = ("name", "channel", "status", "scheduled_at", "created_at")
    list_filter = ("status", "channel")
    readonly_fields = ("status", "status_reason", "started_at", "completed_at")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("business", "campaign", "step", "channel", "direction", "status", "sent_at")
    list_filter = ("status", "channel", "direction")
    raw_id_fields = ("business", "campaign", "site", "in_reply_to")
    readonly_fields = ("status",)
    show_full_result_count = False


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ("kind", "value", "reason", "source", "at")
    list_filter = ("kind", "reason")
    search_fields = ("value",)


@admin.register(LinkHit)
class LinkHitAdmin(admin.ModelAdmin):
    list_display = ("message", "at", "counted", "reason", "user_agent")
    list_filter = ("counted", "reason")
    raw_id_fields = ("message",)
    readonly_fields = ("message", "at", "counted", "reason", "user_agent")
    show_full_result_count = False
