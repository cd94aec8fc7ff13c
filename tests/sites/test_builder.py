import re

import pytest

from crm.lifecycle import business_set_status
from crm.models import Business, LeadEvent, LeadEventKind, WebsiteStatus
from sites import builder
from sites.builder import (
    PURCHASE_BOX_MARKER,
    SiteGenerationError,
    generate_site,
    site_render,
    sites_generate_for,
)
from sites.lifecycle import site_activate
from sites.models import Site

pytestmark = pytest.mark.django_db

PLUMBER = {
    "name": "Austin Pipe Pros",
    "phone": "(512) 555-0199",
    "address": "12 Lamar Blvd",
    "city": "Austin",
    "state": "TX",
    "postal_code": "78704",
    "category": "Plumber",
    "rating": "4.7",
    "review_count": 212,
    "hours": {"Tuesday": "8AM-6PM", "Monday": ["8AM-12PM", "1PM-6PM"]},
    "services": ["Drain cleaning", "Tankless water heaters"],
    "gmb_place_id": "ChIJ_pipe_pros",
}


def kinds(business):
    return list(
        LeadEvent.objects.filter(business=business)
        .order_by("at", "id")
        .values_list("kind", flat=True)
    )


def test_generate_site_creates_the_lead_first_then_a_linked_generated_site():
    site = generate_site(PLUMBER)

    business = Business.objects.get(gmb_place_id="ChIJ_pipe_pros")
    assert site.business == business
    assert business.website_status == WebsiteStatus.GENERATED
    assert site.template == "plumber"
    assert site.slug == business.slug
    assert site.preview_url == f"https://crm.example.com/p/{site.slug}/"
    assert site.content["name"] == "Austin Pipe Pros"
    assert site.content["services"] == ["Drain cleaning", "Tankless water heaters"]
    assert kinds(business) == [
        LeadEventKind.CREATED,
        LeadEventKind.WEBSITE_STATUS,
        LeadEventKind.WEBSITE_STATUS,
        LeadEventKind.SITE_GENERATED,
    ]
    changes = LeadEvent.objects.filter(business=business, kind=LeadEventKind.WEBSITE_STATUS)
    assert sorted((e.data["old"], e.data["new"]) for e in changes) == [
        ("generating", "generated"),
        ("none", "generating"),
    ]
    assert LeadEvent.objects.get(kind=LeadEventKind.SITE_GENERATED).site == site


def test_the_page_shows_what_the_owner_recognises():
    html = generate_site(PLUMBER).html

    assert "Austin Pipe Pros" in html
    assert "(512) 555-0199" in html
    assert 'href="tel:+15125550199"' in html
    assert "12 Lamar Blvd, Austin, TX 78704" in html
    assert "4.7" in html and "212 Google reviews" in html
    assert "Drain cleaning" in html and "Tankless water heaters" in html
    # Hours in weekday order, a list of ranges joined.
    assert html.index("Monday") < html.index("Tuesday")
    assert "8AM-12PM, 1PM-6PM" in html
    assert 'href="/p/austin-pipe-pros-austin/claim/"' in html
    assert "Claim this website" in html
    assert '<meta name="robots" content="noindex, nofollow">' in html
    # The purchase box is billing's and live: the stored page keeps its place only.
    assert html.count(PURCHASE_BOX_MARKER) == 1


def test_generating_twice_for_the_same_place_id_reuses_the_lead_and_its_site():
    first = generate_site(PLUMBER)
    second = generate_site({**PLUMBER, "name": "Austin Pipe Pros LLC", "phone": "512 555 0000"})

    assert Business.objects.count() == 1
    assert Site.objects.count() == 1
    assert second.pk == first.pk and second.slug == first.slug
    assert second.business.website_status == WebsiteStatus.GENERATED
    regenerated = LeadEvent.objects.filter(kind=LeadEventKind.SITE_GENERATED).order_by("id")
    assert [e.data["regenerated"] for e in regenerated] == [False, True]


def test_generate_site_finds_an_existing_lead_by_phone(business):
    site = generate_site({"name": "Joe's Plumbing & Drain", "phone": "+1 512-555-0100"})

    assert site.business == business
    assert Business.objects.count() == 1
    business.refresh_from_db()
    assert business.website_status == WebsiteStatus.GENERATED


def test_data_from_the_scrape_fills_what_the_lead_lacks(business):
    site = generate_site(
        {"name": "Joe's Plumbing", "city": "Austin", "hours": {"Monday": "7AM-7PM"}}
    )

    assert site.business == business
    assert site.content["hours"] == {"Monday": "7AM-7PM"}
    assert "7AM-7PM" in site.html


@pytest.mark.parametrize(
    ("category", "template", "marker"),
    [
        ("Plumber", "plumber", "Plumbing services"),
        ("Drain cleaning service", "plumber", "Plumbing services"),
        ("Electrician", "electrician", "Electrical services"),
        ("Mexican restaurant", "restaurant", "Call to order"),
        ("Pizza delivery", "restaurant", "Call to order"),
        ("Dentist", "generic", "What we do"),
        ("", "generic", "What we do"),
    ],
)
def test_each_template_renders_name_and_phone_and_escapes_scraped_text(category, template, marker):
    site = generate_site(
        {
            "name": "<script>alert('x')</script> Best & Co",
            "phone": "(512) 555-0142",
            "city": "Austin",
            "category": category,
            "services": ['<img src=x onerror="alert(1)">'],
            "hours": {"<b>Monday</b>": "<i>9-5</i>"},
        }
    )

    html = site.html
    assert site.template == template
    assert marker in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Best &amp; Co" in html
    assert "<script" not in html
    assert "<img" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "<b>Monday" not in html and "&lt;b&gt;Monday&lt;/b&gt;" in html
    assert "(512) 555-0142" in html
    assert 'href="tel:+15125550142"' in html


def test_tel_links_hold_digits_only_whatever_was_scraped():
    # A legacy site's stored content (an orphan's) may hold anything in its phone.
    site = Site(slug="odd", content={"name": "Odd Phone", "phone": '555-0100" onclick="x'})

    html = builder.site_page_render(site)

    hrefs = re.findall(r'href="(tel:[^"]*)"', html)
    assert hrefs and all(re.fullmatch(r"tel:\+?\d+", h) for h in hrefs)
    assert 'onclick="x' not in html


def test_a_lead_built_from_a_junk_phone_keeps_no_phone():
    site = generate_site({"name": "Odd Phone", "city": "Austin", "phone": '555-0100" onclick="x'})

    assert (site.business.phone, site.business.phone_normalized) == ("", "")
    assert "tel:" not in site.html and 'onclick="x' not in site.html


def test_a_failure_leaves_no_site_reverts_the_status_and_records_the_error(monkeypatch):
    def broken(site):
        raise RuntimeError("template engine on fire")

    monkeypatch.setattr(builder, "site_page_render", broken)

    with pytest.raises(SiteGenerationError, match="template engine on fire"):
        generate_site(PLUMBER)

    business = Business.objects.get(gmb_place_id="ChIJ_pipe_pros")  # the lead stays
    assert Site.objects.count() == 0
    assert business.website_status == WebsiteStatus.NONE
    failed = LeadEvent.objects.get(business=business, kind=LeadEventKind.SITE_FAILED)
    assert "template engine on fire" in failed.data["error"]
    changes = LeadEvent.objects.filter(business=business, kind=LeadEventKind.WEBSITE_STATUS)
    assert sorted((e.data["old"], e.data["new"]) for e in changes) == [
        ("generating", "none"),
        ("none", "generating"),
    ]


def test_a_failure_while_saving_leaves_no_site(monkeypatch, business):
    def broken_save(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Site, "save", broken_save)

    with pytest.raises(SiteGenerationError, match="disk full"):
        generate_site(business)

    business.refresh_from_db()
    assert business.website_status == WebsiteStatus.NONE
    assert not Site.objects.exists()
    assert LeadEvent.objects.filter(business=business, kind=LeadEventKind.SITE_FAILED).exists()


def test_data_that_cannot_make_a_lead_is_a_clear_error_and_writes_nothing():
    with pytest.raises(SiteGenerationError, match="name is required"):
        generate_site({"name": "  ", "phone": "512-555-0100"})
    with pytest.raises(SiteGenerationError, match="rating"):
        generate_site({"name": "Bad Rating", "rating": "lots"})
    with pytest.raises(SiteGenerationError, match="Business or a dict"):
        generate_site("Joe's Plumbing")

    assert not Business.objects.exists()
    assert not Site.objects.exists()


def test_a_sold_site_is_never_rendered_over(business):
    site = generate_site(business)
    site_activate(site=site)
    business_set_status(business=business, actor=None, website_status=WebsiteStatus.SOLD)
    Site.objects.filter(pk=site.pk).update(html="<p>the customer's edited site</p>")

    again = generate_site({"name": "Joe's Plumbing", "city": "Austin"})

    assert again.pk == site.pk
    assert Site.objects.get(pk=site.pk).html == "<p>the customer's edited site</p>"
    assert Site.objects.count() == 1


def test_a_new_site_takes_a_free_slug_when_the_leads_is_used_by_an_archived_site(business):
    from sites.lifecycle import site_archive

    first = generate_site(business)
    site_archive(site=first)
    second = generate_site(business)

    assert second.pk != first.pk
    assert second.slug == f"{business.slug}-2"
    assert second.preview_url.endswith(f"/p/{business.slug}-2/")


def test_site_render_serves_stored_html_or_renders_template_and_content():
    stored = Site.objects.create(slug="stored", html="<p>hand made</p>")
    seeded = Site.objects.create(
        slug="seeded",
        template="electrician",
        content={"name": "Volt & Sons", "phone": "(213) 555-0134", "city": "Los Angeles"},
    )

    assert site_render(stored) == "<p>hand made</p>"
    html = site_render(seeded)
    assert "Volt &amp; Sons" in html and "Electrical services" in html
    assert 'href="tel:+12135550134"' in html
    assert PURCHASE_BOX_MARKER not in html  # replaced by billing's live box


def test_an_unknown_template_name_falls_back_to_generic():
    site = Site.objects.create(slug="odd", template="spaceship", content={"name": "Odd Co"})

    assert "What we do" in site_render(site)


def test_sites_generate_for_skips_leads_that_have_a_site(business, staff_user):
    other = generate_site({"name": "Second Lead", "city": "Dallas", "phone": "214-555-0100"})

    summary = sites_generate_for([business.pk, other.business.pk], actor=staff_user)

    assert (summary.selected, summary.generated, summary.skipped, summary.failed) == (2, 1, 1, 0)
    assert Site.objects.filter(business=business).count() == 1
    event = LeadEvent.objects.get(business=business, kind=LeadEventKind.SITE_GENERATED)
    assert event.actor == staff_user


def test_sites_generate_for_counts_failures_and_keeps_going(monkeypatch, business):
    other = Business.objects.create(name="Other", slug="other")
    real = builder.site_page_render

    def flaky(site):
        if site.content["name"] == "Other":
            raise RuntimeError("boom")
        return real(site)

    monkeypatch.setattr(builder, "site_page_render", flaky)

    summary = sites_generate_for(Business.objects.all(), actor=None)

    assert (summary.generated, summary.failed) == (1, 1)
    assert "boom" in summary.errors[0]
    assert Site.objects.filter(business=business).exists()
    assert not Site.objects.filter(business=other).exists()


def test_a_big_selection_is_queued_for_the_workers(monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(builder, "GENERATE_INLINE_LIMIT", 2)
    for n in range(5):
        Business.objects.create(name=f"Lead {n}", slug=f"lead-{n}")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        summary = sites_generate_for(Business.objects.all(), actor=None)

    assert summary.queued == 5 and summary.generated == 0
    batches = [c for c in callbacks if "sites_generate_for" in c.__qualname__]
    assert len(batches) == 3  # 2, 2 and 1 leads
    assert Site.objects.filter(business__isnull=False).count() == 5  # Q_SYNC ran them


def test_a_selection_past_the_limit_is_refused_whole(monkeypatch):
    monkeypatch.setattr(builder, "GENERATE_MAX_PER_REQUEST", 2)
    for n in range(3):
        Business.objects.create(name=f"Lead {n}", slug=f"lead-{n}")

    with pytest.raises(builder.SelectionTooLarge, match="Narrow the filter"):
        sites_generate_for(Business.objects.all(), actor=None)
    assert not Site.objects.exists()


def test_content_of_the_wrong_shape_still_renders_a_page():
    site = Site.objects.create(
        slug="odd-shape",
        content={
            "name": "Shapeless",
            "hours": ["Mon 9-5"],
            "services": "Cuts; Colour",
            "rating": "x",
        },
    )
    broken = Site.objects.create(slug="broken", content=["not", "a", "dict"])

    html = site_render(site)
    assert "Shapeless" in html and "Cuts" in html and "Colour" in html
    assert "Your business" in site_render(broken)


def test_generating_a_site_for_an_archived_lead_brings_its_website_status_back(
    business, staff_user
):
    generate_site(business)
    business_set_status(business=business, actor=staff_user, website_status="archived")
    generate_site(business)
    business.refresh_from_db()
    assert business.website_status == WebsiteStatus.GENERATED
    moves = LeadEvent.objects.filter(business=business, kind=LeadEventKind.WEBSITE_STATUS)
    assert list(moves.order_by("at", "id").values_list("data__new", flat=True))[-2:] == [
        "generating",
        "generated",
    ]
