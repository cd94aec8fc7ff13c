"""Schemathesis against the live OpenAPI schema (/api/v1/openapi.json), through the WSGI
app, on a world with data (campaigns by email and SMS, purchases in USD and GTQ, leads):

- every operation, fuzzed with a bounded number of generated requests, as a sales token and
  as a viewer token;
- every GET operation called with the world's own ids and each period form, so the bodies
  that carry money, metrics and samples are checked too.

A response must never be a 5xx, its status must be documented, its content type JSON and
its body valid against its response schema; any violation fails the test."""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from campaigns.models import Campaign
from crm.models import Business
from crm.tokens import token_create
from tests.analytics_world import build_world, send_sms

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
def world(settings, keep_connection):
    world = build_world(settings)
    sms = Campaign.objects.create(
        name="SMS pilot", channel="sms", started_at=world.now - timedelta(days=2)
    )
    send_sms(sms, world.leads["E"], world.now - timedelta(days=2), clicked=True)
    return world


@pytest.fixture(params=["sales", "viewer"])
def bearer(request, world):
    user = request.getfixturevalue(f"{request.param}_user")
    _, key = token_create(user=user, name=f"fuzz {request.param}")
    return {"Authorization": f"Bearer {key}"}


FUZZ = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_api_matches_its_schema(case, bearer):
    case.call_and_validate(headers=bearer, checks=CHECKS)


PERIODS = [{}, {"period": "today"}, {"period": "week"}, {"period": "all"}]


def _path_values(world) -> dict[str, list[int]]:
    campaigns = list(Campaign.objects.values_list("pk", flat=True))
    return {
        "campaign_id": campaigns,
        "lead_id": [world.leads["A"].pk, Business.objects.order_by("-pk")[0].pk],
        "subscription_id": [1],
    }


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["sales", "viewer"])
def test_every_read_with_real_data_matches_its_schema(request, world, role):
    """Each GET operation with the world's ids (campaign results of an email and an SMS
    campaign, money in two currencies) and each period form: bodies match the schema."""
    user = request.getfixturevalue(f"{role}_user")
    headers = {"Authorization": f"Bearer {token_create(user=user, name='read')[1]}"}
    today = timezone.localdate()
    periods = [*PERIODS, {"from": (today - timedelta(days=30)).isoformat(), "to": str(today)}]
    values = _path_values(world)
    checked = 0
    for operation in schema.get_all_operations():
        operation = operation.ok()
        if operation.method.upper() != "GET":
            continue
        names = {p.name for p in operation.path_parameters}
        query = {p.name for p in operation.query}
        choices = [{}] if not names else [{n: v} for n in names for v in values[n]]
        for path in choices:
            for period in periods if "period" in query else [{}]:
                case = operation.Case(path_parameters=path, query=period)
                case.call_and_validate(headers=headers, checks=CHECKS)
                checked += 1
    assert checked > 30
