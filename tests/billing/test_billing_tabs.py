"""The billing page in tabs: KPI cards, then subscriptions, customers, payments, checkouts
or Recurrente events, each searchable, filterable by status and paged; htmx gets the tab
alone."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Subscription
from crm.services import business_create
from sites.models import Site

pytestmark = pytest.mark.django_db

HOME = "/admin/crm/billing/"
TAB = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "billing-tab"}


def buy(client, name: str, email: str) -> Subscription:
    """A customer made the way make run makes one: Purchase → sandbox Pay."""
    business = business_create(data={"name": name, "email": email}, source="test")
    site = Site.objects.create(business=business, slug=name.lower().replace(" ", "-"), html="x")
    location = client.post(f"/p/{site.slug}/purchase/")["Location"]
    client.post(location, {"action": "pay"})
    return Subscription.objects.get(customer__business=business)


@pytest.fixture
def three(client):
    return [
        buy(client, "Alamo Roofing", "ops@alamo.example"),
        buy(client, "Bexar Dental", "desk@bexar.example"),
        buy(client, "Comal Plumbing", "hi@comal.example"),
    ]


def test_each_tab_lists_its_rows_and_marks_itself_current(client, three, staff_user):
    client.force_login(staff_user)
    for tab, table, expected in [
        ("subscriptions", "subscription-table", three[0].provider_subscription_id),
        ("customers", "customer-table", "desk@bexar.example"),
        ("payments", "payment-table", "$497.00"),
        ("checkouts", "checkout-table", "comal-plumbing"),
        ("events", "event-table", "Every Recurrente event was applied."),
    ]:
        html = client.get(HOME, {"tab": tab}).content.decode()
        assert f'id="{table}"' in html, tab
        assert expected in html, tab
        assert f'href="{HOME}?tab={tab}" hx-get="{HOME}?tab={tab}"' in html
        current = 'hx-target="#billing-tab" hx-swap="outerHTML" hx-push-url="true" aria-current'
        assert f'?tab={tab}" {current}="page">' in html, tab


def test_search_and_status_narrow_the_tab(client, three, staff_user):
    client.force_login(staff_user)
    html = client.get(HOME, {"tab": "subscriptions", "q": "bexar"}).content.decode()
    assert "Bexar Dental" in html and "Alamo Roofing" not in html
    assert 'id="billing-total">1 subscription<' in html
    html = client.get(HOME, {"tab": "customers", "q": "comal.example"}).content.decode()
    assert "Comal Plumbing" in html and "Bexar Dental" not in html
    html = client.get(HOME, {"tab": "subscriptions", "status": "cancelled"}).content.decode()
    assert "No subscriptions match." in html
    html = client.get(HOME, {"tab": "payments", "status": "succeeded", "q": "alamo"}).content
    assert b"Alamo Roofing" in html and b"Comal Plumbing" not in html


def test_pages_follow_the_search_and_htmx_gets_the_tab_alone(
    client, three, staff_user, monkeypatch
):
    monkeypatch.setattr("billing.views.PAGE_SIZE", 2)
    client.force_login(staff_user)
    first = client.get(HOME, {"tab": "customers"}, **TAB)
    html = first.content.decode()
    assert not html.lstrip().startswith("<!doctype") and html.lstrip().startswith(
        '<div id="billing-tab">'
    )
    assert 'id="mrr"' not in html  # the KPI cards are not re-sent
    assert "Page 1 of 2" in html and "Comal Plumbing" in html and "Alamo Roofing" not in html
    assert f'href="{HOME}?tab=customers&amp;page=2"' in html
    html = client.get(HOME, {"tab": "customers", "page": 2}, **TAB).content.decode()
    assert "Page 2 of 2" in html and "Alamo Roofing" in html and "Comal Plumbing" not in html
    html = client.get(HOME, {"tab": "customers", "q": "o", "page": 2}).content.decode()
    assert f'href="{HOME}?tab=customers&amp;q=o&amp;page=1"' in html  # the search is kept
    assert first["Vary"] and "HX-Request" in first["Vary"]


def test_a_history_restore_gets_the_whole_page(client, three, staff_user):
    client.force_login(staff_user)
    html = client.get(
        HOME, {"tab": "payments"}, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **TAB
    ).content.decode()
    assert html.lstrip().startswith("<!doctype") and 'id="mrr"' in html


def test_a_bad_tab_or_status_is_a_clear_error_that_lists_nothing(client, three, staff_user):
    client.force_login(staff_user)
    response = client.get(HOME, {"tab": "payments", "status": "refunded"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Unknown status &#x27;refunded&#x27; for payments." in html
    assert 'id="payment-table"' not in html
    response = client.get(HOME, {"tab": "invoices"})
    assert response.status_code == 400
    assert "Unknown tab &#x27;invoices&#x27;" in response.content.decode()


def test_kpi_cards_open_the_tab_they_count(client, three, staff_user):
    client.force_login(staff_user)
    html = client.get(HOME).content.decode()
    assert f'href="{HOME}?tab=subscriptions&amp;status=active"><div class="kpi-label">MRR' in html
    assert 'id="mrr">$291.00<' in html
    assert f'href="{HOME}?tab=payments&amp;status=succeeded"><div class="kpi-label">Revenue' in html
    assert f'href="{HOME}?tab=checkouts&amp;status=abandoned"><div class="kpi-label">Aban' in html


def test_each_tab_costs_the_same_queries_whatever_its_rows(client, staff_user):
    client.force_login(staff_user)
    buy(client, "Alamo Roofing", "ops@alamo.example")
    client.get(HOME)  # the navigation's cached counts, once
    before = {}
    for tab in ("subscriptions", "customers", "payments", "checkouts", "events"):
        with CaptureQueriesContext(connection) as queries:
            client.get(HOME, {"tab": tab})
        before[tab] = len(queries)
    for i in range(3):
        buy(client, f"Shop {i}", f"s{i}@shop.example")
    for tab, count in before.items():
        with CaptureQueriesContext(connection) as queries:
            client.get(HOME, {"tab": tab})
        assert len(queries) == count, tab
