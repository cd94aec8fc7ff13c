"""The staff pages in a real browser: filter, sort, select all + export, change a status."""

import csv
import io
from pathlib import Path

import pytest

from crm.lifecycle import business_advance, business_record_contact
from crm.services import business_create
from tests.browser.conftest import login, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def seed():
    leads = []
    cities = ["Austin", "Dallas", "Houston"]
    categories = ["Plumber", "Electrician", "Roofer", "Dentist"]
    for i in range(18):
        lead = business_create(
            data={
                "name": f"{['Best', 'Prime', 'Lone Star', 'Hill Country'][i % 4]} "
                f"{categories[i % 4]} {i}",
                "city": cities[i % 3],
                "state": "TX",
                "category": categories[i % 4],
                "email": f"hello{i}@biz{i}.example",
                "phone": f"(512) 555-01{i:02d}",
                "rating": f"{3.5 + (i % 15) / 10:.1f}",
                "review_count": 10 + i * 7,
                "photo_count": i,
            },
            source="browser-test",
        )
        leads.append(lead)
    for lead in leads[:9]:
        business_record_contact(business=lead, channel="email", source="test")
    for lead in leads[:4]:
        business_advance(business=lead, to="opened", source="test")
    business_advance(business=leads[0], to="replied", source="test")
    return leads


def row_names(page) -> list[str]:
    return page.locator("#lead-table tbody .lead-name").all_inner_texts()


def test_staff_day_in_the_lead_table(page, live_server, sales_user):
    leads = seed()
    login(page, live_server, sales_user)
    screenshot(page, "dashboard")

    page.goto(f"{live_server.url}/admin/crm/leads/")
    assert len(row_names(page)) == 18
    screenshot(page, "lead-list")
    # A marker on window survives htmx swaps but not a full page load.
    page.evaluate("window.__noReload = true")

    # filter by status: the table swaps in place and the URL follows
    page.locator("#filters details.group").first.evaluate("d => d.open = true")
    with page.expect_response(lambda r: "contact_status=emailed" in r.url):
        page.get_by_label("Emailed").check()
    page.wait_for_function("document.querySelectorAll('#lead-table tbody .lead-name').length == 5")
    assert "contact_status=emailed" in page.url
    # and by city
    page.locator("details.group", has_text="Place").evaluate("d => d.open = true")
    page.fill("#id_city", "Austin")
    with page.expect_response(lambda r: "city=Austin" in r.url):
        page.locator("#id_city").dispatch_event("change")
    # emailed (not opened) leads are 4–8; of those only lead 6 is in Austin
    page.wait_for_function("document.querySelectorAll('#lead-table tbody .lead-name').length == 1")
    assert "city=Austin" in page.url and "contact_status=emailed" in page.url
    assert page.evaluate("window.__noReload") is True
    assert row_names(page) == [leads[6].name]
    assert "&q=&" not in page.url  # empty filters stay out of the shared URL

    # sort the emailed leads by name
    page.goto(f"{live_server.url}/admin/crm/leads/?contact_status=emailed")
    page.evaluate("window.__noReload = true")
    names = row_names(page)

    # sort by name: header link swaps the table and pushes the URL
    name_header = page.locator("#lead-table thead th", has_text="Name").locator("a")
    name_header.click()
    page.wait_for_selector("#lead-table th[aria-sort=ascending] >> text=Name")
    page.wait_for_url("**sort=name**")
    assert row_names(page) == sorted(names)
    name_header.click()
    page.wait_for_selector("#lead-table th[aria-sort=descending] >> text=Name")
    page.wait_for_url("**sort=-name**")
    assert row_names(page) == sorted(names, reverse=True)
    assert page.evaluate("window.__noReload") is True

    # back button restores the previous filter
    page.go_back()
    page.wait_for_url("**sort=name")
    page.wait_for_selector("#lead-table th[aria-sort=ascending] >> text=Name")

    # select all matching and export CSV
    page.goto(f"{live_server.url}/admin/crm/leads/?city=Houston")
    page.check("#select-all-matching")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export CSV").click()
    path = download_info.value.path()
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
    assert {r["city"] for r in rows} == {"Houston"}
    assert len(rows) == 6

    # open a lead, change its status, see the timeline line appear without reload
    target = leads[5]
    page.goto(f"{live_server.url}/admin/crm/leads/{target.pk}/")
    page.evaluate("window.__noReload = true")
    page.select_option("#id_contact_status", "interested")
    page.fill("#id_note", "Wants a quote")
    page.get_by_role("button", name="Change status").click()
    page.wait_for_selector("#timeline >> text=Contact status emailed → interested")
    assert page.evaluate("window.__noReload") is True
    assert page.locator("#contact-status").inner_text() == "Interested"
    assert "by sales" in page.locator("#timeline li").first.inner_text()
    screenshot(page, "lead-detail")

    page.goto(f"{live_server.url}/admin/crm/pipeline/")
    column = page.locator("section.column", has=page.locator("#col-interested"))
    assert target.name in column.inner_text()
    screenshot(page, "pipeline")


def test_login_page_and_redirect(page, live_server, staff_user):
    page.goto(f"{live_server.url}/admin/crm/leads/?city=Austin")
    assert "/accounts/login/" in page.url
    screenshot(page, "login")
    page.fill("input[name=username]", "staff")
    page.fill("input[name=password]", "pw-staff-123")
    page.click("form button[type=submit]")
    page.wait_for_url("**/admin/crm/leads/?city=Austin")


def test_a_filter_change_fetches_its_total_and_the_select_all_label_follows(
    page, live_server, sales_user
):
    for i in range(55):
        business_create(
            data={"name": f"Waco Roofer {i}", "city": "Waco", "state": "TX"}, source="test"
        )
    login(page, live_server, sales_user)
    page.goto(f"{live_server.url}/admin/crm/leads/")
    page.evaluate("window.__noReload = true")
    page.locator("details.group", has_text="Place").evaluate("d => d.open = true")
    page.fill("#id_city", "Waco")
    with page.expect_response(lambda r: "/admin/crm/leads/count/" in r.url):
        page.locator("#id_city").dispatch_event("change")
    # The fragment came without a total (a full first page); the lazy count filled it in,
    # and its out-of-band part the "Select all N matching" label.
    page.locator("#lead-total", has_text="55 leads").wait_for()
    page.locator("#select-all-count", has_text="55").wait_for()
    assert page.evaluate("window.__noReload") is True
