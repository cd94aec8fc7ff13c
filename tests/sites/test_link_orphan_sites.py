from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from crm.models import Business, LeadEvent, LeadEventKind, WebsiteStatus
from crm.services import business_create
from sites.lifecycle import site_activate, site_archive, site_set_subscription_status
from sites.management.commands.link_orphan_sites import Command
from sites.models import Site

pytestmark = pytest.mark.django_db

# The seed's model case (webmagic/demo/data.py ORPHAN_CONTENT, as seed_demo writes it).
LA_CONTENT = {
    "name": "Los Angeles Plumbing Pros",
    "phone": "(213) 555-0147",
    "email": "",
    "website": "",
    "address": "1420 W Olympic Blvd",
    "city": "Los Angeles",
    "state": "CA",
    "country": "US",
    "postal_code": "90015",
    "category": "Plumber",
    "rating": 4.6,
    "review_count": 87,
    "photo_count": 14,
    "hours": {"Monday–Friday": "7:00 AM – 7:00 PM", "Saturday": "8:00 AM – 4:00 PM"},
    "services": ["Emergency repairs", "Drain cleaning", "Water heaters", "Leak detection"],
    "gmb_place_id": None,
}


def orphan(slug="la-plumbing-pros", content=None, template="plumber"):
    return Site.objects.create(
        slug=slug,
        business=None,
        template=template,
        content=LA_CONTENT if content is None else content,
        preview_url=f"https://crm.example.com/p/{slug}/",
    )


def run(*args) -> str:
    out = StringIO()
    call_command("link_orphan_sites", *args, stdout=out)
    return out.getvalue()


def snapshot():
    return (
        Business.objects.count(),
        LeadEvent.objects.count(),
        sorted(Site.objects.values_list("slug", "business_id")),
        sorted(Business.objects.values_list("pk", "website_status")),
    )


def test_the_la_plumbing_pros_case_creates_its_lead_and_links_it():
    site = orphan()

    out = run()

    site.refresh_from_db()
    lead = site.business
    assert lead is not None
    assert (lead.name, lead.city, lead.state, lead.category) == (
        "Los Angeles Plumbing Pros",
        "Los Angeles",
        "CA",
        "Plumber",
    )
    assert lead.phone_normalized == "+12135550147"
    assert lead.source == "orphan_site"
    assert lead.website_status == WebsiteStatus.GENERATED
    linked = LeadEvent.objects.get(business=lead, kind=LeadEventKind.SITE_LINKED)
    assert linked.site == site and linked.data["created"] is True
    change = LeadEvent.objects.get(business=lead, kind=LeadEventKind.WEBSITE_STATUS)
    assert (change.data["old"], change.data["new"], change.site) == ("none", "generated", site)
    assert "created lead" in out and "la-plumbing-pros" in out
    assert "Linked to existing leads: 0, leads created: 1, skipped: 0." in out


def test_the_la_plumbing_pros_site_still_renders_after_linking(client):
    orphan()
    run()

    response = client.get("/p/la-plumbing-pros/", HTTP_USER_AGENT="Mozilla/5.0 Firefox/128.0")

    body = response.content.decode()
    assert response.status_code == 200
    assert "Los Angeles Plumbing Pros" in body and 'href="tel:+12135550147"' in body
    assert body.index("Monday–Friday") < body.index("Saturday")
    assert LeadEvent.objects.filter(kind=LeadEventKind.SITE_VIEWED).count() == 1


def test_an_orphan_is_linked_to_the_existing_lead_with_its_phone(business):
    site = orphan("joes", {"name": "Joe's Plumbing Inc", "phone": "+1 512 555 0100"})

    out = run()

    site.refresh_from_db()
    assert site.business == business
    assert Business.objects.count() == 1
    business.refresh_from_db()
    assert business.website_status == WebsiteStatus.GENERATED
    event = LeadEvent.objects.get(kind=LeadEventKind.SITE_LINKED)
    assert event.data["matched_by"] == "phone" and event.data["created"] is False
    assert f"linked joes → lead #{business.pk}" in out and "(matched by phone)" in out
    assert "Linked to existing leads: 1, leads created: 0, skipped: 0." in out


@pytest.mark.parametrize(
    ("content", "matched_by"),
    [
        ({"name": "X", "gmb_place_id": "ChIJ_known"}, "place id"),
        ({"name": "X", "website": "https://www.known-plumbing.com/about"}, "website domain"),
        ({"name": "Known Plumbing", "city": "austin"}, "name + city"),
    ],
)
def test_the_dedupe_order_finds_the_lead(content, matched_by):
    known = business_create(
        data={
            "name": "Known Plumbing",
            "city": "Austin",
            "website": "known-plumbing.com",
            "gmb_place_id": "ChIJ_known",
        },
        source="test",
    )
    site = orphan("known", content)

    run()

    site.refresh_from_db()
    assert site.business == known
    assert LeadEvent.objects.get(kind=LeadEventKind.SITE_LINKED).data["matched_by"] == matched_by


def test_website_status_follows_the_site_status():
    active = orphan("active", {"name": "Active Co", "city": "Austin"})
    site_activate(site=active)
    cancelled = orphan("cancelled", {"name": "Cancelled Co", "city": "Austin"})
    site_activate(site=cancelled)
    site_set_subscription_status(site=cancelled, status="cancelled")
    archived = orphan("archived", {"name": "Archived Co", "city": "Austin"})
    site_archive(site=archived)

    run()

    statuses = dict(Site.objects.values_list("slug", "business__website_status"))
    assert statuses == {
        "active": WebsiteStatus.SOLD,
        "cancelled": WebsiteStatus.SOLD,
        "archived": WebsiteStatus.ARCHIVED,
    }


def test_an_archived_leftover_does_not_archive_a_lead_with_a_live_site(business):
    from sites.builder import generate_site

    generate_site(business)
    site = orphan("old-preview", {"name": "Joe's Plumbing", "city": "Austin"})
    site_archive(site=site)

    run()

    business.refresh_from_db()
    assert Site.objects.get(slug="old-preview").business == business
    assert business.website_status == WebsiteStatus.GENERATED


def test_a_sold_lead_is_not_pulled_back_by_a_preview_orphan(business):
    from crm.lifecycle import business_set_status

    business_set_status(business=business, actor=None, website_status=WebsiteStatus.SOLD)
    orphan("joes-old", {"name": "Joe's Plumbing", "city": "Austin"})

    run()

    business.refresh_from_db()
    assert Site.objects.get(slug="joes-old").business == business
    assert business.website_status == WebsiteStatus.SOLD


def test_two_orphans_of_one_business_share_the_created_lead():
    orphan("first")
    orphan("second", {**LA_CONTENT, "name": "LA Plumbing Pros"})

    out = run()

    assert Business.objects.count() == 1
    assert Site.objects.filter(business__isnull=False).count() == 2
    assert "Linked to existing leads: 1, leads created: 1, skipped: 0." in out


def test_dry_run_writes_nothing_and_reports_what_it_would_do(business):
    orphan()
    orphan("joes", {"name": "Joe's Plumbing", "phone": "512-555-0100"})
    before = snapshot()

    out = run("--dry-run")

    assert snapshot() == before
    assert Site.objects.filter(business__isnull=True).count() == 2
    assert "[dry run] would have created lead 'Los Angeles Plumbing Pros'" in out
    assert "[dry run] would have linked joes" in out
    assert "Dry run, nothing written. Linked to existing leads: 1, leads created: 1" in out


def test_a_second_run_does_nothing():
    orphan()
    run()
    after_first = snapshot()

    out = run()

    assert snapshot() == after_first
    assert "No orphan sites" in out
    assert "Linked to existing leads: 0, leads created: 0, skipped: 0." in out


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ({"phone": "555"}, "name is required"),
        ({"name": "Too Good", "rating": 7}, "rating 7 is outside 0–5"),
        (["not", "a", "dict"], "name is required"),
    ],
)
def test_a_site_whose_content_cannot_make_a_lead_is_skipped_with_its_reason(content, reason):
    bad = orphan("bad", content)
    orphan()

    out = run()

    bad.refresh_from_db()
    assert bad.business is None
    assert f"skipped bad: content unusable: {reason}" in out
    assert "Linked to existing leads: 0, leads created: 1, skipped: 1." in out


def test_slug_limits_the_run_and_an_unknown_slug_is_an_error(business):
    orphan()
    orphan("joes", {"name": "Joe's Plumbing", "phone": "512-555-0100"})
    before = snapshot()

    with pytest.raises(CommandError, match="no site with slug nope"):
        run("--slug", "nope")
    assert snapshot() == before

    out = run("--slug", "joes")
    assert Site.objects.get(slug="joes").business == business
    assert Site.objects.get(slug="la-plumbing-pros").business is None
    assert "Linked to existing leads: 1, leads created: 0, skipped: 0." in out

    out = run("--slug", "joes")
    assert "skipped joes: already has a business" in out


def test_help_explains_the_command():
    parser = Command().create_parser("manage.py", "link_orphan_sites")
    text = parser.format_help()

    assert "--dry-run" in text and "--slug" in text
    assert "preview → generated" in text
