"""The lead table: filters, sort, keyset pages, htmx fragment, bulk actions, saved views."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from crm.lifecycle import business_advance, business_record_contact
from crm.models import Business, LeadEvent, SavedView
from crm.queries import PAGE_SIZE, lead_page
from crm.services import business_create

ROW_ID = re.compile(rb'form="bulk" name="ids" value="(\d+)"')


def make_leads(n, **overrides):
    leads = []
    for i in range(n):
        data = {
            "name": f"Lead {i:03d}",
            "city": "Austin" if i % 2 else "Dallas",
            "state": "TX",
            "category": "Plumber",
            "email": f"owner{i}@lead{i}.example",
            "phone": f"(512) 555-{i:04d}",
            "rating": None if i % 7 == 0 else f"{3 + (i % 20) / 10:.1f}",
            "review_count": i,
            **overrides,
        }
        leads.append(business_create(data=data, source="test"))
    return leads


def row_ids(response):
    return [int(x) for x in ROW_ID.findall(response.content)]


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def sales_client(client, sales_user):
    client.force_login(sales_user)
    return client


@pytest.mark.django_db
def test_filter_by_status_and_city_shows_only_matching_rows(staff_client):
    leads = make_leads(6)
    business_record_contact(business=leads[1], channel="email", source="test")
    business_record_contact(business=leads[2], channel="email", source="test")
    business_record_contact(business=leads[3], channel="email", source="test")
    response = staff_client.get("/admin/crm/leads/?contact_status=emailed&city=austin")
    assert response.status_code == 200
    assert sorted(row_ids(response)) == sorted([leads[1].pk, leads[3].pk])
    assert b"2 leads" in response.content


@pytest.mark.django_db
def test_invalid_filter_values_are_reported_not_ignored(staff_client):
    make_leads(2)
    response = staff_client.get("/admin/crm/leads/?min_rating=abc&contact_status=nope")
    assert response.status_code == 200
    assert b"Those filters are not valid" in response.content
    assert row_ids(response) == []


@pytest.mark.django_db
def test_htmx_filter_change_returns_only_the_table_fragment(staff_client):
    make_leads(4)
    response = staff_client.get(
        "/admin/crm/leads/?city=Austin",
        headers={"HX-Request": "true", "HX-Target": "lead-table"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="lead-table"')
    assert "<html" not in body
    assert len(row_ids(response)) == 2
    assert "HX-Request" in response["Vary"]
    # the same URL as a full page load renders the same rows inside the layout
    full = staff_client.get("/admin/crm/leads/?city=Austin")
    assert "<html" in full.content.decode()
    assert row_ids(full) == row_ids(response)


# The htmx fragment: session, user, rows; on PostgreSQL also the filter's plan (EXPLAIN: the
# planner's estimate of the matches) and, when it expects few (always, on test data), the
# rows' plan, to read the matches first when a walk down a sort index would read every lead.
FRAGMENT_QUERIES = 3 + 2 * (connection.vendor == "postgresql")


@pytest.mark.django_db
def test_the_table_fragment_takes_at_most_three_queries_and_two_plans(
    staff_client, django_assert_max_num_queries
):
    make_leads(60)
    url = "/admin/crm/leads/?city=Austin&min_score=0&sort=-score"
    headers = {"HX-Request": "true", "HX-Target": "lead-table"}
    with django_assert_max_num_queries(FRAGMENT_QUERIES):
        response = staff_client.get(url, headers=headers)
    assert len(row_ids(response)) == 30
    next_url = re.search(rb'rel="next" href="([^"]+)"', response.content)
    assert next_url is None  # 30 rows fit on one page
    with django_assert_max_num_queries(FRAGMENT_QUERIES):
        response = staff_client.get("/admin/crm/leads/", headers=headers)
    assert len(row_ids(response)) == PAGE_SIZE


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sort",
    [
        "name",
        "-name",
        "city",
        "-city",
        "-score",
        "score",
        "-rating",
        "rating",
        "-contacted",
        "contacted",
        "-created",
        "created",
        "status",
        "-status",
    ],
)
def test_keyset_pages_cover_every_row_once_in_order_both_ways(sort):
    leads = make_leads(23)
    for lead in leads[::3]:
        business_record_contact(
            business=lead, channel="email", source="test", at=timezone.now() - timedelta(days=1)
        )
    qs = Business.objects.all()
    seen, cursors = [], []
    page = lead_page(qs, sort=sort, size=5)
    pages = [page]
    while page.next_cursor:
        cursors.append(page.next_cursor)
        page = lead_page(qs, sort=sort, after=page.next_cursor, size=5)
        pages.append(page)
    for p in pages:
        seen += [r["id"] for r in p.rows]
    assert sorted(seen) == sorted(lead.pk for lead in leads)
    assert len(seen) == len(set(seen))
    # going back from the last page walks the same pages in reverse
    back = pages[-1]
    for expected in reversed(pages[:-1]):
        back = lead_page(qs, sort=sort, before=back.prev_cursor, size=5)
        assert [r["id"] for r in back.rows] == [r["id"] for r in expected.rows]
    assert back.prev_cursor is None


@pytest.mark.django_db
def test_sort_orders_rows_and_keeps_nulls_last(staff_client):
    leads = make_leads(8)
    response = staff_client.get("/admin/crm/leads/?sort=-rating")
    ids = row_ids(response)
    ratings = {b.pk: b.rating for b in Business.objects.all()}
    values = [ratings[i] for i in ids]
    non_null = [v for v in values if v is not None]
    assert non_null == sorted(non_null, reverse=True)
    assert values[-1] is None and values[0] == max(non_null)
    assert len(ids) == len(leads)
    assert b'aria-sort="descending"' in response.content


@pytest.mark.django_db
def test_next_page_link_moves_forward_without_offset(staff_client):
    make_leads(PAGE_SIZE + 7)
    first = staff_client.get("/admin/crm/leads/?sort=name")
    link = re.search(rb'rel="next" href="\?([^"]+)"', first.content).group(1).decode()
    second = staff_client.get("/admin/crm/leads/?" + link.replace("&amp;", "&"))
    assert len(row_ids(second)) == 7
    assert not set(row_ids(first)) & set(row_ids(second))
    assert b"Page 2" in second.content


@pytest.mark.django_db
def test_a_forged_cursor_gets_a_message_and_the_first_page(staff_client):
    make_leads(3)
    response = staff_client.get("/admin/crm/leads/?after=not-a-cursor")
    assert response.status_code == 200
    assert b"start from the first page" in response.content
    assert len(row_ids(response)) == 3


@pytest.mark.django_db
def test_count_is_exact_below_the_cap_and_labelled_above(monkeypatch):
    import crm.queries

    leads = make_leads(6)
    page = lead_page(Business.objects.all(), size=2)
    assert page.total == 6 and page.total_label == "6"
    monkeypatch.setattr(crm.queries, "COUNT_CAP", 4)
    page = lead_page(Business.objects.all(), size=2)
    assert page.total_capped
    assert page.total_label.startswith(("about", "more than"))
    assert leads


@pytest.mark.django_db
def test_scraped_names_are_escaped_in_the_table(staff_client):
    business_create(data={"name": '<img src=x onerror="alert(1)">', "city": "Austin"}, source="t")
    response = staff_client.get("/admin/crm/leads/")
    assert b'<img src=x onerror="alert(1)">' not in response.content
    assert b"&lt;img src=x onerror=" in response.content


@pytest.mark.django_db
def test_bulk_status_goes_through_the_lifecycle_with_the_actor(sales_client, sales_user):
    leads = make_leads(3)
    response = sales_client.post(
        "/admin/crm/leads/bulk/status/",
        {"ids": [leads[0].pk, leads[1].pk], "to_status": "interested", "next": "/admin/crm/leads/"},
    )
    assert response.status_code == 302
    statuses = dict(Business.objects.values_list("pk", "contact_status"))
    assert statuses[leads[0].pk] == statuses[leads[1].pk] == "interested"
    assert statuses[leads[2].pk] == "pending"
    events = LeadEvent.objects.filter(kind="contact_status", actor=sales_user)
    assert events.count() == 2


@pytest.mark.django_db
def test_bulk_status_on_all_matching_uses_the_filter(sales_client):
    make_leads(6)
    response = sales_client.post(
        "/admin/crm/leads/bulk/status/",
        {"all": "1", "city": "Austin", "to_status": "interested", "contact_status": "pending"},
    )
    assert response.status_code == 302
    assert Business.objects.filter(contact_status="interested").count() == 3
    assert not Business.objects.filter(city="Dallas", contact_status="interested").exists()


@pytest.mark.django_db
def test_bulk_action_with_nothing_selected_changes_nothing(sales_client):
    make_leads(2)
    response = sales_client.post(
        "/admin/crm/leads/bulk/status/", {"to_status": "interested"}, follow=True
    )
    assert b"Select at least one lead" in response.content
    assert not Business.objects.filter(contact_status="interested").exists()


@pytest.mark.django_db
def test_bulk_assign_gives_leads_to_a_colleague(sales_client, staff_user, sales_user):
    leads = make_leads(3)
    response = sales_client.post(
        "/admin/crm/leads/bulk/assign/",
        {"ids": [leads[0].pk, leads[2].pk], "to_owner": staff_user.pk},
    )
    assert response.status_code == 302
    assert set(Business.objects.filter(owner=staff_user).values_list("pk", flat=True)) == {
        leads[0].pk,
        leads[2].pk,
    }
    assert LeadEvent.objects.filter(kind="owner", actor=sales_user).count() == 2
    # "my leads" for the staff user shows exactly those
    sales_client.force_login(staff_user)
    assert sorted(row_ids(sales_client.get("/admin/crm/leads/?owner=me"))) == sorted(
        [leads[0].pk, leads[2].pk]
    )


@pytest.mark.django_db
def test_saved_view_is_shared_and_opens_the_same_filter(sales_client, staff_user, client):
    make_leads(4)
    response = sales_client.post(
        "/admin/crm/leads/views/",
        {"name": "Austin by score", "params": "city=Austin&sort=-score&after=junk&evil=1"},
    )
    assert response.status_code == 302
    view = SavedView.objects.get(name="Austin by score")
    assert view.params == "city=Austin&sort=-score"
    client.force_login(staff_user)
    page = client.get("/admin/crm/leads/")
    assert b"Austin by score" in page.content
    opened = client.get(response["Location"])
    assert len(row_ids(opened)) == 2


@pytest.mark.django_db
def test_saved_view_with_an_invalid_filter_is_refused(sales_client):
    response = sales_client.post(
        "/admin/crm/leads/views/", {"name": "Broken", "params": "min_rating=lots"}
    )
    assert response.status_code == 302
    assert not SavedView.objects.exists()


@pytest.mark.django_db
def test_engagement_filter_counts_leads_that_reached_the_stage(staff_client):
    leads = make_leads(3)
    business_advance(business=leads[0], to="clicked", source="test")
    business_advance(business=leads[1], to="opened", source="test")
    business_advance(business=leads[1], to="unsubscribed", source="test")
    response = staff_client.get("/admin/crm/leads/?engagement=opened")
    assert sorted(row_ids(response)) == sorted([leads[0].pk, leads[1].pk])


@pytest.mark.django_db
def test_rating_decimal_cursor_round_trips():
    make_leads(3, rating="4.5")
    page = lead_page(Business.objects.all(), sort="-rating", size=1)
    again = lead_page(Business.objects.all(), sort="-rating", size=1, after=page.next_cursor)
    assert again.rows[0]["rating"] == Decimal("4.5")
    assert again.rows[0]["id"] != page.rows[0]["id"]


@pytest.mark.django_db
def test_the_fragment_defers_its_total_to_a_lazy_count_request(
    staff_client, monkeypatch, django_assert_max_num_queries
):
    import crm.queries

    make_leads(PAGE_SIZE + 1)
    headers = {"HX-Request": "true", "HX-Target": "lead-table"}
    with django_assert_max_num_queries(FRAGMENT_QUERIES):
        response = staff_client.get("/admin/crm/leads/?state=TX", headers=headers)
    body = response.content.decode()
    assert 'hx-get="/admin/crm/leads/count/?state=TX' in body
    # A result that fits on its first page is its own count: no second request.
    austin = staff_client.get("/admin/crm/leads/?city=Austin", headers=headers).content.decode()
    assert '<span class="total" id="lead-total">25 leads</span>' in austin
    assert (
        "26 leads"
        in staff_client.get("/admin/crm/leads/count/?state=TX&city=Dallas").content.decode()
    )
    monkeypatch.setattr(crm.queries, "COUNT_CAP", 3)
    count = staff_client.get("/admin/crm/leads/count/?state=TX").content.decode()
    if connection.vendor == "postgresql":  # above the cap, PostgreSQL's estimate is shown
        assert "(estimate)" in count and "more than" not in count
    else:  # no planner estimate elsewhere: the capped exact count says so
        assert "more than 3 leads" in count and "(estimate)" not in count
    assert staff_client.get("/admin/crm/leads/count/?min_score=x").status_code == 400


@pytest.mark.django_db
def test_lead_total_is_exact_below_the_cap_and_an_estimate_or_capped_above(monkeypatch):
    import crm.queries
    from crm.queries import lead_total

    make_leads(5)
    assert lead_total(Business.objects.all()) == (5, False, False)
    monkeypatch.setattr(crm.queries, "COUNT_CAP", 2)
    n, is_estimate, capped = lead_total(Business.objects.all())
    assert capped and n > 2
    assert is_estimate == (connection.vendor == "postgresql")


def test_ago_text_says_how_long_ago_in_the_largest_unit():
    from crm.templatetags.crm_tags import ago_text

    now = timezone.now()
    assert ago_text(None) == "—"
    assert ago_text(now - timedelta(seconds=20), now) == "just now"
    assert ago_text(now - timedelta(minutes=1), now) == "1 minute ago"
    assert ago_text(now - timedelta(days=2, hours=5), now) == "2 days ago"
    assert ago_text(now - timedelta(days=15), now) == "2 weeks ago"
    assert ago_text(now - timedelta(days=800), now) == "2 years ago"


@pytest.mark.django_db
def test_fragment_rows_offer_generate_site_only_for_leads_without_one(staff_client):
    leads = make_leads(2)
    from crm.lifecycle import business_advance_website

    business_advance_website(business=leads[0], to="generated", source="test")
    response = staff_client.get(
        "/admin/crm/leads/", headers={"HX-Request": "true", "HX-Target": "lead-table"}
    )
    body = response.content.decode()
    assert f'name="ids" value="{leads[1].pk}" class="link edit-only"' in body
    assert f'name="ids" value="{leads[0].pk}" class="link edit-only"' not in body
    assert 'href="tel:(512) 555-0001"' in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "owner=9223372036854775808",
        "campaign=9223372036854775808",
        "min_reviews=99999999999999999999",
        "ids=99999999999999999999",
    ],
)
def test_numbers_too_big_to_store_are_invalid_input_not_a_500(staff_user, query):
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(staff_user)
    for url in ("/admin/crm/leads/", "/admin/crm/leads/count/", "/admin/crm/leads/export.csv"):
        response = client.get(f"{url}?{query}")
        if response.streaming:
            b"".join(response.streaming_content)
        assert response.status_code < 500, url


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_full_page_whose_count_is_not_cheap_shows_the_estimate_and_asks_for_the_count(
    staff_client, monkeypatch
):
    import crm.queries

    make_leads(PAGE_SIZE + 2)
    exact = staff_client.get("/admin/crm/leads/?state=TX").content.decode()
    assert '<span class="total" id="lead-total">52 leads</span>' in exact
    # As if the filter matched more than the page's own query may count.
    monkeypatch.setattr(crm.queries, "INDEX_COUNT_MAX", 0)
    monkeypatch.setattr(crm.queries, "HEAP_COUNT_MAX", 0)
    page = staff_client.get("/admin/crm/leads/?state=TX").content.decode()
    total = re.search(r'<span class="total" id="lead-total"([^>]*)>(.*?)</span>', page)
    assert 'hx-get="/admin/crm/leads/count/?state=TX&amp;sort=-created"' in total.group(1)
    assert re.match(r"about [\d,]+ leads? <abbr", total.group(2))
    assert "the exact count follows" in total.group(2)
    counted = staff_client.get("/admin/crm/leads/count/?state=TX").content.decode()
    assert counted == (
        '<span class="total" id="lead-total">52 leads</span>'
        '<span id="select-all-count" hx-swap-oob="true">52 </span>'
    )
    assert '<span id="select-all-count"></span>matching this filter' in page


@pytest.mark.django_db
def test_unicode_digits_in_page_numbers_and_ids_are_refused_not_a_500(sales_client):
    make_leads(2)
    assert sales_client.get("/admin/crm/leads/?p=%C2%B2&owner=%C2%B2").status_code == 200
    response = sales_client.post(
        "/admin/crm/leads/bulk/status/", {"ids": ["²"], "to_status": "emailed"}
    )
    assert response.status_code == 302
    assert "Lead ids must be numbers." in sales_client.get(response["Location"]).content.decode()
    assert not Business.objects.exclude(contact_status="pending").exists()
