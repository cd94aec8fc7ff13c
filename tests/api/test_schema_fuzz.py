"""Schemathesis against the live OpenAPI schema (/api/v1/openapi.json), through the WSGI
app: a bounded number of generated requests per endpoint, authenticated with a sales token,
must never get a 5xx and every response must match the schema (status documented, body
valid against its response schema, JSON content type)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crm.services import business_create
from crm.tokens import token_create

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def keep_connection():
    """Django's WSGI handler closes the database connection after each request, which would
    close the test's transaction; Django's own test client turns that off the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(sales_user, keep_connection):
    business_create(data={"name": "Fuzz Plumbing", "city": "Austin"}, source="test")
    _, key = token_create(user=sales_user, name="fuzz")
    return {"Authorization": f"Bearer {key}"}


FUZZ = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.django_db
@schema.exclude(tag="billing").parametrize()
@FUZZ
def test_api_matches_its_schema(case, bearer):
    case.call_and_validate(headers=bearer, checks=CHECKS)


@pytest.mark.django_db
@schema.include(tag="billing").parametrize()
@FUZZ
def test_billing_api_matches_its_schema(case, bearer):
    case.call_and_validate(headers=bearer, checks=CHECKS)
