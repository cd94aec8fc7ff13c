"""Values a person reads: one money formatter, real counts with correct plurals, durations
as '17 h' / '3 d 4 h' — on the pages as in the code."""

from datetime import timedelta

import pytest

from crm.formatting import format_days, format_duration, format_money, format_rate, plural


@pytest.mark.parametrize(
    ("cents", "currency", "per", "expected"),
    [
        (9700, "USD", "month", "$97.00 / month"),
        (75000, "GTQ", "", "Q750.00"),
        (49700, "USD", "", "$497.00"),
        (123456789, "USD", "", "$1,234,567.89"),
        (-550, "USD", "", "-$5.50"),
        (100, "EUR", "", "EUR 1.00"),
    ],
)
def test_money_is_exact_cents_with_the_currency(cents, currency, per, expected):
    assert format_money(cents, currency, per=per) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(minutes=42), "42 min"),
        (timedelta(hours=17, minutes=59), "17 h"),
        (timedelta(days=3, hours=4, minutes=10), "3 d 4 h"),
        (timedelta(days=46), "46 d"),
        (timedelta(seconds=-5), "0 min"),
        (None, "—"),
    ],
)
def test_durations_read_as_minutes_hours_and_days(value, expected):
    assert format_duration(value) == expected


def test_days_and_rates_read_like_durations_and_percentages():
    assert format_days(0.75) == "18 h"
    assert format_days(3.2) == "3 d 4 h"
    assert format_rate(0.12345) == "12.3%"
    assert format_rate(None) == "—"


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "0 photos"), (1, "1 photo"), (2, "2 photos"), (1204, "1,204 photos")],
)
def test_plurals(count, expected):
    assert plural(count, "photo") == expected
    assert plural(1, "reply", "replies") == "1 reply"
    assert plural(3, "reply", "replies") == "3 replies"


def test_a_score_breakdown_says_1_photo(db):
    from crm.scoring import score

    _, breakdown = score(
        website_kind="none",
        phone="",
        email="",
        rating=None,
        review_count=1,
        recent_review_count=1,
        photo_count=1,
    )
    assert breakdown["photos"]["why"] == "1 photo"
    assert breakdown["reviews"]["why"] == "1 review"
    assert breakdown["recent_reviews"]["why"] == "1 recent review"


@pytest.mark.django_db
def test_the_lead_page_shows_money_formatted_never_in_cents(client, staff_user, business, settings):
    """A purchase through the sandbox: the payment and the subscription read as money."""
    from billing.backends import SandboxBackend
    from billing.services import checkout_create
    from sites.models import Site

    settings.SETUP_FEE_CENTS, settings.MONTHLY_PRICE_CENTS = 40000, 9700
    settings.PRICE_CURRENCY = "USD"
    site = Site.objects.create(business=business, slug="joes", html="<p>Joe</p>")
    checkout, _ = checkout_create(site=site, success_url="/ok/", cancel_url="/no/")
    SandboxBackend().pay(checkout)
    client.force_login(staff_user)
    html = client.get(f"/admin/crm/leads/{business.pk}/").content.decode()
    assert "$497.00" in html
    assert "$97.00 / month" in html
    assert "¢" not in html and "9700" not in html
