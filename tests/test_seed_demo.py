"""seed_demo builds a world whose statuses are the ones the lifecycle would have produced."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Max, Min
from django.urls import resolve
from django.utils.text import slugify

from billing.models import Checkout, Customer, Payment, PaymentStatus, Subscription
from campaigns.models import Campaign, Message, Suppression
from campaigns.sending import unsubscribe_unsign, unsubscribe_url
from crm import lifecycle, scoring
from crm.lifecycle import CONTACT_RANK, ENGAGEMENT_RANK, statuses_reached
from crm.models import Business, LeadEvent, LeadEventKind
from crm.normalize import name_city_key, phone_e164
from crm.services import business_create
from crm.tallies import TALLIED_FIELDS, funnel_counts, tally_counts
from sites.models import Site

pytestmark = pytest.mark.django_db

NOW = "2026-03-01T12:00:00+00:00"
ANCHOR = datetime.fromisoformat(NOW)
LEADS = 300
# A world this small is a sample: its funnel ratios wander a few points with the seed (seed 1
# of this generator opens 46% of emails; 3,000 leads open 57%). This seed's world is typical.
SEED = "4"


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def world():
    return seed("--leads", str(LEADS), "--seed", SEED, "--now", NOW)


def test_builds_every_kind_of_row_and_prints_a_summary(world):
    assert Business.objects.count() == LEADS
    for model in (Site, Campaign, Message, Suppression, LeadEvent, Checkout, Customer):
        assert model.objects.exists(), model
    assert Subscription.objects.exists() and Payment.objects.exists()
    assert "crm.Business" in world and f"{LEADS:>12,}" in world
    assert "sites.Site" in world and "billing.Payment" in world
    assert set(Business.objects.values_list("category", flat=True).distinct()) >= {
        "Plumber",
        "Electrician",
        "Restaurant",
        "Roofer",
        "Landscaper",
        "Dentist",
        "Hair Salon",
        "Auto Repair",
    }
    assert Business.objects.values("city", "state").distinct().count() >= 20
    assert set(Business.objects.values_list("website_kind", flat=True)) >= {
        "none",
        "own",
        "social",
        "directory",
    }
    owners = set(Business.objects.exclude(owner=None).values_list("owner__is_staff", flat=True))
    assert owners == {True}


def test_funnel_has_the_mockup_shape(world):
    total = Business.objects.count()
    qualified = Business.objects.filter(qualification_score__gte=settings.QUALIFIED_SCORE).count()
    assert 0.65 <= qualified / total <= 0.85
    sent = Message.objects.filter(direction="outbound", channel="email", sent_at__isnull=False)
    opened = sent.filter(opened_at__isnull=False).count()
    assert 0.5 <= opened / sent.count() <= 0.7
    reached = [
        Business.objects.filter(furthest_contact_status__in=statuses_reached(stage)).count()
        for stage in ("emailed", "opened", "clicked", "replied", "interested", "purchased")
    ]
    assert reached == sorted(reached, reverse=True)
    assert 2 <= reached[-1] <= total * 0.05
    with_site = Business.objects.filter(sites__isnull=False).distinct().count()
    assert qualified * 0.5 < with_site < total
    assert reached[0] < with_site


def test_scores_come_from_the_one_formula(world):
    for lead in Business.objects.all():
        assert (lead.qualification_score, lead.score_breakdown) == scoring.score_business(lead)
        assert lead.website_kind == scoring.classify_website(lead.website)
        assert lead.name_city_key == name_city_key(lead.name, lead.city)
        assert lead.phone_normalized == phone_e164(lead.phone)
        assert lead.slug.startswith(slugify(f"{lead.name} {lead.city}")[:100].strip("-"))


def test_every_purchase_has_its_payment_subscription_and_live_site(world):
    purchased = Business.objects.filter(contact_status="purchased")
    assert purchased.exists()
    for lead in purchased:
        site = lead.sites.get()
        assert site.status == "active" and site.subscription_status == "active"
        assert site.purchased_at is not None
        assert lead.website_status == "sold"
        assert Subscription.objects.filter(site=site, status="active").count() == 1
        assert lead.payments.filter(status=PaymentStatus.SUCCEEDED, kind="setup").exists()
        assert Checkout.objects.get(business=lead, status="paid").paid_at == site.purchased_at
    buyers = set(Payment.objects.filter(status="succeeded").values_list("business", flat=True))
    assert buyers == set(purchased.values_list("pk", flat=True))
    assert set(Site.objects.filter(status="active").values_list("business", flat=True)) == buyers
    assert set(Payment.objects.values_list("currency", flat=True)) == {"USD", "GTQ"}
    usd_setup = Payment.objects.filter(currency="USD", kind="setup", status="succeeded")
    assert set(usd_setup.values_list("amount_cents", flat=True)) == {settings.SETUP_FEE_CENTS}


def _replay(lead: Business) -> Business:
    """Apply what the stored messages, checkouts and payments say happened, in time order,
    through the real lifecycle, to a fresh lead; return it."""
    steps: list[tuple[datetime, int, object]] = []

    def add(at, fn, **kwargs):
        steps.append((at, len(steps), lambda pk: fn(business=pk, source="test", at=at, **kwargs)))

    for m in lead.messages.all():
        if m.direction == "inbound":
            if m.body == "STOP":
                add(m.created_at, lifecycle.business_opt_out, channel="sms")
            else:
                add(m.created_at, lifecycle.business_advance, to="replied")
            continue
        if m.sent_at:
            add(m.sent_at, lifecycle.business_record_contact, channel=m.channel)
        if m.opened_at:
            add(m.opened_at, lifecycle.business_advance, to="opened")
        if m.clicked_at:
            add(m.clicked_at, lifecycle.business_advance, to="clicked")
        if m.bounced_at:
            add(m.bounced_at, lifecycle.business_mark_bounced)
    if lead.email_opt_out_at:
        add(lead.email_opt_out_at, lifecycle.business_opt_out, channel="email")
    for checkout in lead.checkouts.all():
        add(checkout.created_at, lifecycle.business_advance, to="interested")
    for payment in lead.payments.filter(status="succeeded", kind="setup"):
        add(payment.paid_at, lifecycle.business_advance, to="purchased")
    for site in lead.sites.all():
        add(
            site.created_at - timedelta(seconds=20),
            lifecycle.business_advance_website,
            to="generating",
        )
        add(site.created_at, lifecycle.business_advance_website, to="generated")
        if site.status == "archived":
            add(site.status_changed_at, lifecycle.business_advance_website, to="archived")
        if site.purchased_at:
            add(site.purchased_at, lifecycle.business_advance_website, to="sold")
    shadow = business_create(data={"name": f"{lead.name} (replay)"}, source="test")
    for _, _, apply in sorted(steps, key=lambda s: (s[0], s[1])):
        apply(shadow.pk)
    shadow.refresh_from_db()
    return shadow


def _transitions(business: Business, kind: str) -> list[tuple[str, str]]:
    events = business.events.filter(kind=kind).order_by("at", "id")
    return [(e.data["old"], e.data["new"]) for e in events]


def test_statuses_are_what_the_lifecycle_makes_of_the_stored_events(world):
    touched = Business.objects.filter(sites__isnull=False).distinct()
    assert touched.count() > 100
    for lead in touched:
        shadow = _replay(lead)
        assert lead.contact_status == shadow.contact_status, lead.slug
        assert lead.furthest_contact_status == shadow.furthest_contact_status, lead.slug
        assert lead.website_status == shadow.website_status, lead.slug
        assert lead.last_contacted_at == shadow.last_contacted_at, lead.slug
        assert lead.email_opt_out_at == shadow.email_opt_out_at, lead.slug
        assert lead.sms_opt_out_at == shadow.sms_opt_out_at, lead.slug
        assert lead.email_bounced_at == shadow.email_bounced_at, lead.slug
        if lead.contact_status != "pending":
            assert lead.contact_status_changed_at == shadow.contact_status_changed_at
        for kind in (LeadEventKind.CONTACT_STATUS, LeadEventKind.WEBSITE_STATUS):
            assert _transitions(lead, kind) == _transitions(shadow, kind), (lead.slug, kind)


def test_leads_never_contacted_are_pending_with_no_timestamps(world):
    quiet = Business.objects.filter(messages__isnull=True)
    assert quiet.exists()
    assert set(quiet.values_list("contact_status", flat=True)) == {"pending"}
    assert not quiet.filter(last_contacted_at__isnull=False).exists()
    assert not Business.objects.filter(sites__isnull=True).exclude(website_status="none").exists()


def test_opt_outs_and_bounces_are_on_the_suppression_list(world):
    unsubscribed = Business.objects.filter(contact_status="unsubscribed")
    bounced = Business.objects.filter(contact_status="bounced")
    assert unsubscribed.exists() and bounced.exists()
    values = set(Suppression.objects.values_list("kind", "value"))
    for lead in unsubscribed:
        assert lead.email_opt_out_at or lead.sms_opt_out_at
        if lead.email_opt_out_at:
            assert ("email", lead.email) in values
        if lead.sms_opt_out_at:
            assert ("phone", lead.phone_normalized) in values
    for lead in Business.objects.filter(email_bounced_at__isnull=False):
        assert ("email", lead.email) in values
    opted = Business.objects.exclude(
        email_opt_out_at=None, sms_opt_out_at=None, email_bounced_at=None
    )
    assert len(values) == opted.count()


def test_sms_goes_only_to_leads_with_consent_and_email_to_leads_with_an_address(world):
    sms = Message.objects.filter(direction="outbound", channel="sms").select_related("business")
    assert sms.exists()
    for message in sms:
        consent = message.business.sms_consent_at
        assert consent is not None and consent < (message.sent_at or message.send_after)
        assert message.to_address == message.business.phone_normalized
    for message in Message.objects.filter(direction="outbound", channel="email"):
        assert message.to_address == message.business.email != ""
    assert Business.objects.filter(sms_consent_at__isnull=False).count() > sms.count() / 2


def test_campaigns_completed_and_one_running_with_one_message_per_step(world):
    statuses = Campaign.objects.values("channel", "status").annotate(n=Count("id"))
    by = {(row["channel"], row["status"]): row["n"] for row in statuses}
    assert by[("email", "sending")] == 1
    assert by[("email", "completed")] >= 5 and by[("sms", "completed")] >= 1
    running = Campaign.objects.get(status="sending")
    assert running.messages.filter(status="queued").exists()
    assert running.completed_at is None
    for message in Message.objects.filter(step=2):
        assert Message.objects.filter(
            campaign=message.campaign, business=message.business, step=1
        ).exists()
    replies = Message.objects.filter(direction="inbound")
    assert replies.exists()
    assert not replies.filter(in_reply_to__isnull=True).exists()
    for campaign in Campaign.objects.filter(status="completed"):
        last = campaign.messages.aggregate(m=Max("sent_at"))["m"]
        assert last is None or last <= campaign.completed_at


def test_dates_spread_over_four_months_and_nothing_is_in_the_future(world):
    span = Business.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    assert span["first"] >= ANCHOR - timedelta(days=121)
    assert span["last"] <= ANCHOR
    recent = Business.objects.filter(created_at__gte=ANCHOR - timedelta(days=7)).count()
    old = Business.objects.filter(created_at__lt=ANCHOR - timedelta(days=90)).count()
    assert recent > 0 and old > 0
    assert LeadEvent.objects.aggregate(m=Max("at"))["m"] <= ANCHOR
    for field in ("sent_at", "delivered_at", "opened_at", "clicked_at", "replied_at"):
        assert Message.objects.aggregate(m=Max(field))["m"] <= ANCHOR, field
    assert Payment.objects.aggregate(m=Max("paid_at"))["m"] <= ANCHOR
    assert Message.objects.filter(status="queued").aggregate(m=Min("send_after"))["m"] > ANCHOR


def test_slugs_are_unique_and_sites_carry_their_lead(world):
    slugs = list(Site.objects.values_list("slug", flat=True))
    assert len(slugs) == len(set(slugs))
    for site in Site.objects.exclude(business=None).select_related("business"):
        assert site.slug == site.business.slug
        assert site.content["name"] == site.business.name
        assert site.template in {"generic", "plumber", "electrician", "restaurant"}
        assert site.preview_url.endswith(f"/p/{site.slug}/")


def test_a_seeded_preview_renders_from_template_and_content(world, client):
    site = Site.objects.filter(status="preview", business__category="Plumber").first()
    response = client.get(f"/p/{site.slug}/")
    assert response.status_code == 200
    assert site.business.name.replace("'", "&#x27;").replace("&", "&amp;") in response.text


def test_the_orphan_site_waits_for_link_orphan_sites(world):
    orphan = Site.objects.get(slug="la-plumbing-pros")
    assert orphan.business is None and orphan.status == "preview"
    assert orphan.content["name"] == "Los Angeles Plumbing Pros"
    assert orphan.content["phone"] == "(213) 555-0147"
    assert (orphan.content["city"], orphan.content["state"]) == ("Los Angeles", "CA")
    assert orphan.content["category"] == "Plumber"
    assert not Business.objects.filter(phone_normalized="+12135550147").exists()
    assert not Business.objects.filter(name_city_key="los angeles plumbing pros|los angeles")
    call_command("link_orphan_sites", stdout=StringIO())
    orphan.refresh_from_db()
    assert orphan.business.name == "Los Angeles Plumbing Pros"
    assert orphan.business.website_status == "generated"


def test_second_run_without_reset_writes_nothing(world):
    before = {m: m.objects.count() for m in (Business, Site, Message, LeadEvent, Payment)}
    out = seed("--leads", "50")
    assert "nothing written" in out and "--reset" in out
    assert {m: m.objects.count() for m in before} == before


def _snapshot() -> list[tuple]:
    return list(
        Business.objects.order_by("pk").values_list(
            "pk",
            "slug",
            "email",
            "phone",
            "qualification_score",
            "contact_status",
            "furthest_contact_status",
            "website_status",
            "last_contacted_at",
            "created_at",
        )
    ) + [
        (Message.objects.count(), LeadEvent.objects.count(), Payment.objects.count()),
        tuple(Message.objects.order_by("pk").values_list("token", flat=True)),
    ]


def test_reset_rebuilds_the_same_world_for_the_same_seed(world):
    first = _snapshot()
    seed("--leads", str(LEADS), "--seed", SEED, "--now", NOW, "--reset")
    assert _snapshot() == first
    seed("--leads", str(LEADS), "--seed", "2", "--now", NOW, "--reset")
    other = _snapshot()
    assert Business.objects.count() == LEADS and other != first
    assert Site.objects.filter(slug="la-plumbing-pros").count() == 1


def test_bad_input_is_refused_and_writes_nothing():
    with pytest.raises(CommandError, match="--leads"):
        seed("--leads", "-5")
    with pytest.raises(CommandError, match="--now"):
        seed("--now", "yesterday-ish")
    assert not Business.objects.exists() and not Site.objects.exists()


def test_setup_demo_seeds_an_empty_database_and_prints_a_login():
    out = StringIO()
    call_command("setup_demo", "--leads", "60", stdout=out)
    assert Business.objects.count() == 60
    assert "Staff login: username 'demo'" in out.getvalue()
    call_command("setup_demo", "--leads", "60", stdout=StringIO())
    assert Business.objects.count() == 60


def test_ranks_used_by_the_seed_are_the_lifecycle_ranks():
    # The seed derives statuses with these tables; a new status must be ranked there.
    assert set(CONTACT_RANK) == {
        choice for choice, _ in Business._meta.get_field("contact_status").choices
    }
    assert set(ENGAGEMENT_RANK) <= set(CONTACT_RANK)


def test_maintained_lead_counts_match_the_rows(world):
    counts = tally_counts()
    for field in TALLIED_FIELDS:
        rows = Business.objects.values_list(field).annotate(n=Count("id"))
        assert counts.get(field, {}) == {str(value): n for value, n in rows}, field
    assert (
        funnel_counts()["purchased"]
        == Business.objects.filter(furthest_contact_status="purchased").count()
    )


def _indexes() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
        )
        indexes = set(cursor.fetchall())
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = current_schema()::regnamespace"
        )
        return indexes | set(cursor.fetchall())


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the bulk-load path (COPY, indexes built after the load) runs on PostgreSQL only",
)
def test_bulk_load_path_rebuilds_every_index_and_the_counts(monkeypatch):
    from webmagic.demo import build

    before = _indexes()
    monkeypatch.setattr(build, "BULK_LOAD_FROM", 0)
    seed("--leads", "200", "--seed", "3", "--now", NOW)
    assert _indexes() == before
    counts = tally_counts()
    rows = Business.objects.values_list("contact_status").annotate(n=Count("id"))
    assert counts["contact_status"] == dict(rows) and sum(dict(rows).values()) == 200
    assert Message.objects.filter(business__isnull=True).count() == 0
    assert LeadEvent.objects.exclude(business__in=Business.objects.all()).count() == 0


def test_sent_messages_are_rendered_with_working_links_and_on_the_timeline(world, client):
    email = Message.objects.filter(
        direction="outbound",
        channel="email",
        step=1,
        status="delivered",
        clicked_at=None,
        business__contact_status__in=("emailed", "opened"),
    ).first()
    assert email.subject == f"{email.business.name}: we built you a new website"
    assert settings.SENDER_POSTAL_ADDRESS in email.body
    unsubscribe = re.search(r"Unsubscribe: (\S+)", email.body).group(1)
    token = resolve(urlsplit(unsubscribe).path).kwargs["token"]
    assert unsubscribe_unsign(token) == (email.business_id, "email")
    assert unsubscribe == unsubscribe_url(email.business, "email")
    assert f"{settings.PUBLIC_BASE_URL}/c/{email.token}/" in email.body
    sms = Message.objects.filter(direction="outbound", channel="sms", sent_at__isnull=False)
    assert all("STOP" in body for body in sms.values_list("body", flat=True))
    sent = Message.objects.filter(direction="outbound", sent_at__isnull=False)
    assert LeadEvent.objects.filter(kind="message_sent").count() == sent.count()
    assert not Message.objects.filter(status="queued").exclude(body="").exists()

    response = client.get(f"/c/{email.token}/", HTTP_USER_AGENT="Mozilla/5.0 (Macintosh)")
    assert response.status_code == 302
    site = email.site or email.business.sites.exclude(status="archived").latest("created_at")
    assert response["Location"] == f"/p/{site.slug}/"
    email.refresh_from_db()
    assert email.clicked_count == 1
    assert email.business.contact_status == "clicked"  # an opened or emailed lead moves up
