"""Every preview site can be bought: "Claim this website" and "Purchase" on a site that has
no lead yet (the seed's `la-plumbing-pros`) create or link its business through the same
code as `link_orphan_sites`, then go on as for any other site."""

from __future__ import annotations

import pytest

from billing.models import Checkout
from crm.models import Business, LeadEvent, LeadEventKind, WebsiteStatus
from sites.models import Site
from tests.sites.test_link_orphan_sites import orphan

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def test_the_claim_page_of_an_orphan_links_its_lead_and_shows_the_purchase_button(client):
    site = orphan()
    response = client.get("/p/la-plumbing-pros/claim/", HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Purchase this website" in html
    assert 'action="/p/la-plumbing-pros/purchase/"' in html
    site.refresh_from_db()
    lead = site.business
    assert lead is not None and lead.name == "Los Angeles Plumbing Pros"
    assert lead.source == "orphan_site" and lead.website_status == WebsiteStatus.GENERATED
    linked = LeadEvent.objects.get(business=lead, kind=LeadEventKind.SITE_LINKED)
    assert linked.source == "public" and linked.site == site
    assert LeadEvent.objects.filter(business=lead, kind=LeadEventKind.CLAIM_CLICKED).exists()


def test_purchase_on_an_orphan_links_it_and_creates_the_checkout(client):
    site = orphan()
    response = client.post("/p/la-plumbing-pros/purchase/", HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 302, response.content
    site.refresh_from_db()
    checkout = Checkout.objects.get()
    assert checkout.site == site and checkout.business == site.business
    assert response["Location"] == checkout.url
    assert Business.objects.get(pk=site.business_id).contact_status == "interested"


def test_the_orphan_preview_offers_the_purchase_button(client):
    orphan()
    response = client.get("/p/la-plumbing-pros/", HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 200
    assert "Purchase this website" in response.content.decode()


def test_an_orphan_that_matches_an_existing_lead_is_bought_by_that_lead(client, business):
    site = orphan("joes", {"name": "Joe's Plumbing Inc", "phone": "+1 512 555 0100"})
    assert client.post("/p/joes/purchase/", HTTP_USER_AGENT=BROWSER).status_code == 302
    site.refresh_from_db()
    assert site.business == business
    assert Checkout.objects.get().business == business
    assert Business.objects.count() == 1


def test_a_bot_fetching_the_claim_page_creates_no_lead(client):
    orphan()
    assert client.get("/p/la-plumbing-pros/claim/", HTTP_USER_AGENT="Googlebot/2.1").status_code
    assert Site.objects.get(slug="la-plumbing-pros").business_id is None
    assert not Business.objects.exists()
