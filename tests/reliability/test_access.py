"""6. Access. Every staff URL under /admin/crm/ and every API endpoint is enumerated from the
URL resolver (a new page is covered without editing this file) and proven to refuse
anonymous users and logged-in non-staff users on every method, with nothing written; a
viewer can read but every write is refused; public pages show one lead's data only; a
tampered unsubscribe or tracking token changes nothing."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from billing.models import Checkout, Customer, Payment, Subscription
from campaigns.models import Campaign, Message, Suppression
from campaigns.sending import unsubscribe_token
from crm.models import ApiToken, Business, LeadEvent, ProviderEvent
from sites.models import Site
from tests.campaigns.events_helpers import lead, sent_message

pytestmark = pytest.mark.django_db

WATCHED = (
    Business,
    LeadEvent,
    ProviderEvent,
    Message,
    Campaign,
    Suppression,
    Site,
    Checkout,
    Customer,
    Subscription,
    Payment,
    ApiToken,
)


def _snapshot() -> tuple:
    counts = tuple(m.objects.count() for m in WATCHED)
    statuses = tuple(
        Business.objects.order_by("pk").values_list(
            "contact_status", "website_status", "email_opt_out_at", "owner_id"
        )
    )
    sites = tuple(Site.objects.order_by("pk").values_list("status", "view_count"))
    messages = tuple(Message.objects.order_by("pk").values_list("status", "clicked_count"))
    return counts, statuses, sites, messages


def _walk(resolver: URLResolver, prefix: str = ""):
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def _concrete(route: str) -> str:
    """A route with every converter filled with 1 (or a word for str/slug converters)."""
    route = route.lstrip("^").rstrip("$")
    return "/" + re.sub(
        r"<(?:(\w+):)?(\w+)>",
        lambda m: (
            "1"
            if (m.group(1) in (None, "int") and m.group(2).endswith("id")) or m.group(1) == "int"
            else "x"
        ),
        route,
    )


ALL_ROUTES = sorted({_concrete(r) for r in _walk(get_resolver())})
STAFF_URLS = [u for u in ALL_ROUTES if u.startswith("/admin/crm/")]
API_URLS = [
    u for u in ALL_ROUTES if u.startswith("/api/v1/") and not u.endswith(("openapi.json", "docs"))
]
# Public by design: the API's index and schema (no data).
API_PUBLIC = {"/api/v1/"}


def test_the_enumeration_found_the_pages_we_know():
    """Guards the enumeration itself: if the resolver walk broke, nothing below would test."""
    assert "/admin/crm/leads/" in STAFF_URLS
    assert "/admin/crm/campaigns/1/" in STAFF_URLS
    assert "/api/v1/crm/leads" in API_URLS
    assert len(STAFF_URLS) >= 25 and len(API_URLS) >= 15


@pytest.fixture
def world(business, superuser):
    """One of each object the URLs point at, with pk 1 where possible is not guaranteed, so
    the refusal must come before any lookup (a 404 would mean the object was looked up)."""
    sent_message(business, provider_id="SMaccess1")
    return business


def _refused(response, *, api: bool) -> bool:
    if api:
        return response.status_code in (401, 403, 405)
    if response.status_code in (403, 405):
        return True
    if response.status_code == 302:
        return response["Location"].startswith("/accounts/login/")
    hx_redirect = response.headers.get("HX-Redirect", "")
    return response.status_code in (200, 204) and hx_redirect.startswith("/accounts/login/")


@pytest.fixture
def nonstaff(django_user_model):
    return django_user_model.objects.create_user("customer", "c@example.com", "pw-customer-1")


@pytest.mark.parametrize("who", ["anonymous", "non-staff"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_every_staff_page_refuses_anonymous_and_non_staff(world, nonstaff, who, method):
    """Every /admin/crm/ URL from the resolver, plain and htmx, sends anonymous and non-staff
    users to the login page (or 403/405) and writes nothing."""
    client = Client()
    if who == "non-staff":
        client.force_login(nonstaff)
    before = _snapshot()
    leaked = []
    for url in STAFF_URLS:
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = getattr(client, method)(url, **headers)
            if not _refused(response, api=False):
                leaked.append((url, headers and "htmx", response.status_code))
    assert not leaked
    assert _snapshot() == before


@pytest.mark.parametrize("who", ["anonymous", "non-staff"])
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_every_api_endpoint_refuses_anonymous_and_non_staff(world, nonstaff, who, method):
    """Every /api/v1/ endpoint from the resolver answers 401/403/405 to anonymous users, to a
    logged-in non-staff user and to a forged bearer token, for every method; nothing written."""
    client = Client()
    if who == "non-staff":
        client.force_login(nonstaff)
    before = _snapshot()
    leaked = []
    for url in API_URLS:
        if url in API_PUBLIC:
            continue
        if method == "get":
            response = client.get(url)
        else:
            response = getattr(client, method)(url, data="{}", content_type="application/json")
        if not _refused(response, api=True):
            leaked.append((url, response.status_code))
        bearer = client.generic(
            method.upper(),
            url,
            "{}",
            content_type="application/json",
            HTTP_AUTHORIZATION="Bearer " + uuid.uuid4().hex,
        )
        if bearer.status_code not in (401, 403, 405):
            leaked.append((url, "forged bearer", bearer.status_code))
    assert not leaked
    assert _snapshot() == before


# POSTs a viewer may make: reads that take a body (audience previews, the campaign list,
# which ignores the method, the CSV export the lead table's bulk form posts). Marking
# replies read is a sales action.
VIEWER_POST_OK = (
    "/admin/crm/campaigns/",
    "/admin/crm/leads/export.csv",
    "/crm/campaigns/preview",
)


def test_a_viewer_can_read_but_every_write_is_refused(world, viewer_user):
    """A viewer POSTs (empty and plausible bodies) to every staff URL and writes to every
    API endpoint: each is refused, and no lead, message, campaign, site or payment changes."""
    client = Client(raise_request_exception=False)
    client.force_login(viewer_user)
    assert client.get("/admin/crm/leads/").status_code == 200
    before = _snapshot()
    allowed = []
    pk = world.pk
    for url in STAFF_URLS:
        url = url.replace("/leads/1/", f"/leads/{pk}/")
        for data in ({}, {"status": "replied", "contact_status": "replied", "ids": [pk]}):
            response = client.post(url, data)
            if 200 <= response.status_code < 400 and response.status_code != 302:
                allowed.append((url, response.status_code))
            elif response.status_code == 302 and not response["Location"].startswith(
                "/accounts/login/"
            ):
                allowed.append((url, 302, response["Location"]))
    for url in API_URLS:
        url = url.replace("/leads/1", f"/leads/{pk}")
        for method in ("post", "put", "patch", "delete"):
            response = getattr(client, method)(
                url, data='{"status": "replied", "filters": {}}', content_type="application/json"
            )
            if 200 <= response.status_code < 300:
                allowed.append((url, method, response.status_code))
    assert _snapshot() == before, allowed
    assert not [a for a in allowed if not a[0].endswith(VIEWER_POST_OK)], allowed


def test_public_preview_shows_its_own_lead_only(client):
    """Two leads with sites: /p/<slug>/ of one never mentions the other's name, email or
    phone (nor the staff-only fields of its own lead)."""
    a = lead(email="alpha@alpha-bakery.com", phone="(512) 555-0101", name="Alpha Bakery")
    b = lead(email="bravo@bravo-secret.com", phone="(512) 555-0199", name="Bravo Secretive")
    Site.objects.create(business=a, slug="alpha-bakery", html="<html><body>Alpha</body></html>")
    Site.objects.create(business=b, slug="bravo-secret", html="<html><body>Bravo</body></html>")
    for url in ("/p/alpha-bakery/", "/p/alpha-bakery/purchase/done/", "/p/alpha-bakery/claim/"):
        html = client.get(url).content.decode()
        for secret in ("Bravo", "bravo@bravo-secret.com", "555-0199", "bravo-secret"):
            assert secret not in html, (url, secret)


def test_a_tampered_unsubscribe_token_changes_nothing(client, business):
    """Altered, unsigned, re-targeted (another lead's id) and junk unsubscribe tokens are a 404
    on GET and on one-click POST, with no opt-out and no suppression; the genuine token works."""
    good = unsubscribe_token(business, "email")
    other = lead(email="other@other.com", phone="(512) 555-0177", name="Other Co")
    value, _, signature = good.rpartition(":")
    forged = [
        good[:-1] + ("A" if good[-1] != "A" else "B"),  # altered signature
        f"{other.pk}.email:{signature}",  # another lead's id with this lead's signature
        value,  # no signature at all
        good + "x",
        "1.email:" + "A" * 27,
    ]
    before = _snapshot()
    for token in forged:
        assert client.get(f"/u/{token}/").status_code == 404
        assert client.post(f"/u/{token}/", {"List-Unsubscribe": "One-Click"}).status_code == 404
    assert _snapshot() == before
    assert not Suppression.objects.exists()
    # …and the genuine token still works, so the 404s above were not a broken page
    assert client.post(f"/u/{good}/").status_code == 200
    business.refresh_from_db()
    assert business.contact_status == "unsubscribed"
    other.refresh_from_db()
    assert other.contact_status == "pending"


def test_a_tampered_tracking_token_counts_no_click(client, business):
    """Altered tracking tokens are a 404 and count no click (with or without a browser user
    agent); the genuine token counts exactly one."""
    Site.objects.create(business=business, slug="joes", html="<html><body>Joe</body></html>")
    message = sent_message(business, provider_id="ses-track-1")
    before = _snapshot()
    flipped = message.token[:-1] + ("1" if message.token[-1] != "1" else "2")
    for token in (flipped, message.token.upper(), "x", message.token + "a"):
        if token == message.token:
            continue
        assert client.get(f"/c/{token}/").status_code == 404
    assert _snapshot() == before
    browser = {"HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}
    for token in (flipped, "x"):
        assert client.get(f"/c/{token}/", **browser).status_code == 404
    assert _snapshot() == before
    response = client.get(f"/c/{message.token}/", **browser)
    assert response.status_code == 302
    assert response["Location"] == "/p/joes/"
    message.refresh_from_db()
    assert message.clicked_count == 1
