"""The staff pages' markup comes from templates: every link reversed from its URL name (so
the pages follow the URL map and the script prefix), every value autoescaped."""

import re

import pytest
from django.urls import set_script_prefix

from crm.services import business_create

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true", "HX-Target": "lead-table"}


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def mounted_at_crm():
    """Links reversed as if the app were mounted at /crm/ (a proxy's SCRIPT_NAME; the test
    client does not set the prefix itself)."""
    set_script_prefix("/crm/")
    yield
    set_script_prefix("/")


def test_the_staff_pages_link_through_the_url_map(staff_client, mounted_at_crm):
    lead = business_create(
        data={"name": "Prefix Plumbing", "city": "Austin", "email": "a@b.example"},
        source="test",
    )
    for url in ("/admin/crm/leads/", f"/admin/crm/leads/{lead.pk}/", "/admin/crm/"):
        body = staff_client.get(url).content.decode()
        links = re.findall(r'(?:href|action|formaction|hx-get|value)="(/[^"]*)"', body)
        assert len(links) > 5, url
        assert [link for link in links if not link.startswith("/crm/")] == [], url
    body = staff_client.get("/admin/crm/leads/").content.decode()
    assert f'href="/crm/admin/crm/leads/{lead.pk}/"' in body
    assert 'action="/crm/admin/crm/leads/bulk/status/"' in body
    assert 'href="/crm/admin/crm/pipeline/"' in body
    fragment = staff_client.get("/admin/crm/leads/", headers=HX).content.decode()
    assert f'href="/crm/admin/crm/leads/{lead.pk}/"' in fragment
    assert 'name="next" value="/crm/admin/crm/leads/?sort=-created"' in fragment


def test_filter_values_and_lists_are_escaped_in_the_page(staff_client, django_user_model):
    django_user_model.objects.create_user("<b>ann</b>", is_staff=True)
    business_create(data={"name": "Q Co", "city": "Austin"}, source="test")
    evil = '"><script>alert(1)</script>'
    body = staff_client.get("/admin/crm/leads/", {"q": [evil, "b&c"]}).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "<b>ann</b>" not in body and "&lt;b&gt;ann&lt;/b&gt;</option>" in body
    hidden = re.findall(r'<input type="hidden" form="bulk" name="q" value="([^"]*)">', body)
    assert hidden == ["&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;", "b&amp;c"]
    # The search box shows the submitted value (the last one), escaped.
    assert '<input type="search" name="q" value="b&amp;c"' in body


def test_the_sidebar_keeps_what_was_submitted_and_opens_its_groups(staff_client, staff_user):
    body = staff_client.get(
        "/admin/crm/leads/",
        {"contact_status": ["opened", "clicked"], "owner": "me", "min_score": "40", "q": "x"},
    ).content.decode()
    assert re.search(
        r'<input type="checkbox" name="contact_status" value="opened"[^>]*checked', body
    )
    assert re.search(
        r'<input type="checkbox" name="contact_status" value="clicked"[^>]*checked', body
    )
    assert not re.search(r'value="pending"[^>]*checked', body)
    assert '<option value="me" selected>My leads</option>' in body
    assert re.search(r'<input type="number" name="min_score" value="40"', body)
    assert '<details class="group" open><summary>Contact status</summary>' in body
    assert '<details class="group"><summary>Created</summary>' in body
