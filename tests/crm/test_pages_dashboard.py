"""Dashboard funnel and revenue, pipeline board."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from crm.lifecycle import (
    business_advance,
    business_advance_website,
    business_record_contact,
    business_set_status,
)
from crm.models import Business
from crm.services import business_create


def funnel(response) -> dict[str, int]:
    html = response.content.decode()
    pairs = re.findall(
        r'<span class="funnel-label">([^<]+)</span>.*?<span class="funnel-count">(\d+)</span>',
        html,
        re.S,
    )
    return {label: int(n) for label, n in pairs}


@pytest.fixture
def world(db):
    leads = [
        business_create(data={"name": f"Lead {i}", "city": "Austin"}, source="t") for i in range(5)
    ]
    Business.objects.filter(pk__in=[leads[0].pk, leads[1].pk]).update(qualification_score=80)
    business_advance_website(business=leads[0], to="generated", source="test")
    for lead in leads[:3]:
        business_record_contact(business=lead, channel="email", source="test")
    business_advance(business=leads[0], to="clicked", source="test")
    business_advance(business=leads[1], to="opened", source="test")
    business_advance(business=leads[1], to="unsubscribed", source="test")
    return leads


@pytest.mark.django_db
def test_all_time_funnel_counts_leads_that_reached_each_stage(client, staff_user, world):
    client.force_login(staff_user)
    response = client.get("/admin/crm/?period=all")
    assert response.status_code == 200
    counts = funnel(response)
    assert counts["Scraped"] == 5
    assert counts["Qualified"] == 2
    assert counts["Site generated"] == 1
    assert counts["Contacted"] == 3
    # the unsubscribed lead still reached "opened"
    assert counts["Opened / clicked"] == 2
    assert counts["Replied"] == 0
    assert "66.7%" in response.content.decode()  # engaged / contacted


@pytest.mark.django_db
def test_period_funnel_counts_each_stage_by_its_own_time(client, staff_user, world):
    Business.objects.filter(pk=world[4].pk).update(created_at=timezone.now() - timedelta(days=40))
    client.force_login(staff_user)
    week = funnel(client.get("/admin/crm/?period=week"))
    assert week["Scraped"] == 4
    assert funnel(client.get("/admin/crm/?period=90d"))["Scraped"] == 5
    # an unknown period falls back to the default instead of failing
    assert client.get("/admin/crm/?period=forever").status_code == 200


@pytest.mark.django_db
def test_dashboard_shows_revenue_and_recent_activity(client, staff_user, world):
    client.force_login(staff_user)
    body = client.get("/admin/crm/").content.decode()
    assert "Revenue" in body and "MRR" in body
    assert "Lead 0" in body  # recent activity names the lead


@pytest.mark.django_db
def test_pipeline_has_a_column_per_stage_with_counts_and_stalled_leads(client, staff_user, world):
    old = timezone.now() - timedelta(days=30)
    business_set_status(business=world[3], actor=staff_user, contact_status="interested")
    Business.objects.filter(pk=world[3].pk).update(contact_status_changed_at=old)
    client.force_login(staff_user)
    response = client.get("/admin/crm/pipeline/")
    html = response.content.decode()
    assert response.status_code == 200
    column = re.search(r'id="col-interested".*?</section>', html, re.S).group(0)
    assert '<span class="count">1</span>' in column
    assert "1 stalled" in column
    assert "Lead 3" in column
    pending = re.search(r'id="col-pending".*?</section>', html, re.S).group(0)
    assert '<span class="count">1</span>' in pending  # Lead 4


@pytest.mark.django_db
def test_pipeline_for_my_leads_only(client, staff_user, world):
    Business.objects.filter(pk=world[4].pk).update(owner=staff_user)
    client.force_login(staff_user)
    html = client.get("/admin/crm/pipeline/?owner=me").content.decode()
    assert "1 lead." in html


@pytest.mark.django_db
def test_a_paid_purchase_reaches_the_last_stages_and_the_revenue(
    client, staff_user, business, settings
):
    """End to end through the Recurrente webhook (signed like Svix): the dashboard counts
    the purchase, the active subscription and the money."""
    from sites.models import Site
    from tests.billing.conftest import WEBHOOK_SECRET, make_checkout, post_signed, sample

    settings.RECURRENTE_WEBHOOK_SECRET = WEBHOOK_SECRET
    site = Site.objects.create(business=business, slug="joes-plumbing", html="<p>Joe</p>")
    make_checkout(site)
    assert post_signed(client, sample("payment_intent_succeeded")).status_code == 200
    client.force_login(staff_user)
    response = client.get("/admin/crm/?period=all")
    counts = funnel(response)
    assert counts["Purchased"] == 1
    assert counts["Active subscription"] == 1
    body = response.content.decode()
    revenue = re.search(r"Revenue \(all time\)</div><div class=\"kpi-value\">([^<]+)<", body)
    assert revenue.group(1) == "Q100.00"  # the sample's 10000 GTQ cents
