"""campaigns/metrics.py: each campaign metric defined once, counting leads; its one-line
meaning shown on every page that shows it and in the API schema."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import metrics
from campaigns.models import Campaign
from crm.lifecycle import business_opt_out
from crm.services import business_create
from crm.tokens import token_create
from tests.analytics_world import mark_opened, send_email, send_sms

pytestmark = pytest.mark.django_db


def _ago(hours: float):
    return timezone.now() - timedelta(hours=hours)


@pytest.fixture
def two_campaigns():
    lead = business_create(data={"name": "Joe's Plumbing", "email": "j@joe.example"}, source="t")
    other = business_create(data={"name": "Ann's Bakery", "email": "a@ann.example"}, source="t")
    first = Campaign.objects.create(name="First", channel="email", started_at=_ago(48))
    second = Campaign.objects.create(name="Second", channel="email", started_at=_ago(24))
    texts = Campaign.objects.create(name="Texts", channel="sms", started_at=_ago(20))
    opening = send_email(first, lead, _ago(48))
    mark_opened(opening, _ago(47))
    follow = send_email(first, lead, _ago(30), step=2)  # a follow-up, opened too
    mark_opened(follow, _ago(29))
    send_email(first, other, _ago(48))
    send_email(second, lead, _ago(24))
    # The opt-out comes after the second campaign's message: it is the second's.
    business_opt_out(business=lead, channel="email", source="public", at=_ago(23))
    sms = send_sms(texts, other, _ago(20), clicked=True)
    return {"first": first, "second": second, "texts": texts, "sms": sms}


def test_engagement_counts_leads_and_messages_are_counted_apart(two_campaigns):
    first = metrics.campaign_metrics_one(two_campaigns["first"])
    assert first.counts["recipients"] == 2 and first.counts["sent"] == 2
    assert first.counts["opened"] == 1  # one lead opened two messages: one opened recipient
    assert first.rate("opened") == 0.5
    assert (first.messages["total"], first.messages["followups"]) == (3, 1)


def test_an_opt_out_belongs_to_the_campaign_whose_message_was_the_last_on_that_channel(
    two_campaigns,
):
    measured = metrics.campaign_metrics([two_campaigns["first"], two_campaigns["second"]])
    assert measured[two_campaigns["first"].pk].counts["unsubscribed"] == 0
    assert measured[two_campaigns["second"].pk].counts["unsubscribed"] == 1


def test_sms_opens_are_not_applicable_never_a_copy_of_clicks(client, staff_user, two_campaigns):
    texts = two_campaigns["texts"]
    measured = metrics.campaign_metrics_one(texts)
    assert measured.counts["clicked"] == 1
    assert measured.counts["opened"] is None and measured.rate("opened") is None
    client.force_login(staff_user)
    page = client.get(f"/admin/crm/campaigns/{texts.pk}/").content.decode()
    assert re.search(r'<td data-metric="opened"[^>]*><strong>—</strong>', page)
    key = token_create(user=staff_user, name="t")[1]
    body = client.get(
        f"/api/v1/crm/campaigns/{texts.pk}/results", HTTP_AUTHORIZATION=f"Bearer {key}"
    ).json()
    assert body["metrics"]["opened"] == {"count": None, "rate": None}
    assert body["metrics"]["clicked"]["count"] == 1
    row = client.get(
        "/api/v1/crm/analytics/campaign-performance?period=all",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    ).json()["campaigns"]
    sms = next(r for r in row if r["campaign_id"] == texts.pk)
    assert (sms["opened"], sms["open_rate"], sms["clicked"]) == (None, None, 1)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/crm/campaigns/",
        "/admin/crm/campaigns/{pk}/",
        "/admin/crm/analytics/?section=campaigns&period=all",
        "/admin/crm/?period=all",
    ],
)
def test_every_page_showing_campaign_metrics_explains_them(client, staff_user, two_campaigns, url):
    client.force_login(staff_user)
    html = client.get(url.format(pk=two_campaigns["first"].pk)).content.decode()
    shown = [m for m in metrics.METRICS if f">{m.label}<" in html]
    assert len(shown) >= 5
    for metric in shown:
        assert metric.meaning in html.replace("&#x27;", "'"), (url, metric.name)


def test_the_api_schema_describes_every_metric_with_the_same_meaning(client):
    schema = client.get("/api/v1/openapi.json").json()
    components = schema["components"]["schemas"]
    results = components["CampaignMetricsOut"]["properties"]
    performance = components["CampaignRowOut"]["properties"]
    for metric in metrics.METRICS:
        assert results[metric.name]["description"] == metric.meaning
        name = "purchases" if metric.name == "converted" else metric.name
        assert performance[name]["description"] == metric.meaning
    assert components["CampaignResultsOut"]["properties"]["revenue"]["description"] == (
        metrics.REVENUE_MEANING
    )
