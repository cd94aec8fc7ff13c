"""The prospect's purchase in a real browser: preview → Purchase → sandbox checkout → Pay,
and the lead shows purchased in the CRM."""

import pytest

from crm.services import business_create
from tests.browser.conftest import login, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _sandbox(settings):
    settings.PAYMENTS_BACKEND = "billing.backends.SandboxBackend"
    settings.RECURRENTE_PUBLIC_KEY = settings.RECURRENTE_SECRET_KEY = ""
    settings.RECURRENTE_WEBHOOK_SECRET = ""  # the sandbox signs with its derived key
    settings.SETUP_FEE_CENTS, settings.MONTHLY_PRICE_CENTS = 40000, 9700
    settings.PRICE_CURRENCY = "USD"


def test_prospect_buys_the_site_and_staff_see_a_customer(page, live_server, staff_user):
    from sites.builder import generate_site

    business = business_create(
        data={
            "name": "Lone Star Plumbing",
            "email": "owner@lonestarplumbing.example",
            "phone": "(512) 555-0142",
            "city": "Austin",
            "state": "TX",
            "category": "Plumber",
        },
        source="browser-test",
    )
    site = generate_site(business)

    page.goto(f"{live_server.url}/p/{site.slug}/")
    box = page.locator("#wm-purchase")
    assert "$400.00" in box.inner_text() and "$97.00 / month" in box.inner_text()
    with page.expect_navigation():
        box.get_by_role("button", name="Purchase this website").click()
    assert "/billing/sandbox/ch_sandbox_" in page.url
    assert "SANDBOX" in page.locator("#sandbox-banner").inner_text()
    screenshot(page, "sandbox-checkout")

    with page.expect_navigation():
        page.get_by_role("button", name="Pay $497.00").click()
    assert page.url.endswith(f"/p/{site.slug}/purchase/done/")
    assert "website is live" in page.content()

    login(page, live_server, staff_user)
    page.goto(f"{live_server.url}/admin/crm/leads/{business.pk}/")
    assert page.locator("#contact-status").inner_text().strip() == "Purchased"
    assert page.locator("#website-status").inner_text().strip() == "Sold"

    page.goto(f"{live_server.url}/admin/crm/billing/")
    assert page.locator("#mrr").inner_text() == "$97.00"
    assert "Lone Star Plumbing" in page.locator("#subscription-table").inner_text()
    screenshot(page, "billing")
