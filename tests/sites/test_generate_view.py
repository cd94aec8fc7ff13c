import json

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from crm.models import Business, LeadEvent, LeadEventKind, WebsiteStatus
from crm.services import business_create
from sites.builder import generate_site
from sites.models import Site

pytestmark = pytest.mark.django_db

URL = "/admin/crm/sites/generate/"


@pytest.fixture
def leads(business):
    austin = business_create(
        data={"name": "Sparky Electric", "city": "Austin", "category": "Electrician"},
        source="test",
    )
    dallas = business_create(
        data={"name": "Dallas Diner", "city": "Dallas", "category": "Restaurant"}, source="test"
    )
    return business, austin, dallas


def test_the_url_name_is_the_contract():
    from django.urls import reverse

    assert reverse("sites:generate") == URL
    assert reverse("sites:preview", args=["x"]) == "/p/x/"
    assert reverse("sites:claim", args=["x"]) == "/p/x/claim/"


def test_anonymous_is_sent_to_login_and_nothing_is_generated(client, leads):
    response = client.post(URL, {"ids": [leads[0].pk]})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Site.objects.exists()


def test_a_viewer_may_not_generate(client, viewer_user, leads):
    client.force_login(viewer_user)

    response = client.post(URL, {"ids": [leads[0].pk]})

    assert response.status_code == 403
    assert not Site.objects.exists()


def test_get_is_not_allowed(client, sales_user):
    client.force_login(sales_user)

    assert client.get(URL).status_code == 405


def test_sales_generates_the_selected_leads_and_goes_back(client, sales_user, leads):
    joe, sparky, diner = leads
    client.force_login(sales_user)

    response = client.post(
        URL, {"ids": [joe.pk, sparky.pk], "next": "/admin/crm/leads/?city=Austin"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/crm/leads/?city=Austin"
    assert set(Site.objects.values_list("business_id", flat=True)) == {joe.pk, sparky.pk}
    assert Site.objects.get(business=sparky).template == "electrician"
    sparky.refresh_from_db()
    assert sparky.website_status == WebsiteStatus.GENERATED
    event = LeadEvent.objects.get(business=sparky, kind=LeadEventKind.SITE_GENERATED)
    assert event.actor == sales_user
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Generated 2 sites (2 selected)."
    ]


def test_an_offsite_next_is_ignored(client, sales_user, leads):
    client.force_login(sales_user)

    response = client.post(URL, {"ids": [leads[0].pk], "next": "https://evil.example/"})

    assert response["Location"] == "/admin/crm/leads/"


def test_leads_that_have_a_site_are_skipped(client, sales_user, leads):
    joe = leads[0]
    site = generate_site(joe)
    client.force_login(sales_user)

    response = client.post(URL, {"ids": [joe.pk, leads[1].pk]})

    assert Site.objects.filter(business=joe).get() == site
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Generated 1 site, 1 skipped (already have a site) (2 selected)."
    ]


def test_all_matching_uses_the_lead_filter(client, sales_user, leads):
    joe, sparky, diner = leads
    client.force_login(sales_user)

    client.post(URL, {"all": "1", "city": "austin"})

    assert set(Site.objects.values_list("business_id", flat=True)) == {joe.pk, sparky.pk}


def test_all_matching_with_a_status_filter(client, sales_user, leads):
    joe, sparky, diner = leads
    generate_site(joe)
    client.force_login(sales_user)

    client.post(URL, {"all": "1", "website_status": "none", "category": "Restaurant"})

    assert Site.objects.filter(business=diner).exists()
    assert not Site.objects.filter(business=sparky).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Select at least one lead"),
        ({"ids": ["abc"]}, "whole numbers"),
        ({"ids": ["999999"]}, "No lead with id 999999"),
        ({"all": "1", "min_rating": "lots"}, "Invalid filter"),
        ({"all": "1", "contact_status": "nonsense"}, "Invalid filter"),
    ],
)
def test_bad_input_is_a_400_with_a_clear_message_and_changes_nothing(
    client, sales_user, leads, data, message
):
    client.force_login(sales_user)
    before = LeadEvent.objects.count()

    response = client.post(URL, data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Site.objects.exists()
    assert LeadEvent.objects.count() == before
    assert not Business.objects.exclude(website_status=WebsiteStatus.NONE).exists()


def test_htmx_gets_the_result_fragment_and_a_trigger(client, sales_user, leads):
    client.force_login(sales_user)

    response = client.post(URL, {"ids": [leads[0].pk]}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="generate-result"' in body and "Generated 1 site" in body
    assert "<html" not in body
    assert json.loads(response["HX-Trigger"]) == {
        "sites-generated": {"generated": 1, "queued": 0, "skipped": 0, "failed": 0}
    }


def test_htmx_bad_input_is_a_400_fragment(client, sales_user, db):
    client.force_login(sales_user)

    response = client.post(URL, {}, HTTP_HX_REQUEST="true")

    assert response.status_code == 400
    assert "<html" not in response.content.decode()
    assert "HX-Trigger" not in response


def test_csrf_is_enforced(sales_user, leads):
    client = Client(enforce_csrf_checks=True)
    client.force_login(sales_user)

    assert client.post(URL, {"ids": [leads[0].pk]}).status_code == 403
    assert not Site.objects.exists()

    token = "a" * 32
    client.cookies["csrftoken"] = token
    response = client.post(URL, {"ids": [leads[0].pk]}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 302
    assert Site.objects.filter(business=leads[0]).exists()
