"""Test-wide settings and fixtures. Tests use the real settings module with these overrides;
there is no second settings tree."""

import pytest
from django.core.cache import cache
from django.db import connection
from django_q.conf import Conf

from crm.permissions import SALES_GROUP, VIEWER_GROUP, role_group

ANYMAIL_TEST_SECRET = "username:password"


@pytest.fixture(autouse=True)
def _sync_tasks(monkeypatch):
    """django-q2 runs tasks inline in tests (it read Q_SYNC once, when pytest-django loaded
    the settings, before this file). A test that needs a real queue sets Conf.SYNC = False."""
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: a value an earlier test cached (crm.memo) may
    list rows its rollback removed, which no signal announced."""
    cache.clear()


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SMS_BACKEND = "campaigns.sms.LocmemBackend"
    settings.PAYMENTS_BACKEND = "billing.backends.SandboxBackend"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": ANYMAIL_TEST_SECRET}
    settings.PUBLIC_BASE_URL = "https://crm.example.com"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    if is_postgres():
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL (row locks and concurrent connections); SQLite serialises "
        "writers, so it cannot prove this. Run with DATABASE_URL=postgres://…"
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        "staff", "staff@example.com", "pw-staff-123", is_staff=True
    )


@pytest.fixture
def sales_user(django_user_model):
    user = django_user_model.objects.create_user(
        "sales", "sales@example.com", "pw-sales-123", is_staff=True
    )
    user.groups.add(role_group(SALES_GROUP))
    return user


@pytest.fixture
def viewer_user(django_user_model):
    user = django_user_model.objects.create_user(
        "viewer", "viewer@example.com", "pw-viewer-123", is_staff=True
    )
    user.groups.add(role_group(VIEWER_GROUP))
    return user


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")


@pytest.fixture
def business(db):
    from crm.services import business_create

    return business_create(
        data={
            "name": "Joe's Plumbing",
            "email": "joe@joesplumbing.com",
            "phone": "(512) 555-0100",
            "city": "Austin",
            "state": "TX",
            "category": "Plumber",
        },
        source="test",
    )
