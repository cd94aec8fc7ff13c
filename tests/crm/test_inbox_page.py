"""The CRM inbox page: failed / unmatched provider events, raw payloads, replay."""

from __future__ import annotations

import pytest
from django.test import Client

from crm import inbox
from crm.models import ProviderEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def events():
    """One failed, one unmatched, one processed event, through the real handlers."""

    def fail(event):
        raise RuntimeError("boom <b>bold</b>")

    previous = inbox._handlers.get("sandbox")
    inbox.register("sandbox", fail)
    try:
        failed, _ = inbox.record_and_process(
            "sandbox", "evt-failed", "payment", {"note": "<script>alert(1)</script>"}
        )
    finally:
        if previous is not None:
            inbox.register("sandbox", previous)
        else:
            inbox._handlers.pop("sandbox", None)
    unmatched, _ = inbox.record_and_process(
        "twilio",
        "SMunknown:delivered",
        "status:delivered",
        {"kind": "status", "MessageSid": "SMunknown", "MessageStatus": "delivered"},
    )
    processed = ProviderEvent.objects.create(
        provider="twilio", event_id="done", event_type="status:sent", status="processed"
    )
    return failed, unmatched, processed


def test_staff_see_failed_and_unmatched_events_but_not_processed_ones(client, staff_user, events):
    failed, unmatched, processed = events
    assert failed.status == "failed" and unmatched.status == "unmatched"
    client.force_login(staff_user)
    page = client.get("/admin/crm/inbox/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'id="inbox-event-{failed.pk}"' in html
    assert f'id="inbox-event-{unmatched.pk}"' in html
    assert f'id="inbox-event-{processed.pk}"' not in html
    assert "boom &lt;b&gt;bold&lt;/b&gt;" in html
    assert "Replay</button>" not in html  # staff read; superusers replay


def test_filters_by_status_and_provider(client, staff_user, events):
    failed, unmatched, processed = events
    client.force_login(staff_user)
    html = client.get("/admin/crm/inbox/?status=all&provider=twilio").content.decode()
    assert f'id="inbox-event-{processed.pk}"' in html
    assert f'id="inbox-event-{failed.pk}"' not in html
    assert client.get("/admin/crm/inbox/?status=bogus").status_code == 400
    assert client.get("/admin/crm/inbox/?provider=bogus").status_code == 400


def test_the_raw_payload_is_shown_on_demand_and_escaped(client, staff_user, events):
    failed, _, _ = events
    client.force_login(staff_user)
    fragment = client.get(f"/admin/crm/inbox/?raw={failed.pk}", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in fragment.content
    assert b"<script>alert(1)</script>" not in fragment.content
    assert b"<html" not in fragment.content  # a fragment for htmx
    page = client.get(f"/admin/crm/inbox/?raw={failed.pk}")
    assert b"<html" in page.content
    assert client.get("/admin/crm/inbox/?raw=999999").status_code == 404


def test_anonymous_users_go_to_login(client, events):
    response = client.get("/admin/crm/inbox/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_superuser_replays_a_failed_event(client, superuser, events):
    failed, _, _ = events
    calls = []
    previous = inbox._handlers.get("sandbox")
    inbox.register("sandbox", calls.append)
    try:
        client.force_login(superuser)
        html = client.get("/admin/crm/inbox/").content.decode()
        assert f'action="/admin/crm/inbox/{failed.pk}/replay/"' in html
        response = client.post(f"/admin/crm/inbox/{failed.pk}/replay/", follow=True)
    finally:
        if previous is not None:
            inbox.register("sandbox", previous)
        else:
            inbox._handlers.pop("sandbox", None)
    assert response.status_code == 200
    failed.refresh_from_db()
    assert failed.status == "processed"
    assert failed.attempts == 2
    assert len(calls) == 1
    assert "replayed: processed" in response.content.decode()


def test_replaying_a_processed_event_does_nothing_without_force(client, superuser, events):
    _, _, processed = events
    client.force_login(superuser)
    client.post(f"/admin/crm/inbox/{processed.pk}/replay/")
    processed.refresh_from_db()
    assert processed.attempts == 0


def test_replay_is_superuser_only_post_only_and_csrf_protected(
    client, staff_user, sales_user, superuser, events
):
    failed, _, _ = events
    for user in (staff_user, sales_user):
        client.force_login(user)
        assert client.post(f"/admin/crm/inbox/{failed.pk}/replay/").status_code == 403
    client.force_login(superuser)
    assert client.get(f"/admin/crm/inbox/{failed.pk}/replay/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(superuser)
    assert strict.post(f"/admin/crm/inbox/{failed.pk}/replay/").status_code == 403
    failed.refresh_from_db()
    assert failed.status == "failed" and failed.attempts == 1


def test_the_page_takes_a_constant_number_of_queries(
    client, staff_user, events, django_assert_max_num_queries
):
    for i in range(30):
        inbox.record_and_process(
            "twilio",
            f"SMx{i}:sent",
            "status:sent",
            {"kind": "status", "MessageSid": f"SMx{i}", "MessageStatus": "sent"},
        )
    client.force_login(staff_user)
    with django_assert_max_num_queries(10):
        assert client.get("/admin/crm/inbox/").status_code == 200
