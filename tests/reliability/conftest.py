"""Settings every reliability test needs: provider secrets (Twilio token, Svix secret) and a
clean rate-limit cache."""

from __future__ import annotations

import pytest

from tests.billing.conftest import WEBHOOK_SECRET
from tests.campaigns.events_helpers import TWILIO_TOKEN


@pytest.fixture(autouse=True)
def _provider_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.RECURRENTE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.RECURRENTE_PUBLIC_KEY = ""
    settings.RECURRENTE_SECRET_KEY = ""
    settings.CANCELLED_SITE_STATUS = "suspended"
    settings.CHECKOUT_REMINDER_EMAIL = False
    from django.core.cache import cache

    cache.clear()
