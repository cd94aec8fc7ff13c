"""Who may open and change the staff pages."""

import pytest
from django.core import mail


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/admin/crm/",
        "/admin/crm/leads/",
        "/admin/crm/leads/export.csv",
        "/admin/crm/pipeline/",
    ],
)
def test_anonymous_users_are_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
def test_an_htmx_request_without_a_session_redirects_the_whole_page(client):
    response = client.get(
        "/admin/crm/leads/?city=Austin",
        headers={"HX-Request": "true", "HX-Target": "lead-table"},
    )
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith("/accounts/login/?next=")
    assert b"<form" not in response.content


@pytest.mark.django_db
def test_a_logged_in_non_staff_user_is_not_let_in(client, django_user_model):
    user = django_user_model.objects.create_user("customer", password="pw-x-12345")
    client.force_login(user)
    response = client.get("/admin/crm/leads/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_a_viewer_reads_but_cannot_change_a_lead(client, viewer_user, business):
    client.force_login(viewer_user)
    page = client.get(f"/admin/crm/leads/{business.pk}/")
    assert page.status_code == 200
    assert b"Change status" not in page.content
    response = client.post(
        f"/admin/crm/leads/{business.pk}/status/", {"contact_status": "interested"}
    )
    assert response.status_code == 403
    business.refresh_from_db()
    assert business.contact_status == "pending"


@pytest.mark.django_db
def test_a_viewer_cannot_run_bulk_actions(client, viewer_user, business):
    client.force_login(viewer_user)
    response = client.post(
        "/admin/crm/leads/bulk/status/", {"ids": [business.pk], "to_status": "interested"}
    )
    assert response.status_code == 403
    business.refresh_from_db()
    assert business.contact_status == "pending"


@pytest.mark.django_db
def test_writes_need_post(client, sales_user, business):
    client.force_login(sales_user)
    response = client.get(f"/admin/crm/leads/{business.pk}/status/?contact_status=interested")
    assert response.status_code == 405
    business.refresh_from_db()
    assert business.contact_status == "pending"


@pytest.mark.django_db
def test_writes_need_the_csrf_token(sales_user, business):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(sales_user)
    response = client.post(
        f"/admin/crm/leads/{business.pk}/status/", {"contact_status": "interested"}
    )
    assert response.status_code == 403
    business.refresh_from_db()
    assert business.contact_status == "pending"


@pytest.mark.django_db
def test_login_form_logs_staff_in_and_goes_back_to_the_page(client, staff_user):
    response = client.post(
        "/accounts/login/",
        {"username": "staff", "password": "pw-staff-123", "next": "/admin/crm/pipeline/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/crm/pipeline/"
    assert client.get("/admin/crm/pipeline/").status_code == 200


@pytest.mark.django_db
def test_password_reset_emails_a_link_that_sets_a_new_password(client, staff_user):
    response = client.post("/accounts/password_reset/", {"email": "staff@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    link = next(line for line in body.splitlines() if "/accounts/reset/" in line)
    path = link.split("://", 1)[1].split("/", 1)[1]
    confirm = client.get("/" + path, follow=True)
    assert confirm.status_code == 200
    form_url = confirm.redirect_chain[-1][0]
    done = client.post(
        form_url, {"new_password1": "A-new-pass-2026!", "new_password2": "A-new-pass-2026!"}
    )
    assert done.status_code == 302
    staff_user.refresh_from_db()
    assert staff_user.check_password("A-new-pass-2026!")


@pytest.mark.django_db
def test_superuser_can_change_status(client, superuser, business):
    client.force_login(superuser)
    response = client.post(
        f"/admin/crm/leads/{business.pk}/status/", {"contact_status": "interested"}
    )
    assert response.status_code == 302
    business.refresh_from_db()
    assert business.contact_status == "interested"
