"""POST /api/v1/crm/campaigns/preview and /start, GET list and results."""

import pytest
from django.core import mail

from campaigns.models import Campaign, Message
from crm.lifecycle import business_opt_out
from crm.services import business_create
from crm.tokens import token_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def leads():
    made = [
        business_create(
            data={
                "name": f"Austin Plumber {i}",
                "email": f"p{i}@plumb{i}.com",
                "city": "Austin",
                "category": "Plumber",
                "rating": "4.6",
            },
            source="test",
        )
        for i in range(3)
    ]
    business_create(
        data={"name": "Dallas Roofer", "email": "r@roof.com", "city": "Dallas", "rating": "4.9"},
        source="test",
    )
    business_opt_out(business=made[2], channel="email", source="manual")
    return made


def bearer(user):
    return {"HTTP_AUTHORIZATION": f"Bearer {token_create(user=user, name='t')[1]}"}


SEED_BODY = {
    "name": "Austin plumbers",
    "filters": {
        "category": "Plumber",
        "city": "Austin",
        "contact_status": ["pending", "unsubscribed"],
        "website_status": ["none"],
        "min_rating": 4.0,
    },
    "channel": "email",
    "schedule": "now",
    "send_rate_per_minute": 1000,
}


def test_preview_counts_recipients_and_exclusions(client, viewer_user, leads):
    response = client.post(
        "/api/v1/crm/campaigns/preview",
        data=SEED_BODY,
        content_type="application/json",
        **bearer(viewer_user),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["recipients"] == 2 and body["matched"] == 3
    assert body["excluded"] == [
        {"reason": "email_opted_out", "label": "Opted out of email", "count": 1, "campaign": None}
    ]
    assert {lead["name"] for lead in body["sample"]} == {"Austin Plumber 0", "Austin Plumber 1"}
    assert "Austin Plumber" in body["rendered"]["subject"]
    assert "/u/" in body["rendered"]["body"]
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"filters": {"min_rating": "great"}},
        {"filters": {"created_after": "yesterday"}},
        {"filters": {"city": "Aus\u0000tin"}},
        {"ids": [2**64]},
        {"channel": "fax"},
    ],
)
def test_preview_rejects_bad_input_with_422_naming_the_field(client, sales_user, leads, body):
    client.force_login(sales_user)
    response = client.post(
        "/api/v1/crm/campaigns/preview", data=body, content_type="application/json"
    )
    assert response.status_code == 422, response.content
    field = next(iter(body["filters"])) if "filters" in body else next(iter(body))
    assert field in str(response.json()["detail"])


def test_start_with_idempotency_key_returns_the_same_campaign(
    client, sales_user, leads, django_capture_on_commit_callbacks
):
    headers = {**bearer(sales_user), "HTTP_IDEMPOTENCY_KEY": "abc-123"}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(
            "/api/v1/crm/campaigns/start",
            data=SEED_BODY,
            content_type="application/json",
            **headers,
        )
    assert first.status_code == 201, first.content
    again = client.post(
        "/api/v1/crm/campaigns/start", data=SEED_BODY, content_type="application/json", **headers
    )
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Campaign.objects.count() == 1
    assert Message.objects.count() == 2
    assert len(mail.outbox) == 2
    results = client.get(f"/api/v1/crm/campaigns/{first.json()['id']}/results", **headers).json()
    assert results["metrics"]["sent"] == {"count": 2, "rate": 1.0}
    assert results["metrics"]["opened"] == {"count": 0, "rate": 0.0}
    assert results["status"] == "completed"
    listed = client.get("/api/v1/crm/campaigns", **headers).json()
    assert [c["id"] for c in listed] == [first.json()["id"]] and listed[0]["messages"] == 2


def test_viewer_token_cannot_start(client, viewer_user, leads):
    response = client.post(
        "/api/v1/crm/campaigns/start",
        data=SEED_BODY,
        content_type="application/json",
        **bearer(viewer_user),
    )
    assert response.status_code == 403
    assert not Campaign.objects.exists()


def test_anonymous_gets_401(client, leads):
    assert client.get("/api/v1/crm/campaigns").status_code == 401
    response = client.post(
        "/api/v1/crm/campaigns/start", data=SEED_BODY, content_type="application/json"
    )
    assert response.status_code == 401


def test_start_rejects_unknown_merge_fields_and_changes_nothing(client, sales_user, leads):
    body = {**SEED_BODY, "body": "Hi {{ owner_password }}"}
    response = client.post(
        "/api/v1/crm/campaigns/start",
        data=body,
        content_type="application/json",
        **bearer(sales_user),
    )
    assert response.status_code == 422
    assert "owner_password" in str(response.json()["detail"])
    assert not Campaign.objects.exists()


def test_scheduled_start_creates_queued_messages_and_sends_nothing_yet(client, sales_user, leads):
    body = {**SEED_BODY, "schedule": "2099-01-01T09:00:00Z"}
    response = client.post(
        "/api/v1/crm/campaigns/start",
        data=body,
        content_type="application/json",
        **bearer(sales_user),
    )
    assert response.status_code == 201
    assert response.json()["status"] == "scheduled"
    assert set(Message.objects.values_list("status", flat=True)) == {"queued"}
    assert not mail.outbox


def test_a_schedule_with_a_far_offset_is_stored_in_utc(client, sales_user, leads):
    """ISO 8601 allows offsets to ±23:59, PostgreSQL stores ±15:59 at most: the instant is
    kept, in UTC (found by the schema fuzz as a 500)."""
    body = {**SEED_BODY, "schedule": "2099-01-01T18:25:00+18:25"}
    response = client.post(
        "/api/v1/crm/campaigns/start",
        data=body,
        content_type="application/json",
        **bearer(sales_user),
    )
    assert response.status_code == 201
    assert response.json()["scheduled_at"] == "2099-01-01T00:00:00Z"


def test_a_schedule_out_of_range_in_utc_is_422_and_changes_nothing(client, sales_user, leads):
    body = {**SEED_BODY, "schedule": "0001-01-01T00:00:00+18:25"}
    response = client.post(
        "/api/v1/crm/campaigns/start",
        data=body,
        content_type="application/json",
        **bearer(sales_user),
    )
    assert response.status_code == 422
    assert "schedule" in str(response.json()["detail"])
    assert not Campaign.objects.exists()


def test_the_seed_start_body_with_schedule_immediate_starts_now(
    client, sales_user, leads, django_capture_on_commit_callbacks
):
    body = {**SEED_BODY, "schedule": "immediate"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/crm/campaigns/start",
            data=body,
            content_type="application/json",
            **bearer(sales_user),
        )
    assert response.status_code == 201, response.content
    campaign = Campaign.objects.get()
    assert campaign.scheduled_at is None and campaign.started_at is not None
    assert sorted(m.to[0] for m in mail.outbox) == ["p0@plumb0.com", "p1@plumb1.com"]


def test_an_unknown_schedule_word_is_422_naming_the_field(client, sales_user, leads):
    body = {**SEED_BODY, "schedule": "soonish"}
    response = client.post(
        "/api/v1/crm/campaigns/start",
        data=body,
        content_type="application/json",
        **bearer(sales_user),
    )
    assert response.status_code == 422
    assert "schedule" in str(response.json()["detail"])
    assert not Campaign.objects.exists()


def test_results_of_an_unknown_or_absurd_id_is_json(client, sales_user):
    client.force_login(sales_user)
    assert client.get("/api/v1/crm/campaigns/999/results").json() == {"detail": "Not Found"}
    response = client.get(f"/api/v1/crm/campaigns/{2**70}/results")
    assert response.status_code == 422
    response = client.get("/api/v1/crm/campaigns?offset=99999999999999999999")
    assert response.status_code == 422


@pytest.mark.parametrize("name", ["owner", "campaign", "min_reviews"])
def test_numbers_past_bigint_in_filters_are_422_not_500(client, sales_user, leads, name):
    client.force_login(sales_user)
    response = client.post(
        "/api/v1/crm/campaigns/preview",
        data={"filters": {name: "9223372036854775809"}},
        content_type="application/json",
    )
    assert response.status_code == 422, response.content
    page = client.get(f"/admin/crm/campaigns/new/?{name}=9223372036854775809")
    assert page.status_code == 200 and "Invalid filters" in page.content.decode()
