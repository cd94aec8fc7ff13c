"""Build a campaign from the lead table in a real browser: filter, select all matching,
Start campaign, watch the live audience preview follow the filters, start it, see results."""

import pytest
from django.core import mail

from campaigns.models import Campaign, Message
from crm.lifecycle import business_opt_out
from crm.services import business_create
from tests.browser.conftest import login, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def seed():
    made = []
    for i in range(6):
        made.append(
            business_create(
                data={
                    "name": f"Campaign Lead {i}",
                    "city": "Austin" if i < 4 else "Dallas",
                    "state": "TX",
                    "category": "Plumber",
                    "email": f"owner{i}@lead{i}.example",
                },
                source="browser-test",
            )
        )
    business_opt_out(business=made[3], channel="email", source="test")
    return made


def test_build_preview_and_start_a_campaign_from_the_lead_table(page, live_server, sales_user):
    seed()
    login(page, live_server, sales_user)
    page.goto(f"{live_server.url}/admin/crm/leads/?city=Austin")
    page.check("#select-all-matching")
    with page.expect_navigation():
        page.click("#bulk button:has-text('Start campaign')")
    assert "/admin/crm/campaigns/new/" in page.url and "city=Austin" in page.url

    preview = page.locator("#audience-preview")
    assert preview.locator("#eligible-count").inner_text() == "3"
    assert "Opted out of email" in preview.inner_text()

    # The preview follows the filters live (htmx), without a page load.
    page.evaluate("window.__noReload = true")
    page.click("summary:has-text('Lead filters')")
    page.fill("#campaign-form input[name=city]", "Dallas")
    page.locator("#eligible-count", has_text="2").wait_for()
    page.fill("#campaign-form input[name=city]", "Austin")
    page.locator("#eligible-count", has_text="3").wait_for()
    page.fill("#id_subject_template", "New website for {{ business_name }}")
    page.locator("#audience-preview", has_text="Subject: New website for Campaign Lead").wait_for()
    assert page.evaluate("window.__noReload") is True
    page.fill("#id_name", "Austin plumbers, browser")
    page.fill("#id_send_rate_per_minute", "1000")
    screenshot(page, "campaign-builder")

    with page.expect_navigation():
        page.click("button[value=start]")
    campaign = Campaign.objects.get()
    assert page.url.endswith(f"/admin/crm/campaigns/{campaign.pk}/")
    assert campaign.audience_query == "city=Austin"
    assert Message.objects.filter(campaign=campaign).count() == 3
    page.reload()
    page.locator("#campaign-status", has_text="Completed").wait_for()
    assert page.locator("td[data-metric=sent] strong").inner_text() == "3"
    assert sorted(e.to[0] for e in mail.outbox) == [
        "owner0@lead0.example",
        "owner1@lead1.example",
        "owner2@lead2.example",
    ]
    screenshot(page, "campaign-results")
