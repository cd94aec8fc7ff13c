import pytest

from crm.models import LeadEvent, LeadEventKind
from sites.builder import PURCHASE_BOX_MARKER, generate_site
from sites.lifecycle import site_archive
from sites.models import Site

pytestmark = pytest.mark.django_db

BROWSER = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def site(business):
    return generate_site(business)


def get(client, url, ua=BROWSER, **headers):
    return client.get(url, HTTP_USER_AGENT=ua, **headers)


def views(site):
    site.refresh_from_db()
    return site.view_count


def viewed_events(site):
    return LeadEvent.objects.filter(site=site, kind=LeadEventKind.SITE_VIEWED).count()


def test_unknown_slug_is_404(client, db):
    assert get(client, "/p/no-such-site/").status_code == 404
    assert get(client, "/p/no-such-site/claim/").status_code == 404


def test_preview_serves_the_site_with_noindex(client, site):
    response = get(client, f"/p/{site.slug}/")

    assert response.status_code == 200
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    body = response.content.decode()
    assert '<meta name="robots" content="noindex, nofollow">' in body
    assert "Joe&#x27;s Plumbing" in body
    assert PURCHASE_BOX_MARKER not in body  # billing's box is rendered in its place


def test_preview_renders_seeded_sites_from_template_and_content(client, db):
    Site.objects.create(
        slug="seeded", template="restaurant", content={"name": "Taco Loco", "city": "Austin"}
    )

    response = get(client, "/p/seeded/")

    assert response.status_code == 200
    assert "Taco Loco" in response.content.decode()


def test_a_prospect_view_is_counted_and_goes_on_the_timeline_once(client, site):
    assert get(client, f"/p/{site.slug}/").status_code == 200
    site.refresh_from_db()
    first_seen = site.first_viewed_at
    assert site.view_count == 1 and first_seen is not None
    event = LeadEvent.objects.get(site=site, kind=LeadEventKind.SITE_VIEWED)
    assert event.business_id == site.business_id and event.data["first"] is True

    get(client, f"/p/{site.slug}/")
    get(client, f"/p/{site.slug}/")

    site.refresh_from_db()
    assert site.view_count == 3
    assert site.first_viewed_at == first_seen
    assert viewed_events(site) == 1  # reloads do not flood the timeline


def test_a_view_after_the_window_goes_on_the_timeline_again(client, site):
    from datetime import timedelta

    from sites.services import VIEW_EVENT_WINDOW

    get(client, f"/p/{site.slug}/")
    Site.objects.filter(pk=site.pk).update(
        view_event_at=site.created_at - VIEW_EVENT_WINDOW - timedelta(minutes=1)
    )
    get(client, f"/p/{site.slug}/")

    assert viewed_events(site) == 2
    assert (
        LeadEvent.objects.filter(site=site, kind=LeadEventKind.SITE_VIEWED)
        .order_by("id")
        .last()
        .data["first"]
        is False
    )


@pytest.mark.parametrize("fixture", ["staff_user", "viewer_user", "superuser"])
def test_staff_views_are_not_counted(client, site, request, fixture):
    client.force_login(request.getfixturevalue(fixture))

    assert get(client, f"/p/{site.slug}/").status_code == 200
    assert views(site) == 0
    assert viewed_events(site) == 0


@pytest.mark.parametrize(
    "ua",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "WhatsApp/2.23.20.0",
        "curl/8.5.0",
        "Wget/1.21.4",
        "python-requests/2.32.3",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/124.0 Safari/537.36",
        "",
    ],
)
def test_bot_views_are_not_counted(client, site, ua):
    assert get(client, f"/p/{site.slug}/", ua=ua).status_code == 200
    assert views(site) == 0
    assert viewed_events(site) == 0


def test_prefetches_and_head_requests_are_not_counted(client, site):
    assert get(client, f"/p/{site.slug}/", HTTP_SEC_PURPOSE="prefetch").status_code == 200
    assert client.head(f"/p/{site.slug}/", HTTP_USER_AGENT=BROWSER).status_code == 200

    assert views(site) == 0


def test_post_to_the_preview_is_not_allowed(client, site):
    assert client.post(f"/p/{site.slug}/", HTTP_USER_AGENT=BROWSER).status_code == 405
    assert views(site) == 0


def test_an_orphan_site_counts_views_without_a_timeline(client, db):
    orphan = Site.objects.create(slug="orphan", content={"name": "Nobody's"})

    assert get(client, "/p/orphan/").status_code == 200
    assert views(orphan) == 1
    assert not LeadEvent.objects.exists()


def test_an_archived_site_is_gone_for_the_public_but_staff_still_see_it(client, site, staff_user):
    site_archive(site=site)

    response = get(client, f"/p/{site.slug}/")
    assert response.status_code == 410
    assert "Joe" not in response.content.decode()
    assert get(client, f"/p/{site.slug}/claim/").status_code == 410
    assert views(site) == 0

    client.force_login(staff_user)
    assert get(client, f"/p/{site.slug}/").status_code == 200


def test_claim_page_shows_the_offer_and_records_the_click_once(client, site):
    response = get(client, f"/p/{site.slug}/claim/")

    assert response.status_code == 200
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    body = response.content.decode()
    assert "Claim the website of Joe&#x27;s Plumbing" in body
    assert "$400" in body and "$97" in body
    assert f'href="/p/{site.slug}/"' in body
    event = LeadEvent.objects.get(kind=LeadEventKind.CLAIM_CLICKED)
    assert event.business_id == site.business_id and event.site_id == site.pk

    get(client, f"/p/{site.slug}/claim/")
    assert LeadEvent.objects.filter(kind=LeadEventKind.CLAIM_CLICKED).count() == 1


def test_claim_prices_follow_the_settings(client, site, settings):
    settings.SETUP_FEE_CENTS = 25050
    settings.MONTHLY_PRICE_CENTS = 4900
    settings.PRICE_CURRENCY = "GTQ"

    body = get(client, f"/p/{site.slug}/claim/").content.decode()

    assert "Q250.50" in body and "Q49" in body


def test_claim_by_staff_or_bots_is_not_recorded(client, site, staff_user):
    get(client, f"/p/{site.slug}/claim/", ua="Googlebot/2.1")
    client.force_login(staff_user)
    get(client, f"/p/{site.slug}/claim/")

    assert not LeadEvent.objects.filter(kind=LeadEventKind.CLAIM_CLICKED).exists()


def test_claim_page_escapes_the_scraped_name(client, db):
    site = generate_site({"name": "<script>alert(1)</script>", "city": "Austin"})

    body = get(client, f"/p/{site.slug}/claim/").content.decode()

    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_a_counted_view_costs_a_handful_of_queries(client, site, django_assert_max_num_queries):
    get(client, f"/p/{site.slug}/")  # warm up: templates, the first timeline event

    # The site, the view count, the timeline window; plus the savepoint pair of the atomic
    # block (a transaction of its own outside tests).
    with django_assert_max_num_queries(5):
        assert get(client, f"/p/{site.slug}/").status_code == 200


def test_a_sold_site_is_the_customers_own_page_without_the_pitch(client, site):
    from sites.lifecycle import site_activate

    assert "Claim this website" in get(client, f"/p/{site.slug}/").content.decode()
    site_activate(site=site)

    body = get(client, f"/p/{site.slug}/").content.decode()

    assert "Joe&#x27;s Plumbing" in body and 'href="tel:+15125550100"' in body
    assert "Claim this website" not in body
    assert "Free website preview" not in body
    assert "wm:" not in body and "wm-purchase" not in body
    claim = get(client, f"/p/{site.slug}/claim/").content.decode()
    assert "This website has been claimed" in claim and "wm-purchase" not in claim


def test_the_raw_admin_lists_sites_with_status_read_only(client, site, superuser):
    client.force_login(superuser)

    listing = client.get("/admin/db/sites/site/?q=Joe")
    change = client.get(f"/admin/db/sites/site/{site.pk}/change/")

    assert listing.status_code == 200 and site.slug in listing.content.decode()
    assert change.status_code == 200
    assert 'name="status"' not in change.content.decode()
