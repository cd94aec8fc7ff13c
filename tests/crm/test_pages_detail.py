"""The lead detail page: everything about one lead, and the staff actions on it."""

import pytest

from crm.lifecycle import business_record_contact
from crm.models import LeadEvent
from crm.services import business_create

HX = {"HX-Request": "true", "HX-Target": "lead-live"}


@pytest.fixture
def sales_client(client, sales_user):
    client.force_login(sales_user)
    return client


@pytest.mark.django_db
def test_detail_shows_fields_score_breakdown_and_timeline(sales_client, business):
    business_record_contact(business=business, channel="email", source="test")
    response = sales_client.get(f"/admin/crm/leads/{business.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "joe@joesplumbing.com" in body
    assert "Contact status pending → emailed" in body
    assert "Lead created from test" in body
    assert 'href="tel:(512) 555-0100"' in body
    assert "Score" in body


@pytest.mark.django_db
def test_unknown_lead_is_404(sales_client):
    assert sales_client.get("/admin/crm/leads/999999/").status_code == 404


@pytest.mark.django_db
def test_status_change_over_htmx_returns_the_timeline_with_the_new_line(
    sales_client, sales_user, business
):
    response = sales_client.post(
        f"/admin/crm/leads/{business.pk}/status/",
        {"contact_status": "interested", "website_status": "", "note": "called, wants it"},
        headers=HX,
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "lead-updated"
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="lead-live"')
    assert "Contact status pending → interested" in body
    assert "by sales" in body
    event = LeadEvent.objects.get(business=business, kind="contact_status")
    assert event.actor == sales_user
    assert event.source == "manual"
    assert event.data["note"] == "called, wants it"
    business.refresh_from_db()
    assert business.contact_status == "interested"


@pytest.mark.django_db
def test_status_change_without_htmx_redirects_back(sales_client, business):
    response = sales_client.post(
        f"/admin/crm/leads/{business.pk}/status/", {"website_status": "generated"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/admin/crm/leads/{business.pk}/"
    business.refresh_from_db()
    assert business.website_status == "generated"


@pytest.mark.django_db
def test_an_unknown_status_is_refused_and_nothing_changes(sales_client, business):
    response = sales_client.post(
        f"/admin/crm/leads/{business.pk}/status/", {"contact_status": "hacked"}, headers=HX
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    business.refresh_from_db()
    assert business.contact_status == "pending"
    assert not LeadEvent.objects.filter(business=business, kind="contact_status").exists()


@pytest.mark.django_db
def test_an_empty_status_form_is_refused(sales_client, business):
    response = sales_client.post(f"/admin/crm/leads/{business.pk}/status/", {}, follow=True)
    assert "Pick a contact or website status" in response.content.decode()


@pytest.mark.django_db
def test_note_is_added_to_the_timeline_escaped(sales_client, sales_user, business):
    response = sales_client.post(
        f"/admin/crm/leads/{business.pk}/note/",
        {"text": "<b>call back</b> Tuesday"},
        headers=HX,
    )
    assert response.status_code == 200
    assert "&lt;b&gt;call back&lt;/b&gt; Tuesday" in response.content.decode()
    note = LeadEvent.objects.get(business=business, kind="note")
    assert note.actor == sales_user and note.summary == "<b>call back</b> Tuesday"


@pytest.mark.django_db
def test_blank_note_is_refused(sales_client, business):
    response = sales_client.post(
        f"/admin/crm/leads/{business.pk}/note/", {"text": "   "}, headers=HX
    )
    assert "This field is required" in response.content.decode()
    assert not LeadEvent.objects.filter(business=business, kind="note").exists()


@pytest.mark.django_db
def test_do_not_contact_is_recorded_once(sales_client, sales_user, business):
    url = f"/admin/crm/leads/{business.pk}/do-not-contact/"
    response = sales_client.post(url, {"reason": "asked us to stop"}, headers=HX)
    assert "Marked do-not-contact" in response.content.decode()
    again = sales_client.post(url, {"reason": "again"}, headers=HX)
    assert "Already do-not-contact" in again.content.decode()
    business.refresh_from_db()
    assert business.do_not_contact_at is not None
    events = LeadEvent.objects.filter(business=business, kind="do_not_contact")
    assert events.count() == 1 and events.get().actor == sales_user
    # the table flags it too
    table = sales_client.get("/admin/crm/leads/?opted_out=yes")
    assert "Joe&#x27;s Plumbing" in table.content.decode()


@pytest.mark.django_db
def test_assign_owner_on_the_detail_page(sales_client, staff_user, business):
    response = sales_client.post(
        f"/admin/crm/leads/{business.pk}/assign/", {"owner": staff_user.pk}, headers=HX
    )
    assert "Assigned to staff" in response.content.decode()
    business.refresh_from_db()
    assert business.owner == staff_user
    assert LeadEvent.objects.filter(business=business, kind="owner").count() == 1


@pytest.mark.django_db
def test_detail_lists_sites_and_messages_of_the_lead(sales_client, business):
    from campaigns.models import Message
    from sites.models import Site

    Site.objects.create(slug="joes-plumbing", business=business, view_count=7)
    other = business_create(data={"name": "Other Co", "city": "Austin"}, source="test")
    Site.objects.create(slug="other-co", business=other)
    Message.objects.create(
        business=business, channel="email", to_address=business.email, subject="Your new site"
    )
    response = sales_client.get(f"/admin/crm/leads/{business.pk}/")
    body = response.content.decode()
    assert "/p/joes-plumbing/" in body
    assert "Your new site" in body
    assert "other-co" not in body


@pytest.mark.django_db
def test_a_scraped_javascript_url_is_never_a_link(sales_client):
    from crm.models import Business

    lead = business_create(data={"name": "Sneaky", "city": "Austin"}, source="test")
    # as a raw import could store it, bypassing form validation
    Business.objects.filter(pk=lead.pk).update(website="javascript:alert(document.cookie)")
    body = sales_client.get(f"/admin/crm/leads/{lead.pk}/").content.decode()
    assert 'href="javascript:' not in body
    assert "javascript:alert(document.cookie)" in body
