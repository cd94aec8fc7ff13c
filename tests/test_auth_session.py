"""webmagic.auth and webmagic.sessions: Django's user and session loading, each read with
one plain query, behaving exactly like Django's own."""

from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY, get_user
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.permissions import can_edit
from webmagic.auth import StaffBackend
from webmagic.sessions import SessionStore

pytestmark = pytest.mark.django_db
LEADS = "/admin/crm/leads/"


def test_the_user_loaded_equals_the_orms_and_carries_its_role(sales_user, viewer_user):
    backend = StaffBackend()
    for user in (sales_user, viewer_user):
        loaded = backend.get_user(str(user.pk))
        expected = ModelBackend().get_user(user.pk)
        fields = [f.attname for f in type(user)._meta.concrete_fields]
        assert [getattr(loaded, f) for f in fields] == [getattr(expected, f) for f in fields]
        assert loaded._state.db == "default" and not loaded._state.adding
        with CaptureQueriesContext(connection) as queries:
            assert can_edit(loaded) is (user == sales_user)
        assert len(queries) == 0  # the role came with the user


def test_unknown_inactive_or_malformed_users_are_not_loaded(staff_user):
    backend = StaffBackend()
    assert backend.get_user("999999") is None
    assert backend.get_user("not-a-number") is None
    staff_user.is_active = False
    staff_user.save()
    assert backend.get_user(staff_user.pk) is None


def test_a_logged_in_page_reads_session_and_user_in_two_queries(client, sales_user):
    client.force_login(sales_user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/crm/")
    assert response.status_code == 200
    first = [q["sql"] for q in queries.captured_queries[:2]]
    assert "django_session" in first[0] and "auth_user" in first[1]
    assert not any("auth_group" in q["sql"] for q in queries.captured_queries[2:])


def test_sessions_load_like_djangos_and_expired_or_forged_ones_do_not(client, staff_user):
    client.force_login(staff_user)
    key = client.cookies["sessionid"].value
    store = SessionStore(key)
    assert store[SESSION_KEY] == str(staff_user.pk)
    assert SessionStore("x" * 40).load() == {}
    assert SessionStore("short").load() == {}
    assert client.get(LEADS).status_code == 200
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(1))
    assert SessionStore(key).load() == {}
    response = client.get(LEADS)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_deleted_user_is_logged_out(client, staff_user, rf):
    client.force_login(staff_user)
    request = rf.get("/")
    request.session = SessionStore(client.cookies["sessionid"].value)
    assert get_user(request) == staff_user
    staff_user.delete()
    request.session = SessionStore(client.cookies["sessionid"].value)
    assert not get_user(request).is_authenticated
