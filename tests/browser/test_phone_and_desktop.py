"""Every staff page on a phone (390×844) and a desktop (1440×900), in Debian's Chromium: no
page scrolls sideways, the navigation folds into a menu, a lead shows its status and
actions first, and the pages finished in issue 17 work at both sizes: replies handled from
the list, billing in tabs, dashboard figures that open the leads they count, friendly
error pages and a favicon."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from billing.models import Subscription
from campaigns.models import Message
from tests.browser.conftest import login, screenshot, sideways
from tests.browser.world import build_page_world

pytestmark = pytest.mark.django_db(transaction=True)


# The phone screenshots the README shows (docs/screenshots/phone-<name>.png).
PHONE_SHOTS = {"dashboard", "lead-detail", "replies", "billing", "lead-list"}


def staff_pages(world) -> dict[str, str]:
    """name → path of every staff page of the world but the lead table, the pipeline and
    the campaign builder (test_the_reworked_pages_fit_the_window)."""
    w = world.world
    return {
        "dashboard": "/admin/crm/",
        "lead-detail": f"/admin/crm/leads/{w.leads['A'].pk}/",
        "campaigns": "/admin/crm/campaigns/",
        "campaign-results": f"/admin/crm/campaigns/{w.c1.pk}/",
        "replies": "/admin/crm/replies/",
        "billing": "/admin/crm/billing/",
        "billing-payments": "/admin/crm/billing/?tab=payments",
        "analytics": "/admin/crm/analytics/",
        "analytics-campaigns": "/admin/crm/analytics/?section=campaigns",
        "inbox": "/admin/crm/inbox/",
        "tokens": "/admin/crm/tokens/",
        "not-found": "/admin/crm/leads/999999/",
    }


def test_no_staff_page_scrolls_sideways(sized_page, live_server, superuser, settings):
    page = sized_page
    world = build_page_world(settings, token_user=superuser)
    login(page, live_server, superuser)
    wide = {}
    for name, path in staff_pages(world).items():
        page.goto(live_server.url + path)
        if overflow := sideways(page):
            wide[name] = overflow
        if page.size == "phone" and name in PHONE_SHOTS:
            screenshot(page, f"phone-{name}")
    assert page.evaluate("window.innerWidth") == page.viewport_size["width"]
    assert wide == {}


def test_the_reworked_pages_fit_the_window(sized_page, live_server, superuser, settings):
    """The lead table, the pipeline and the campaign builder (reworked in issue 17 items 3-5
    on the shared classes of app.css) do not scroll sideways either."""
    page = sized_page
    build_page_world(settings)
    login(page, live_server, superuser)
    wide = {}
    for name, path in {
        "lead-list": "/admin/crm/leads/",
        "pipeline": "/admin/crm/pipeline/",
        "campaign-builder": "/admin/crm/campaigns/new/",
    }.items():
        page.goto(live_server.url + path)
        if overflow := sideways(page):
            wide[name] = overflow
        if page.size == "phone" and name in PHONE_SHOTS:
            screenshot(page, f"phone-{name}")
    assert wide == {}


def test_the_navigation_folds_into_a_menu_on_a_phone(sized_page, live_server, superuser):
    page = sized_page
    login(page, live_server, superuser)
    menu = page.get_by_role("button", name="Menu")
    replies = page.locator("#topnav").get_by_role("link", name="Replies")
    docs = page.locator("#topnav").get_by_role("link", name="API docs")
    if page.size == "phone":
        assert menu.is_visible() and not replies.is_visible()
        menu.click()
        assert menu.get_attribute("aria-expanded") == "true"
        assert replies.is_visible() and docs.is_visible()
        screenshot(page, "phone-menu")
        page.keyboard.press("Escape")
        assert not replies.is_visible()
        assert menu.get_attribute("aria-expanded") == "false"
        menu.click()
    else:
        assert not menu.is_visible()
        assert replies.is_visible() and docs.is_visible()
    assert sideways(page) == 0
    with page.expect_navigation():
        page.locator("#topnav").get_by_role("link", name="API tokens").click()
    assert page.url.endswith("/admin/crm/tokens/")
    # (folded away again on a phone: a hidden link, so found by its address)
    assert page.locator("#topnav a[href='/admin/crm/tokens/']").get_attribute("aria-current") == (
        "page"
    )


def test_a_lead_shows_its_status_and_actions_first_on_a_phone(
    sized_page, live_server, sales_user, settings
):
    page = sized_page
    world = build_page_world(settings)
    login(page, live_server, sales_user)
    page.goto(f"{live_server.url}/admin/crm/leads/{world.world.leads['A'].pk}/")
    status = page.locator("#h-status").bounding_box()
    actions = page.locator("#h-actions").bounding_box()
    business = page.locator("#h-fields").bounding_box()
    if page.size == "phone":
        # one column: status, then actions, then the business's details
        assert status["y"] < actions["y"] < business["y"]
        assert status["y"] < page.viewport_size["height"]  # on the first screen
        assert page.get_by_role("button", name="Change status").is_visible()
    else:
        # two columns: details on the left, status beside them at the top
        assert status["x"] > business["x"] + business["width"]
        assert abs(status["y"] - business["y"]) < 5
    assert sideways(page) == 0


def test_replies_are_answered_marked_and_opened_from_the_list(
    sized_page, live_server, sales_user, settings
):
    page = sized_page
    world = build_page_world(settings)
    reply_c, reply_b = world.replies
    login(page, live_server, sales_user)
    page.goto(f"{live_server.url}/admin/crm/replies/")
    page.evaluate("window.__noReload = true")
    count = page.locator("#nav-unread")
    assert count.get_attribute("aria-label") == "2 unread"
    menu_count = page.locator("#menu-unread")
    assert menu_count.inner_text() == "2"

    row = page.locator(f"#reply-{reply_b.pk}")
    row.get_by_role("button", name="Mark read").click()
    row.get_by_role("button", name="Mark unread").wait_for()
    page.wait_for_function("document.querySelector('#nav-unread').textContent.trim() === '1'")
    assert menu_count.inner_text() == "1"
    reply_b.refresh_from_db()
    assert reply_b.read_at is not None
    row.get_by_role("button", name="Mark unread").click()
    row.get_by_role("button", name="Mark read").wait_for()
    reply_b.refresh_from_db()
    assert reply_b.read_at is None

    row = page.locator(f"#reply-{reply_c.pk}")
    row.locator("summary", has_text="Reply").click()
    assert row.get_by_label("Subject").input_value() == "Re: Your new website"
    row.get_by_label("Email to Charlie").fill("A two-location site with booking is $97/month.")
    assert sideways(page) == 0
    row.get_by_role("button", name="Send email").click()
    row.get_by_text("Answer sent").wait_for()
    assert page.evaluate("window.__noReload") is True
    [email] = mail.outbox
    assert email.to == [world.world.leads["C"].email]
    assert "two-location site" in email.body
    assert Message.objects.get(in_reply_to=reply_c).status == "sent"

    with page.expect_navigation():
        row.get_by_role("link", name="Open lead").click()
    assert page.url.endswith(f"/admin/crm/leads/{world.world.leads['C'].pk}/")


def test_billing_tabs_search_pages_and_a_confirmed_cancel(
    sized_page, live_server, superuser, settings
):
    page = sized_page
    build_page_world(settings)
    login(page, live_server, superuser)
    page.goto(f"{live_server.url}/admin/crm/billing/")
    page.evaluate("window.__noReload = true")
    assert page.locator("#mrr").inner_text() == "Q100.00 · $194.00"
    assert page.locator("#subscription-table tbody tr").count() == 3

    page.locator(".tabs").get_by_role("link", name="Customers").click()
    page.locator("#customer-table").wait_for()
    assert "tab=customers" in page.url
    assert page.locator(".tabs a[aria-current=page]").inner_text() == "Customers"
    page.fill("#billing-q", "foxtrot")
    page.wait_for_function("document.querySelectorAll('#customer-table tbody tr').length === 1")
    assert "Foxtrot" in page.locator("#customer-table").inner_text()
    page.wait_for_url("**q=foxtrot**")
    assert page.evaluate("window.__noReload") is True
    assert sideways(page) == 0

    page.locator(".tabs").get_by_role("link", name="Subscriptions").click()
    page.locator("#subscription-table").wait_for()
    delta = Subscription.objects.get(customer__business__name="Delta")
    with page.expect_navigation():
        page.locator(f"#subscription-{delta.pk}").get_by_role("link", name="Cancel…").click()
    assert page.get_by_role("heading", name="Cancel this subscription?").is_visible()
    assert "Delta" in page.locator("main").inner_text()
    assert sideways(page) == 0
    delta.refresh_from_db()
    assert delta.cancel_requested_at is None  # looking changed nothing
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, cancel the subscription").click()
    assert "tab=subscriptions" in page.url
    assert "Cancellation of" in page.locator(".flash").inner_text()
    delta.refresh_from_db()
    assert delta.cancel_requested_at is not None and delta.status == "cancelled"


def test_a_funnel_stage_opens_the_lead_table_filtered_to_it(
    sized_page, live_server, staff_user, settings
):
    page = sized_page
    world = build_page_world(settings)
    login(page, live_server, staff_user)
    page.goto(f"{live_server.url}/admin/crm/?period=all")
    row = page.locator("a.funnel-row", has_text="Replied")
    count = int(row.locator(".funnel-count").inner_text())
    with page.expect_navigation():
        row.click()
    assert re.search(r"/admin/crm/leads/\?engagement=replied$", page.url)
    table = page.locator("#lead-table").inner_text()
    replied = [lead for lead in world.world.leads.values() if lead.name in table]
    # Alpha, Bravo and Charlie replied; Delta and Foxtrot went further (purchased)
    assert count == len(replied) == 5
    assert {lead.name for lead in replied} == {"Alpha", "Bravo", "Charlie", "Delta", "Foxtrot"}

    page.goto(f"{live_server.url}/admin/crm/?period=all")
    with page.expect_navigation():
        page.locator("a.kpi-link", has_text="MRR").click()
    assert page.url.endswith("/admin/crm/billing/?tab=subscriptions&status=active")


def test_error_pages_are_friendly_and_every_page_has_a_favicon(
    sized_page, live_server, viewer_user, settings
):
    page = sized_page
    settings.DEBUG = False
    response = page.goto(f"{live_server.url}/no-such-page/")
    assert response.status == 404
    assert page.get_by_role("heading", name="This page does not exist").is_visible()
    assert sideways(page) == 0
    icon = page.locator("link[rel=icon][type='image/svg+xml']").get_attribute("href")
    assert page.request.get(live_server.url + icon).status == 200
    favicon = page.request.get(f"{live_server.url}/favicon.ico")
    assert favicon.status == 200 and favicon.headers["content-type"] == "image/x-icon"

    login(page, live_server, viewer_user)
    response = page.goto(f"{live_server.url}/admin/crm/tokens/")
    assert response.status == 403
    assert page.get_by_role("heading", name="Your role does not allow this").is_visible()
    assert page.get_by_role("link", name="Go to the dashboard").is_visible()
    assert sideways(page) == 0


DRAWER_PAGE = """<!doctype html><html><head>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{url}/static/css/app.css">
<script src="{url}/static/js/app.js"></script>
</head><body><main>
<button class="drawer-toggle btn" data-toggle aria-controls="filters" aria-expanded="false">
Filters</button>
<div class="leads-page">
  <aside class="sidebar card drawer" id="filters" aria-label="Filters">
    <button class="drawer-close btn" data-close="filters">Close</button>
    <label for="city">City</label><input id="city" name="city">
  </aside>
  <section class="card">The table</section>
</div></main></body></html>"""


def test_the_shared_drawer_slides_in_on_a_phone_and_stays_put_on_a_desktop(sized_page, live_server):
    """The drawer pattern of app.css + app.js that a filter sidebar opts into."""
    page = sized_page
    page.goto(f"{live_server.url}/accounts/login/")  # the live server's origin
    page.set_content(DRAWER_PAGE.format(url=live_server.url), wait_until="load")
    toggle = page.get_by_role("button", name="Filters")
    city = page.get_by_label("City")
    if page.size == "desktop":
        assert not toggle.is_visible() and city.is_visible()
        return
    assert toggle.is_visible() and not city.is_visible()
    toggle.click()
    page.wait_for_function(
        "getComputedStyle(document.getElementById('filters')).transform === 'none'"
    )
    assert city.is_visible() and toggle.get_attribute("aria-expanded") == "true"
    assert page.evaluate("document.activeElement.textContent.trim()") == "Close"
    city.fill("Austin")  # a click inside keeps it open
    assert page.locator("#filters").get_attribute("class").split().count("is-open") == 1
    page.mouse.click(380, 400)  # the backdrop, outside the drawer
    page.wait_for_function("!document.getElementById('filters').classList.contains('is-open')")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    page.get_by_role("button", name="Close").click()
    assert toggle.get_attribute("aria-expanded") == "false"
    assert page.evaluate("document.activeElement.textContent.trim()") == "Filters"
    assert sideways(page) == 0
