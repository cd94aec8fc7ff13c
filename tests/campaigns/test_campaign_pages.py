"""Campaign pages: builder (GET with filters or ids, live preview fragment, POST start /
test / draft), list, results with progress polling, actions and roles."""

import re

import pytest
from django.core import mail

from campaigns import services
from campaigns.models import Campaign, CampaignStatus, Message
from crm.lifecycle import business_opt_out
from crm.services import business_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def leads():
    made = [
        business_create(
            data={
                "name": f"<b>Austin</b> Plumber {i}",
                "email": f"p{i}@p{i}.com",
                "city": "Austin",
                "category": "Plumber",
            },
            source="test",
        )  # fmt: skip
        for i in range(3)
    ]
    business_opt_out(business=made[2], channel="email", source="manual")
    return made


FORM = {
    "name": "Austin push",
    "channel": "email",
    "subject_template": "Hi {{ business_name }}",
    "body_template": "See {{ preview_url }}",
    "schedule": "now",
    "send_rate_per_minute": "1000",
    "daily_cap": "1000",
    "city": "Austin",
}


def test_builder_previews_the_filtered_audience_with_reasons(client, sales_user, leads):
    client.force_login(sales_user)
    response = client.get("/admin/crm/campaigns/new/?city=Austin")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="eligible-count">2<' in html
    assert 'data-reason="email_opted_out"' in html
    # Scraped names are escaped, never rendered as markup.
    assert "<b>Austin</b>" not in html and "&lt;b&gt;Austin&lt;/b&gt;" in html


def test_preview_fragment_for_htmx(client, sales_user, leads):
    client.force_login(sales_user)
    response = client.get(
        "/admin/crm/campaigns/preview/?city=Dallas&channel=email", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="audience-preview"')
    assert 'id="eligible-count">0<' in html


def test_builder_with_an_explicit_selection(client, sales_user, leads):
    client.force_login(sales_user)
    response = client.get(f"/admin/crm/campaigns/new/?ids={leads[0].pk}&ids={leads[2].pk}")
    html = response.content.decode()
    assert "2</strong> selected leads" in html and 'id="eligible-count">1<' in html


def test_post_starts_the_campaign_and_redirects_to_results(
    client, sales_user, leads, django_capture_on_commit_callbacks
):
    client.force_login(sales_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/crm/campaigns/new/", FORM)
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/crm/campaigns/{campaign.pk}/"
    assert campaign.audience_query == "city=Austin" and campaign.created_by == sales_user
    assert len(mail.outbox) == 2
    page = client.get(response["Location"]).content.decode()
    assert re.search(r'<td data-metric="sent"[^>]*><strong>2</strong>', page)
    listing = client.get("/admin/crm/campaigns/").content.decode()
    assert "Austin push" in listing


def test_invalid_template_shows_errors_and_creates_nothing(client, sales_user, leads):
    client.force_login(sales_user)
    response = client.post("/admin/crm/campaigns/new/", {**FORM, "body_template": "{{ secret }}"})
    assert response.status_code == 200
    assert "Unknown merge field" in response.content.decode()
    assert not Campaign.objects.exists()


def test_send_me_a_test_goes_to_the_staff_users_address_only(client, sales_user, leads):
    client.force_login(sales_user)
    response = client.post("/admin/crm/campaigns/new/", {**FORM, "action": "test"})
    assert response.status_code == 200
    assert "Test sent to sales@example.com" in response.content.decode()
    assert 'value="Austin push"' in response.content.decode()  # the builder keeps its fields
    assert [e.to for e in mail.outbox] == [["sales@example.com"]]
    assert mail.outbox[0].subject.startswith("[TEST] Hi ")
    assert not Campaign.objects.exists() and not Message.objects.exists()


def test_a_double_submitted_builder_starts_one_campaign(
    client, sales_user, leads, django_capture_on_commit_callbacks
):
    client.force_login(sales_user)
    html = client.get("/admin/crm/campaigns/new/?city=Austin").content.decode()
    key = html.split('name="idempotency_key" value="')[1].split('"')[0]
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/admin/crm/campaigns/new/", {**FORM, "idempotency_key": key})
        second = client.post("/admin/crm/campaigns/new/", {**FORM, "idempotency_key": key})
    assert first["Location"] == second["Location"]
    assert Campaign.objects.count() == 1
    assert len(mail.outbox) == 2


def test_viewer_cannot_build_or_act_but_can_read(client, viewer_user, leads):
    campaign = services.campaign_create(name="x", audience_query="city=Austin", body_template="b")
    client.force_login(viewer_user)
    assert client.get("/admin/crm/campaigns/new/").status_code == 403
    assert client.post("/admin/crm/campaigns/new/", FORM).status_code == 403
    assert client.post(f"/admin/crm/campaigns/{campaign.pk}/start/").status_code == 403
    assert client.get(f"/admin/crm/campaigns/{campaign.pk}/").status_code == 200
    assert client.get("/admin/crm/campaigns/").status_code == 200
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/crm/campaigns/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_pause_resume_cancel_buttons(client, sales_user, leads):
    from datetime import timedelta

    from django.utils import timezone

    campaign = services.campaign_create(
        name="later",
        audience_query="city=Austin",
        subject_template="s",
        body_template="b",
        scheduled_at=timezone.now() + timedelta(days=1),
    )
    services.campaign_start(campaign=campaign)
    client.force_login(sales_user)
    base = f"/admin/crm/campaigns/{campaign.pk}/"
    assert client.get(f"/admin/crm/campaigns/{campaign.pk}/pause/").status_code == 405
    client.post(base + "pause/")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    client.post(base + "cancel/")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    response = client.post(base + "resume/", follow=True)
    assert "Cannot resume" in response.content.decode()


def test_progress_fragment_polls_while_sending(client, staff_user, leads):
    from datetime import timedelta

    from django.utils import timezone

    campaign = services.campaign_create(
        name="later", audience_query="city=Austin", subject_template="s", body_template="b",
        scheduled_at=timezone.now() + timedelta(days=1),
    )  # fmt: skip
    services.campaign_start(campaign=campaign)
    client.force_login(staff_user)
    response = client.get(
        f"/admin/crm/campaigns/{campaign.pk}/?fragment=progress", HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="campaign-progress"')
    assert 'hx-trigger="every 3s"' in html and "2 queued" in html


def test_lead_table_bulk_form_with_select_all_matching_uses_the_filter(client, sales_user, leads):
    client.force_login(sales_user)
    # What the lead table's bulk form sends (GET): filters, row ids, all=1 and its own fields.
    response = client.get(
        f"/admin/crm/campaigns/new/?city=Austin&ids={leads[0].pk}&all=1&to_status=pending"
        "&next=/admin/crm/leads/"
    )
    html = response.content.decode()
    assert "selected lead" not in html and 'id="eligible-count">2<' in html


def test_start_campaign_from_the_lead_table_posts_and_opens_a_clean_builder_url(sales_user, leads):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(sales_user)
    page = client.get("/admin/crm/leads/?city=Austin").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert 'formmethod="get"' not in page  # no bulk button puts the token in a URL
    form = {"city": "Austin", "ids": [str(leads[1].pk), str(leads[0].pk)], "to_status": "x"}
    assert client.post("/admin/crm/campaigns/new/", {**form, "audience": "1"}).status_code == 403
    response = client.post(
        "/admin/crm/campaigns/new/",
        {**form, "audience": "1", "next": "/admin/crm/leads/", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 303
    ids = sorted([leads[0].pk, leads[1].pk])
    assert response["Location"] == (
        f"/admin/crm/campaigns/new/?city=Austin&ids={ids[0]}&ids={ids[1]}"
    )
    assert not Campaign.objects.exists()
    builder = client.get(response["Location"]).content.decode()
    assert 'id="eligible-count">2<' in builder


def test_campaign_list_and_results_pages_use_a_bounded_number_of_queries(
    client, staff_user, leads, django_assert_max_num_queries
):
    from datetime import timedelta

    from django.utils import timezone

    for i in range(6):
        campaign = services.campaign_create(
            name=f"c{i}", audience_query="city=Austin", subject_template="s", body_template="b",
            scheduled_at=timezone.now() + timedelta(days=1),
        )  # fmt: skip
        services.campaign_start(campaign=campaign)
    client.force_login(staff_user)
    # Whatever the number of campaigns: the page, then one grouped pass per kind of measure
    # (leads per metric, opt-outs, purchases, revenue) for the whole page.
    with django_assert_max_num_queries(9):
        assert client.get("/admin/crm/campaigns/").status_code == 200
    with django_assert_max_num_queries(14):
        assert client.get(f"/admin/crm/campaigns/{campaign.pk}/").status_code == 200
