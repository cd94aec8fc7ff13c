"""The API answers a staff session or a Bearer token; everyone else gets 401 JSON."""

import pytest

from crm.tokens import token_create, token_revoke

pytestmark = pytest.mark.django_db


def _bearer(key):
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_anonymous_gets_401_json_not_a_redirect(client):
    response = client.get("/api/v1/crm/me")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")


def test_staff_session_is_accepted(client, sales_user):
    client.force_login(sales_user)
    body = client.get("/api/v1/crm/me").json()
    assert body == {"username": "sales", "can_edit": True, "can_admin": False}


def test_non_staff_session_is_401(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("customer", password="x"))
    assert client.get("/api/v1/crm/me").status_code == 401


def test_bearer_token_authenticates_its_user_and_is_stored_hashed(client, viewer_user):
    token, key = token_create(user=viewer_user, name="reporting")
    assert key not in token.key_hash and token.prefix == key[:10]
    body = client.get("/api/v1/crm/me", **_bearer(key)).json()
    assert body["username"] == "viewer" and body["can_edit"] is False
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_revoked_or_wrong_token_is_401(client, viewer_user):
    token, key = token_create(user=viewer_user, name="old")
    assert token_revoke(token=token) is True
    assert token_revoke(token=token) is False
    assert client.get("/api/v1/crm/me", **_bearer(key)).status_code == 401
    assert client.get("/api/v1/crm/me", **_bearer("wm_not-a-key")).status_code == 401


def test_token_of_a_deactivated_user_stops_working(client, viewer_user):
    _, key = token_create(user=viewer_user, name="x")
    viewer_user.is_active = False
    viewer_user.save(update_fields=["is_active"])
    assert client.get("/api/v1/crm/me", **_bearer(key)).status_code == 401


def test_token_needs_a_name(viewer_user):
    with pytest.raises(ValueError):
        token_create(user=viewer_user, name="  ")


def test_openapi_schema_is_served(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/crm/me" in schema["paths"]
