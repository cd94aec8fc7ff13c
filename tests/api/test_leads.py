"""The CRM JSON API: leads (list, detail, status), pipeline, stats and the legacy list."""

from __future__ import annotations

import pytest

from crm.lifecycle import business_record_contact
from crm.models import Business, LeadEvent
from crm.services import business_create
from crm.tokens import token_create

pytestmark = pytest.mark.django_db


def _bearer(user, name="t"):
    _, key = token_create(user=user, name=name)
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def _lead(name, city="Austin", category="Plumber", **extra):
    return business_create(
        data={"name": name, "city": city, "state": "TX", "category": category, **extra},
        source="test",
    )


@pytest.fixture
def leads(db):
    made = [_lead(f"Lead {i:02d}", city="Austin" if i % 2 else "Dallas") for i in range(7)]
    business_record_contact(business=made[1], channel="email", source="provider")
    return made


def test_leads_list_filters_with_the_lead_filterset(client, staff_user, leads):
    client.force_login(staff_user)
    body = client.get("/api/v1/crm/leads", {"city": "austin"}).json()
    assert {item["name"] for item in body["items"]} == {"Lead 01", "Lead 03", "Lead 05"}
    assert body["total"] == 3 and body["total_is_estimate"] is False
    body = client.get(
        "/api/v1/crm/leads", {"contact_status": ["emailed", "opened"], "city": "Austin"}
    ).json()
    assert [item["name"] for item in body["items"]] == ["Lead 01"]
    assert body["items"][0]["contact_status"] == "emailed"


def test_leads_list_pages_with_cursors_both_ways(client, staff_user, leads):
    client.force_login(staff_user)
    first = client.get("/api/v1/crm/leads", {"sort": "name", "limit": 3}).json()
    assert [i["name"] for i in first["items"]] == ["Lead 00", "Lead 01", "Lead 02"]
    assert first["prev_cursor"] is None and first["next_cursor"]
    second = client.get(
        "/api/v1/crm/leads", {"sort": "name", "limit": 3, "after": first["next_cursor"]}
    ).json()
    assert [i["name"] for i in second["items"]] == ["Lead 03", "Lead 04", "Lead 05"]
    back = client.get(
        "/api/v1/crm/leads", {"sort": "name", "limit": 3, "before": second["prev_cursor"]}
    ).json()
    assert [i["name"] for i in back["items"]] == ["Lead 00", "Lead 01", "Lead 02"]
    last = client.get(
        "/api/v1/crm/leads", {"sort": "name", "limit": 3, "after": second["next_cursor"]}
    ).json()
    assert [i["name"] for i in last["items"]] == ["Lead 06"] and last["next_cursor"] is None


def test_leads_list_sorts_descending(client, staff_user, leads):
    client.force_login(staff_user)
    body = client.get("/api/v1/crm/leads", {"sort": "-name", "limit": 2}).json()
    assert [i["name"] for i in body["items"]] == ["Lead 06", "Lead 05"]
    assert body["sort"] == "-name"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_rating": "9"}, "min_rating"),
        ({"min_rating": "lots"}, "min_rating"),
        ({"contact_status": "asleep"}, "contact_status"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"owner": "bob"}, "owner"),
        ({"sort": "shoe_size"}, "sort"),
        ({"after": "not-a-cursor"}, "after"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_leads_list_bad_input_is_422_naming_the_field(client, staff_user, leads, params, field):
    client.force_login(staff_user)
    response = client.get("/api/v1/crm/leads", params)
    assert response.status_code == 422
    assert any(field in item["loc"] for item in response.json()["detail"])


def test_lead_detail_has_the_timeline(client, viewer_user, leads):
    headers = _bearer(viewer_user)
    body = client.get(f"/api/v1/crm/leads/{leads[1].pk}", **headers).json()
    assert body["name"] == "Lead 01" and body["contact_status"] == "emailed"
    assert {e["kind"] for e in body["events"]} >= {"created", "contact_status"}
    assert body["url"] == f"/admin/crm/leads/{leads[1].pk}/"
    assert client.get("/api/v1/crm/leads/999999", **headers).status_code == 404


def test_scraped_text_comes_back_as_data_not_markup(client, staff_user):
    lead = _lead('<script>alert("x")</script>')
    client.force_login(staff_user)
    body = client.get(f"/api/v1/crm/leads/{lead.pk}")
    assert body["Content-Type"].startswith("application/json")
    assert body.json()["name"] == '<script>alert("x")</script>'


def test_status_patch_goes_through_the_lifecycle_with_the_actor(client, sales_user, leads):
    lead = leads[0]
    response = client.patch(
        f"/api/v1/crm/leads/{lead.pk}/status",
        {"contact_status": "interested", "note": "called them"},
        content_type="application/json",
        **_bearer(sales_user),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["changes"] == [{"field": "contact_status", "old": "pending", "new": "interested"}]
    assert body["lead"]["contact_status"] == "interested"
    lead.refresh_from_db()
    assert (lead.contact_status, lead.furthest_contact_status) == ("interested", "interested")
    event = LeadEvent.objects.filter(business=lead, kind="contact_status").latest("id")
    assert event.actor == sales_user and event.source == "api"


def test_status_patch_by_session_needs_csrf(sales_user, leads):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(sales_user)
    response = client.patch(
        f"/api/v1/crm/leads/{leads[0].pk}/status",
        {"contact_status": "interested"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert Business.objects.get(pk=leads[0].pk).contact_status == "pending"


def test_viewer_cannot_change_a_status(client, viewer_user, leads):
    response = client.patch(
        f"/api/v1/crm/leads/{leads[0].pk}/status",
        {"contact_status": "interested"},
        content_type="application/json",
        **_bearer(viewer_user),
    )
    assert response.status_code == 403
    assert Business.objects.get(pk=leads[0].pk).contact_status == "pending"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"contact_status": "asleep"}, "contact_status"),
        ({"website_status": "on-fire", "contact_status": "replied"}, "website_status"),
        ({}, "contact_status"),
        ({"note": "only a note"}, "contact_status"),
    ],
)
def test_bad_status_patch_is_422_and_changes_nothing(client, sales_user, leads, payload, field):
    lead = leads[0]
    before = LeadEvent.objects.filter(business=lead).count()
    response = client.patch(
        f"/api/v1/crm/leads/{lead.pk}/status",
        payload,
        content_type="application/json",
        **_bearer(sales_user),
    )
    assert response.status_code == 422
    assert any(field in item["loc"] for item in response.json()["detail"])
    lead.refresh_from_db()
    assert (lead.contact_status, lead.website_status) == ("pending", "none")
    assert LeadEvent.objects.filter(business=lead).count() == before


def test_status_patch_on_a_missing_lead_is_404(client, sales_user):
    response = client.patch(
        "/api/v1/crm/leads/424242/status",
        {"contact_status": "replied"},
        content_type="application/json",
        **_bearer(sales_user),
    )
    assert response.status_code == 404


def test_pipeline_counts_per_status_for_the_filtered_leads(client, staff_user, leads):
    client.force_login(staff_user)
    columns = {c["status"]: c for c in client.get("/api/v1/crm/pipeline").json()}
    assert columns["pending"]["count"] == 6 and columns["emailed"]["count"] == 1
    assert columns["emailed"]["leads"][0]["name"] == "Lead 01"
    austin = {
        c["status"]: c["count"] for c in client.get("/api/v1/crm/pipeline?city=Dallas").json()
    }
    assert austin["pending"] == 4 and austin["emailed"] == 0
    assert client.get("/api/v1/crm/pipeline?min_score=500").status_code == 422


def test_stats_are_the_maintained_tallies(client, staff_user, leads):
    client.force_login(staff_user)
    body = client.get("/api/v1/crm/stats").json()
    assert body["leads"] == 7
    assert body["contact_status"] == {"pending": 6, "emailed": 1}
    assert body["funnel"]["scraped"] == 7 and body["funnel"]["contacted"] == 1


def test_legacy_businesses_is_a_plain_array_with_a_next_link(client, staff_user, leads):
    client.force_login(staff_user)
    response = client.get("/api/v1/businesses", {"sort": "name", "limit": 4, "city": "Dallas"})
    assert response.status_code == 200
    assert [b["name"] for b in response.json()] == ["Lead 00", "Lead 02", "Lead 04", "Lead 06"]
    assert "Link" not in response
    response = client.get("/api/v1/businesses", {"sort": "name", "limit": 2})
    link = response["Link"]
    assert link.endswith('rel="next"') and "after=" in link
    url = link[1 : link.index(">")]
    assert [b["name"] for b in client.get(url).json()] == ["Lead 02", "Lead 03"]
    assert client.get("/api/v1/businesses", {"min_reviews": "-1"}).status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/crm/leads",
        "/api/v1/crm/leads/1",
        "/api/v1/crm/pipeline",
        "/api/v1/crm/stats",
        "/api/v1/businesses",
        "/api/v1/crm/analytics/funnel",
    ],
)
def test_every_endpoint_is_401_without_credentials(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")


def test_a_token_client_writes_without_csrf(sales_user, leads):
    """Token clients have no CSRF cookie; the session check must not refuse them first."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.patch(
        f"/api/v1/crm/leads/{leads[0].pk}/status",
        {"contact_status": "interested"},
        content_type="application/json",
        **_bearer(sales_user),
    )
    assert response.status_code == 200, response.content
    assert Business.objects.get(pk=leads[0].pk).contact_status == "interested"


def test_nul_characters_are_refused_not_a_server_error(client, staff_user, leads):
    client.force_login(staff_user)
    assert client.get("/api/v1/crm/leads", {"q": "a\x00b"}).status_code == 422
    assert client.get("/api/v1/crm/leads", {"after": "a\x00"}).status_code == 422


def test_schema_documents_validation_and_auth_errors(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    leads = paths["/api/v1/crm/leads"]["get"]["responses"]
    assert {"200", "401", "422"} <= set(leads)
    assert "403" in paths["/api/v1/crm/leads/{lead_id}/status"]["patch"]["responses"]
    assert paths["/api/v1/businesses"]["get"]["deprecated"] is True
    for name in ("funnel", "conversion-rates", "revenue-by-source", "campaign-performance"):
        assert f"/api/v1/crm/analytics/{name}" in paths
