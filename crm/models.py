"""The CRM core: the lead (Business), its timeline (LeadEvent) and the provider inbox.

Status fields are written only by `crm.lifecycle`; nothing else saves them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils import timezone


class ContactStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    EMAILED = "emailed", "Emailed"
    TEXTED = "texted", "Texted"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Clicked"
    REPLIED = "replied", "Replied"
    INTERESTED = "interested", "Interested"
    PURCHASED = "purchased", "Purchased"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Bounced"


class WebsiteStatus(models.TextChoices):
    NONE = "none", "None"
    GENERATING = "generating", "Generating"
    GENERATED = "generated", "Generated"
    DEPLOYED = "deployed", "Deployed"
    SOLD = "sold", "Sold"
    ARCHIVED = "archived", "Archived"


class WebsiteKind(models.TextChoices):
    """What the scraped `website` value really is (see crm/scoring.py for the domain lists)."""

    OWN = "own", "Own website"
    DIRECTORY = "directory", "Directory listing"
    SOCIAL = "social", "Social profile"
    BOOKING = "booking", "Booking page"
    NONE = "none", "No website"


class EventSource(models.TextChoices):
    PROVIDER = "provider", "Provider"
    WEBHOOK = "webhook", "Webhook"
    MANUAL = "manual", "Manual"
    COMMAND = "command", "Command"
    SYSTEM = "system", "System"
    API = "api", "API"
    PUBLIC = "public", "Public page"


class BusinessQuerySet(models.QuerySet):
    def contactable_by_email(self):
        return self.exclude(email="").filter(
            email_opt_out_at__isnull=True,
            email_bounced_at__isnull=True,
            do_not_contact_at__isnull=True,
        )

    def contactable_by_sms(self):
        return self.exclude(phone="").filter(
            sms_opt_out_at__isnull=True,
            sms_consent_at__isnull=False,
            do_not_contact_at__isnull=True,
        )


class Business(models.Model):
    name = models.CharField(max_length=255)
    slug = models.SlugField(max_length=120, unique=True)
    email = models.EmailField(max_length=254, blank=True, default="")
    # Derived by the database. A column (not `email = ''` in each query) so that PostgreSQL
    # keeps statistics on it together with the statuses (migration 0018): it knows that no
    # lead without an email has opened one.
    has_email = models.GeneratedField(
        expression=~Q(email=""), output_field=models.BooleanField(), db_persist=True
    )
    phone = models.CharField(max_length=40, blank=True, default="")
    # E.164-ish digits used for dedupe and suppression ("+15125550100").
    phone_normalized = models.CharField(max_length=20, blank=True, default="", db_index=True)
    website = models.URLField(max_length=500, blank=True, default="")
    # Registrable host of `website` ("joesplumbing.com"), used for dedupe.
    website_domain = models.CharField(max_length=255, blank=True, default="", db_index=True)
    website_kind = models.CharField(
        max_length=12, choices=WebsiteKind.choices, default=WebsiteKind.NONE
    )
    address = models.CharField(max_length=500, blank=True, default="")
    city = models.CharField(max_length=120, blank=True, default="")
    state = models.CharField(max_length=80, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="US")
    postal_code = models.CharField(max_length=20, blank=True, default="")
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    category = models.CharField(max_length=120, blank=True, default="")
    rating = models.DecimalField(max_digits=2, decimal_places=1, null=True, blank=True)
    review_count = models.PositiveIntegerField(default=0)
    photo_count = models.PositiveIntegerField(default=0)
    # Reviews in the last 90 days when the source reports it (scoring factor).
    recent_review_count = models.PositiveIntegerField(null=True, blank=True)
    hours = models.JSONField(default=dict, blank=True)
    services = models.JSONField(default=list, blank=True)
    gmb_place_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    # lower(name)|lower(city): the last dedupe key when nothing better matches.
    name_city_key = models.CharField(max_length=400, blank=True, default="", db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_leads",
    )
    source = models.CharField(max_length=40, blank=True, default="")
    qualification_score = models.PositiveSmallIntegerField(default=0)
    score_breakdown = models.JSONField(default=dict, blank=True)
    contact_status = models.CharField(
        max_length=20, choices=ContactStatus.choices, default=ContactStatus.PENDING
    )
    contact_status_changed_at = models.DateTimeField(default=timezone.now)
    furthest_contact_status = models.CharField(
        max_length=20, choices=ContactStatus.choices, default=ContactStatus.PENDING
    )
    website_status = models.CharField(
        max_length=20, choices=WebsiteStatus.choices, default=WebsiteStatus.NONE
    )
    website_status_changed_at = models.DateTimeField(default=timezone.now)
    last_contacted_at = models.DateTimeField(null=True, blank=True)
    email_opt_out_at = models.DateTimeField(null=True, blank=True)
    sms_opt_out_at = models.DateTimeField(null=True, blank=True)
    sms_consent_at = models.DateTimeField(null=True, blank=True)
    email_bounced_at = models.DateTimeField(null=True, blank=True)
    do_not_contact_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "businesses"
        # The sales role (crm.permissions): granted to the `sales` group by migration.
        permissions = [("edit_leads", "Can edit leads and run campaigns")]
        constraints = [
            models.CheckConstraint(
                condition=Q(qualification_score__gte=0) & Q(qualification_score__lte=100),
                name="business_score_0_100",
            ),
            models.CheckConstraint(
                condition=~Q(gmb_place_id=""), name="business_gmb_place_id_not_blank"
            ),
        ]
        indexes = [
            # Default sort (newest first) and the keyset tie-breaker.
            models.Index(fields=["-created_at", "-id"], name="biz_created_id"),
            models.Index(
                fields=["contact_status", "-created_at", "-id"], name="biz_status_created"
            ),
            models.Index(fields=["website_status", "-created_at", "-id"], name="biz_web_created"),
            # city / category / state filter case-insensitively (iexact → UPPER(col) = UPPER(%s)).
            models.Index(
                Upper("city"), F("created_at").desc(), F("id").desc(), name="biz_city_created"
            ),
            models.Index(
                Upper("category"),
                F("created_at").desc(),
                F("id").desc(),
                name="biz_category_created",
            ),
            models.Index(Upper("state"), Upper("city"), name="biz_state_city"),
            models.Index(fields=["-qualification_score", "-id"], name="biz_score"),
            # On PostgreSQL these two are DESC NULLS LAST (migration 0009): NULL sorts as
            # the lowest value in the lead table, as SQLite does natively.
            models.Index(fields=["-rating", "-id"], name="biz_rating"),
            models.Index(fields=["name", "id"], name="biz_name"),
            # Sorting by city is case-insensitive too, so a city filter and a city sort
            # share this index (an exact-value index would be walked from "A" to the city).
            models.Index(Upper("city"), F("id"), name="biz_city_sort"),
            # "Best rated / highest scored in <city>": without them PostgreSQL walks the
            # whole rating or score index past every other city (migration 0016 makes the
            # rating one NULLS LAST on PostgreSQL, like biz_rating).
            models.Index(
                Upper("city"),
                F("qualification_score").desc(),
                F("id").desc(),
                name="biz_city_score",
            ),
            models.Index(Upper("city"), F("rating").desc(), F("id").desc(), name="biz_city_rating"),
            models.Index(fields=["-last_contacted_at", "-id"], name="biz_last_contacted"),
            models.Index(fields=["owner", "-created_at", "-id"], name="biz_owner_created"),
            # Engagement filters (furthest IN (…)) newest first, one branch per value.
            models.Index(
                fields=["furthest_contact_status", "-created_at", "-id"],
                name="biz_furthest_created",
            ),
            models.Index(fields=["email"], name="biz_email"),
            # The lead table's most common view, "<status> in <city>": pages in order and
            # counts (index-only: the raw `city` rides along, or PostgreSQL must visit the
            # table to re-check UPPER(city)) without visiting the table.
            models.Index(
                F("contact_status"),
                Upper("city"),
                F("created_at").desc(),
                F("id").desc(),
                F("city"),
                name="biz_status_city_created",
            ),
            # Pipeline board: the leads waiting longest in each stage.
            models.Index(
                fields=["contact_status", "contact_status_changed_at"], name="biz_status_since"
            ),
            # Status combinations that match few leads or none ("opened, no email", "clicked,
            # no site"): found here in a few index pages, where the status indexes alone
            # leave PostgreSQL reading every lead of the larger group (migration 0018).
            models.Index(
                fields=["contact_status", "has_email", "website_status", "furthest_contact_status"],
                name="biz_facets",
            ),
            # "Last contacted" pages of a status, read one status value at a time like the
            # newest-first ones: leads never contacted (NULL, sorted last) are most of some
            # statuses and none of others, so one walk over all leads passes 440,000 of the
            # wrong kind first (3 s at a million leads). DESC NULLS LAST on PostgreSQL
            # (migration 0018), like biz_last_contacted.
            models.Index(
                F("contact_status"),
                F("last_contacted_at").desc(),
                F("id").desc(),
                name="biz_status_contacted",
            ),
            models.Index(
                F("website_status"),
                F("last_contacted_at").desc(),
                F("id").desc(),
                name="biz_web_contacted",
            ),
            models.Index(
                F("furthest_contact_status"),
                F("last_contacted_at").desc(),
                F("id").desc(),
                name="biz_furthest_contacted",
            ),
            models.Index(
                F("has_email"),
                F("last_contacted_at").desc(),
                F("id").desc(),
                name="biz_email_contacted",
            ),
            # Leads without an email score at most 85: "no email, best first" walked past
            # the 90,000 better-scored leads with one.
            models.Index(
                fields=["has_email", "-qualification_score", "-id"], name="biz_email_score"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("crm:lead-detail", args=[self.pk])


class LeadEventKind(models.TextChoices):
    CREATED = "created", "Lead created"
    IMPORTED = "imported", "Imported"
    UPDATED = "updated", "Updated"
    CONTACT_STATUS = "contact_status", "Contact status changed"
    WEBSITE_STATUS = "website_status", "Website status changed"
    NOTE = "note", "Note"
    OWNER = "owner", "Owner changed"
    OPT_OUT = "opt_out", "Opted out"
    OPT_IN = "opt_in", "Opted in"
    BOUNCED = "bounced", "Bounced"
    DO_NOT_CONTACT = "do_not_contact", "Do not contact"
    SCORED = "scored", "Scored"
    SITE_GENERATING = "site_generating", "Site generation started"
    SITE_GENERATED = "site_generated", "Site generated"
    SITE_FAILED = "site_failed", "Site generation failed"
    SITE_LINKED = "site_linked", "Orphan site linked"
    SITE_VIEWED = "site_viewed", "Preview viewed"
    CLAIM_CLICKED = "claim_clicked", "Claim link clicked"
    MESSAGE_SENT = "message_sent", "Message sent"
    MESSAGE_DELIVERED = "message_delivered", "Message delivered"
    MESSAGE_FAILED = "message_failed", "Message failed"
    OPENED = "opened", "Email opened"
    CLICKED = "clicked", "Link clicked"
    REPLY = "reply", "Reply received"
    AUTO_REPLY = "auto_reply", "Auto-reply received"
    CHECKOUT = "checkout", "Checkout"
    PAYMENT = "payment", "Payment"
    SUBSCRIPTION = "subscription", "Subscription"
    PROVIDER_EVENT = "provider_event", "Provider event"


class LeadEvent(models.Model):
    """One line of a lead's timeline. Append-only."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=LeadEventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    source = models.CharField(max_length=20, choices=EventSource.choices)
    summary = models.CharField(max_length=500, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    # Optional links to what the event came from. String references keep crm free of
    # imports from the downstream apps.
    message = models.ForeignKey(
        "campaigns.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    site = models.ForeignKey(
        "sites.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payment = models.ForeignKey(
        "billing.Payment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    provider_event = models.ForeignKey(
        "crm.ProviderEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["business", "-at", "-id"], name="leadevent_business_at"),
            models.Index(fields=["-at", "-id"], name="leadevent_at"),
            models.Index(fields=["kind", "-at"], name="leadevent_kind_at"),
        ]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {self.at:%Y-%m-%d %H:%M}"


class Provider(models.TextChoices):
    ANYMAIL = "anymail", "Email (anymail)"
    TWILIO = "twilio", "Twilio"
    RECURRENTE = "recurrente", "Recurrente"
    SANDBOX = "sandbox", "Sandbox payments"


class ProviderEventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"
    UNMATCHED = "unmatched", "Unmatched"
    IGNORED = "ignored", "Ignored"


class ProviderEvent(models.Model):
    """The inbox: every authenticated provider event, stored before it is applied."""

    provider = models.CharField(max_length=20, choices=Provider.choices)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=80)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=12, choices=ProviderEventStatus.choices, default=ProviderEventStatus.PENDING
    )
    received_at = models.DateTimeField(default=timezone.now)
    # When the provider says the event happened (applied times come from here).
    occurred_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    business = models.ForeignKey(
        Business, null=True, blank=True, on_delete=models.SET_NULL, related_name="provider_events"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"], name="providerevent_provider_event_id"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="providerevent_status"),
            models.Index(fields=["-received_at"], name="providerevent_received"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_type}:{self.event_id}"


class ImportBatch(models.Model):
    """One run of `import_businesses`: the file, its detected format and the counts."""

    file_name = models.CharField(max_length=500)
    format = models.CharField(max_length=40)
    dry_run = models.BooleanField(default=False)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"{self.file_name} ({self.format})"


class ImportRecord(models.Model):
    """A row as the scraper delivered it, kept so it can be reprocessed later."""

    class Outcome(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        SKIPPED = "skipped", "Skipped"

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="records")
    row_number = models.PositiveIntegerField()
    business = models.ForeignKey(
        Business, null=True, blank=True, on_delete=models.SET_NULL, related_name="import_records"
    )
    raw = models.JSONField(default=dict)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["batch", "row_number"], name="importrecord_batch_row")]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.outcome}"


class ApiToken(models.Model):
    """A per-user API key for `Authorization: Bearer …`. Only a SHA-256 of the key is stored;
    the key itself is shown once, when it is created."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a key.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class SavedView(models.Model):
    """A named lead-table view (filter + sort query string), shared with the whole team."""

    name = models.CharField(max_length=80, unique=True)
    # The lead FilterSet's parameters plus `sort`, as a query string ("city=Austin&sort=-score").
    params = models.CharField(max_length=2000, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class LeadTally(models.Model):
    """Lead counts per status value, maintained by database triggers on crm_business.

    Every statement that inserts, updates or deletes leads appends delta rows here (no row
    is ever updated in place, so concurrent status changes never wait on a hot counter);
    reading sums them, and `crm.tallies.tally_compact` folds them up every minute. Tracked
    fields: TALLIED_FIELDS in crm/tallies.py.
    """

    field = models.CharField(max_length=40)
    value = models.CharField(max_length=40)
    delta = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.field}={self.value}: {self.delta:+d}"


class LeadDayTally(models.Model):
    """Leads that reached each funnel stage, per (UTC) day, for period funnels without a
    scan. Fed by database triggers on crm_business like LeadTally (append-only deltas,
    folded by crm.tallies.tally_compact):

    - field "created", value = qualification_score, day = created_at (scraped / qualified);
    - field "reached", value = engagement rank 1–6 (crm.lifecycle.ENGAGEMENT_RANK), day =
      the status change that raised furthest_contact_status to it;
    - field "site", value "generated", day = when website_status entered generated /
      deployed / sold.
    """

    day = models.DateField()
    field = models.CharField(max_length=20)
    value = models.CharField(max_length=40)
    delta = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["field", "day"], name="leaddaytally_field_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.field}={self.value}: {self.delta:+d}"
