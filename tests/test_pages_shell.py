"""What every page shares: the navigation (API tokens and docs for superusers only), the
favicon, and friendly 403 / 404 / 500 pages when DEBUG is off."""

from __future__ import annotations

import pytest
from django.template.loader import get_template
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug_off(settings):
    settings.DEBUG = False


def test_superusers_find_api_tokens_and_docs_in_the_navigation(client, superuser, sales_user):
    client.force_login(superuser)
    html = client.get("/admin/crm/").content.decode()
    nav = html[html.index('<nav class="mainnav"') : html.index("</nav>")]
    assert '<a class="nav-admin" href="/admin/crm/tokens/">API tokens</a>' in nav
    assert '<a class="nav-admin" href="/api/v1/docs">API docs</a>' in nav
    assert client.get("/api/v1/docs").status_code == 200
    client.force_login(sales_user)
    html = client.get("/admin/crm/").content.decode()
    assert "/admin/crm/tokens/" not in html and "/api/v1/docs" not in html


def test_the_navigation_marks_the_current_section(client, staff_user):
    client.force_login(staff_user)
    html = client.get("/admin/crm/replies/").content.decode()
    assert '<a href="/admin/crm/replies/" aria-current="page">Replies' in html
    assert '<a href="/admin/crm/" aria-current="page">' not in html
    html = client.get("/admin/crm/").content.decode()
    assert '<a href="/admin/crm/" aria-current="page">Dashboard</a>' in html
    assert 'aria-controls="topnav" aria-expanded="false"' in html  # the phone's Menu button


def test_favicon_is_linked_from_every_page_and_served_at_the_root(client, staff_user):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    body = response.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert "max-age=86400" in response["Cache-Control"]
    for url in ("/accounts/login/", "/no-such-page/"):
        assert '<link rel="icon" href="/static/favicon.svg"' in client.get(url).content.decode()
    client.force_login(staff_user)
    html = client.get("/admin/crm/").content.decode()
    assert '<link rel="icon" href="/static/favicon.ico" sizes="32x32">' in html


def test_a_missing_page_is_a_friendly_404(client, staff_user):
    anonymous = Client().get("/nothing-here/")
    html = anonymous.content.decode()
    assert anonymous.status_code == 404
    assert "This page does not exist" in html and "Go to the dashboard" not in html
    client.force_login(staff_user)
    response = client.get("/admin/crm/leads/999999/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "This page does not exist" in html
    assert '<a class="btn primary" href="/admin/crm/">Go to the dashboard</a>' in html


def test_a_refused_action_is_a_friendly_403(client, viewer_user):
    client.force_login(viewer_user)
    response = client.get("/admin/crm/tokens/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "Your role does not allow this" in html
    assert 'href="/admin/crm/">Go to the dashboard' in html


def test_an_expired_form_is_a_friendly_403(staff_user):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff_user)
    response = strict.post("/admin/crm/replies/read/", {"ids": [1]})
    assert response.status_code == 403
    assert "That form had expired" in response.content.decode()


def test_a_crash_is_a_friendly_500_that_needs_no_context(staff_user, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("webmagic.views.analytics_funnel", broken)
    client = Client(raise_request_exception=False)
    client.force_login(staff_user)
    response = client.get("/admin/crm/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert "database on fire" not in html and "Traceback" not in html
    # Django renders 500.html without a context: the template must not need one.
    assert "Something went wrong" in get_template("500.html").render()
