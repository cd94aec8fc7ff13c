"""Django's admin at /admin/db/ shows every model; status fields are read-only there."""

import pytest
from django.apps import apps
from django.contrib import admin

pytestmark = pytest.mark.django_db

OWN_APPS = ("crm", "sites", "campaigns", "billing")


def _models():
    return [m for m in apps.get_models() if m._meta.app_label in OWN_APPS]


@pytest.mark.parametrize("model", _models(), ids=lambda m: m._meta.label)
def test_every_model_is_registered_and_status_fields_are_read_only(model, rf, superuser):
    model_admin = admin.site._registry.get(model)
    assert model_admin is not None, f"{model._meta.label} is not in the admin"
    request = rf.get("/")
    request.user = superuser
    read_only = set(model_admin.get_readonly_fields(request))
    statuses = {f.name for f in model._meta.fields if f.name.endswith("status")}
    assert statuses <= read_only, f"{statuses - read_only} editable in {model._meta.label}"


def test_the_changelist_and_change_page_render(client, superuser, business):
    client.force_login(superuser)
    assert client.get("/admin/db/crm/business/").status_code == 200
    assert client.get(f"/admin/db/crm/business/{business.pk}/change/").status_code == 200


def test_admin_is_for_superusers_and_staff_only(client, business):
    response = client.get("/admin/db/crm/business/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_changelist_filters_by_city_case_insensitively(client, superuser, business):
    client.force_login(superuser)
    response = client.get("/admin/db/crm/business/?city__iexact=AUSTIN")
    assert response.status_code == 200
    assert business.name.replace("'", "&#x27;") in response.content.decode()
