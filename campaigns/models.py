"""Outreach: campaigns, every message to or from a lead, and the suppression list."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class Campaign(models.Model):
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=5, choices=Channel.choices, default=Channel.EMAIL)
    # The lead FilterSet's query string, frozen when the campaign was built.
    audience_query = models.TextField(blank=True, default="")
    # An explicit selection of Business ids, when staff picked rows instead of a filter.
    audience_ids = models.JSONField(default=list, blank=True)
    subject_template = models.CharField(max_length=300, blank=True, default="")
    body_template = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    status_reason = models.CharField(max_length=300, blank=True, default="")
    scheduled_at = models.DateTimeField(null=True, blank=True)
    send_rate_per_minute = models.PositiveIntegerField(default=30)
    daily_cap = models.PositiveIntegerField(default=1000)
    # Follow-up steps: [{"after_days": 3, "subject": "…", "body": "…"}, …] (step 2, 3, …),
    # sent to leads that neither replied nor clicked.
    followups = models.JSONField(default=list, blank=True)
    # Staff chose to pitch leads inside their contact cooldown anyway (campaigns.policy):
    # who and when, shown on the campaign page.
    cooldown_overridden_at = models.DateTimeField(null=True, blank=True)
    cooldown_overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "-created_at"], name="campaign_status")]

    def __str__(self) -> str:
        return self.name


class Direction(models.TextChoices):
    OUTBOUND = "outbound", "Outbound"
    INBOUND = "inbound", "Inbound"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    # Its worker died mid-send: the provider may or may not have it. Never re-sent
    # automatically; staff may resend (campaigns.services.campaign_resend_unknown).
    UNKNOWN = "unknown", "Unknown outcome"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    BOUNCED = "bounced", "Bounced"
    CANCELLED = "cancelled", "Cancelled"
    RECEIVED = "received", "Received"


class WaitingFor(models.TextChoices):
    NOTHING = "", "Nothing"
    SITE = "site", "Its preview site"


class Message(models.Model):
    """One email or SMS to or from one business."""

    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    step = models.PositiveSmallIntegerField(default=1)
    direction = models.CharField(
        max_length=8, choices=Direction.choices, default=Direction.OUTBOUND
    )
    business = models.ForeignKey("crm.Business", on_delete=models.CASCADE, related_name="messages")
    site = models.ForeignKey(
        "sites.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    # The outbound message an inbound reply answers.
    in_reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    channel = models.CharField(max_length=5, choices=Channel.choices, default=Channel.EMAIL)
    to_address = models.CharField(max_length=254)
    from_address = models.CharField(max_length=254, blank=True, default="")
    subject = models.CharField(max_length=300, blank=True, default="")
    body = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    provider_message_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    # Random per-message token carried by tracked links (preview visits count as clicks).
    token = models.CharField(max_length=32, null=True, blank=True, unique=True)
    send_after = models.DateTimeField(null=True, blank=True)
    # A queued message that may not go yet: its pitch links a preview site being generated.
    # (A database default too: raw INSERTs of messages (bench anchors, bulk loads) need none.)
    waiting_for = models.CharField(
        max_length=10,
        choices=WaitingFor.choices,
        blank=True,
        default=WaitingFor.NOTHING,
        db_default=WaitingFor.NOTHING,
    )
    # When a worker was last handed this queued message (to send it, or to generate its
    # site). A hand-out older than MESSAGE_SENDING_TIMEOUT has lapsed (its task died or
    # was lost) and the message is handed out again.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    opened_count = models.PositiveIntegerField(default=0)
    clicked_at = models.DateTimeField(null=True, blank=True)
    clicked_count = models.PositiveIntegerField(default=0)
    replied_at = models.DateTimeField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # The last tracked-link hit that counted as a click: one per CLICK_WINDOW (a flood of
    # hits is recorded as LinkHit rows and counts once).
    click_counted_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "business", "step"],
                condition=Q(campaign__isnull=False),
                name="message_one_per_business_per_step",
            )
        ]
        indexes = [
            models.Index(fields=["business", "-created_at"], name="message_business"),
            models.Index(fields=["campaign", "status"], name="message_campaign_status"),
            models.Index(fields=["status", "send_after"], name="message_status_send_after"),
            models.Index(fields=["to_address"], name="message_to_address"),
            models.Index(
                fields=["-created_at"],
                condition=Q(direction="inbound", read_at__isnull=True),
                name="message_unread_inbound",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.direction} to {self.to_address}"


class LinkHit(models.Model):
    """One request to a message's tracked link (/c/<token>/), counted as a click or not."""

    class Reason(models.TextChoices):
        CLICK = "click", "Counted as a click"
        REPEAT = "repeat", "Repeat within the click window"
        BOT = "bot", "Bot or link checker"
        STAFF = "staff", "Staff user"
        HEAD = "head", "HEAD request"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="link_hits")
    at = models.DateTimeField(default=timezone.now)
    counted = models.BooleanField(default=False)
    reason = models.CharField(max_length=10, choices=Reason.choices)
    user_agent = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["message", "-at"], name="linkhit_message")]

    def __str__(self) -> str:
        return f"hit on message {self.message_id} at {self.at:%Y-%m-%d %H:%M:%S}"


class SuppressionKind(models.TextChoices):
    EMAIL = "email", "Email address"
    PHONE = "phone", "Phone number"
    DOMAIN = "domain", "Email domain"


class Suppression(models.Model):
    """The global do-not-contact list. Outlives the lead it came from."""

    kind = models.CharField(max_length=6, choices=SuppressionKind.choices)
    value = models.CharField(max_length=254)
    reason = models.CharField(max_length=40)
    source = models.CharField(max_length=40, blank=True, default="")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="suppression_kind_value")
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"
