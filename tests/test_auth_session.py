"""Staff sessions and users through Django's own plumbing (ModelBackend, database sessions),
and roles as group permissions checked with `user.has_perm`."""

from datetime import timedelta

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse, reverse_lazy
from django.utils import timezone

from crm.permissions import SALES_GROUP, can_edit, role_group
from crm.services import business_create

pytestmark = pytest.mark.django_db
LOGIN = reverse_lazy("login")


def _lead():
    return business_create(data={"name": "Role Co", "city": "Austin"}, source="test")


def _post_status(client, lead):
    return client.post(reverse("crm:lead-status", args=[lead.pk]), {"contact_status": "interested"})


def test_roles_come_from_group_permissions(sales_user, viewer_user, staff_user, superuser):
    assert sales_user.has_perm("crm.edit_leads") and can_edit(sales_user)
    assert not viewer_user.has_perm("crm.edit_leads") and not can_edit(viewer_user)
    assert not can_edit(staff_user)  # a staff user in no group is a viewer
    assert can_edit(superuser)


def test_a_users_role_is_read_once_per_request(client, sales_user):
    client.force_login(sales_user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("crm:lead-list"))
    assert response.status_code == 200
    permission_reads = [q for q in queries.captured_queries if "auth_permission" in q["sql"]]
    # ModelBackend: the user's own permissions and their groups', once, kept on the user.
    assert len(permission_reads) == 2


def test_leaving_the_sales_group_takes_the_edit_rights_away(client, sales_user):
    lead = _lead()
    client.force_login(sales_user)
    assert _post_status(client, lead).status_code == 302
    sales_user.groups.remove(role_group(SALES_GROUP))
    assert _post_status(client, lead).status_code == 403
    lead.refresh_from_db()
    assert lead.contact_status == "interested"  # the first change only


def test_a_viewer_cannot_change_a_lead(client, viewer_user):
    lead = _lead()
    client.force_login(viewer_user)
    assert _post_status(client, lead).status_code == 403
    lead.refresh_from_db()
    assert lead.contact_status == "pending"


def test_an_expired_or_forged_session_is_sent_to_the_login_page(client, staff_user):
    leads = reverse("crm:lead-list")
    client.force_login(staff_user)
    key = client.cookies["sessionid"].value
    assert SessionStore(key)[SESSION_KEY] == str(staff_user.pk)
    assert client.get(leads).status_code == 200
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(1))
    response = client.get(leads)
    assert response.status_code == 302 and response["Location"].startswith(str(LOGIN))
    client.cookies["sessionid"] = "x" * 40
    response = client.get(leads)
    assert response.status_code == 302 and response["Location"].startswith(str(LOGIN))


def test_a_deactivated_or_deleted_user_is_logged_out(client, staff_user, django_user_model):
    leads = reverse("crm:lead-list")
    client.force_login(staff_user)
    staff_user.is_active = False
    staff_user.save()
    assert client.get(leads)["Location"].startswith(str(LOGIN))
    other = django_user_model.objects.create_user("gone", is_staff=True)
    client.force_login(other)
    assert client.get(leads).status_code == 200
    other.delete()
    assert client.get(leads)["Location"].startswith(str(LOGIN))


def test_a_session_from_the_replaced_backend_needs_a_fresh_login(client, staff_user):
    # Sessions written before the switch to ModelBackend name webmagic.auth.StaffBackend,
    # which no longer exists: Django treats them as logged out (README says so).
    store = SessionStore()
    store[SESSION_KEY] = str(staff_user.pk)
    store[BACKEND_SESSION_KEY] = "webmagic.auth.StaffBackend"
    store[HASH_SESSION_KEY] = staff_user.get_session_auth_hash()
    store.create()
    client.cookies["sessionid"] = store.session_key
    response = client.get(reverse("crm:lead-list"))
    assert response.status_code == 302 and response["Location"].startswith(str(LOGIN))
    assert client.login(username="staff", password="pw-staff-123")
    assert client.get(reverse("crm:lead-list")).status_code == 200
