"""One period model (crm.periods) for the dashboard, analytics, pipeline and API: calendar
Today / This week (from Monday) / This month, Last 7 / 30 / 90 days, Last 12 months, All
time and custom ranges, in CRM_TIME_ZONE."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from crm import lifecycle
from crm.models import Business, LeadDayTally, TallyZone
from crm.periods import period_from_params, period_parse
from crm.services import business_create
from crm.tallies import period_funnel, period_funnel_counts, tally_zone_sync

# A Wednesday, 03:30 UTC: still Tuesday evening in Guatemala (UTC-6).
NOW = datetime(2026, 3, 4, 3, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("key", "first_day", "label"),
    [
        ("today", date(2026, 3, 4), "Today"),
        ("week", date(2026, 3, 2), "This week"),  # Monday
        ("month", date(2026, 3, 1), "This month"),
        ("7d", date(2026, 2, 26), "Last 7 days"),  # today and the 6 days before
        ("30d", date(2026, 2, 3), "Last 30 days"),
        ("90d", date(2025, 12, 5), "Last 90 days"),
        ("365d", date(2025, 3, 5), "Last 12 months"),
        ("all", None, "All time"),
    ],
)
def test_presets_are_calendar_days_in_utc_by_default(settings, key, first_day, label):
    settings.CRM_TIME_ZONE = "UTC"
    period = period_parse(key, now=NOW)
    assert (period.first_day, period.last_day, period.label) == (first_day, None, label)
    if first_day:
        assert period.since == datetime.combine(first_day, datetime.min.time(), tzinfo=UTC)
    assert period.until is None


def test_the_week_starts_on_the_business_s_monday_in_crm_time_zone(settings):
    settings.CRM_TIME_ZONE = "America/Guatemala"
    today = period_parse("today", now=NOW)
    assert today.first_day == date(2026, 3, 3)  # Tuesday there
    assert today.since == datetime(2026, 3, 3, tzinfo=ZoneInfo("America/Guatemala"))
    assert today.since == datetime(2026, 3, 3, 6, tzinfo=UTC)
    assert period_parse("week", now=NOW).first_day == date(2026, 3, 2)
    # On a Monday the week is that day alone.
    monday = datetime(2026, 3, 2, 12, tzinfo=UTC)
    assert period_parse("week", now=monday).first_day == date(2026, 3, 2)


def test_a_custom_range_includes_both_days():
    period = period_parse(None, start="2026-01-01", end="2026-01-31")
    assert (period.key, period.first_day, period.last_day) == (
        "custom",
        date(2026, 1, 1),
        date(2026, 1, 31),
    )
    assert period.contains(datetime(2026, 1, 31, 23, 59, tzinfo=UTC))
    assert not period.contains(datetime(2026, 2, 1, tzinfo=UTC))
    assert period.params() == {"period": "custom", "from": "2026-01-01", "to": "2026-01-31"}
    assert period.lead_filter_params() == {
        "created_after": "2026-01-01",
        "created_before": "2026-01-31",
    }
    assert period_parse("custom", start="2026-01-05").last_day is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "forever"}, "Unknown period"),
        ({"period": "custom"}, "needs a from date"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "after the to date"),
        ({"period": "week", "from": "2026-01-01"}, "not both"),
        ({"from": "yesterday"}, "must be a date"),
    ],
)
def test_bad_periods_are_refused_with_a_clear_message(params, message):
    with pytest.raises(ValueError, match=message):
        period_from_params(params)


# --- the day tallies count days in CRM_TIME_ZONE ------------------------------------------------


@pytest.mark.django_db
def test_a_lead_created_at_11pm_guatemala_counts_on_guatemala_s_day(settings):
    """23:00 in Guatemala is 05:00 UTC the next day: "Today" in Guatemala must count it on
    the Guatemalan day, not UTC's."""
    settings.CRM_TIME_ZONE = "America/Guatemala"
    tally_zone_sync()
    late = datetime(2026, 3, 3, 23, tzinfo=ZoneInfo("America/Guatemala"))
    lead = business_create(data={"name": "Late Night Tacos", "city": "Antigua"}, source="t")
    Business.objects.filter(pk=lead.pk).update(created_at=late, contact_status_changed_at=late)
    lifecycle.business_record_contact(business=lead, channel="email", source="t", at=late)
    tuesday = period_funnel_counts(date(2026, 3, 3), date(2026, 3, 3))
    assert (tuesday["scraped"], tuesday["contacted"]) == (1, 1)
    assert period_funnel_counts(date(2026, 3, 4), date(2026, 3, 4))["scraped"] == 0


@pytest.mark.django_db
def test_changing_crm_time_zone_recounts_the_days(settings):
    settings.CRM_TIME_ZONE = "UTC"
    tally_zone_sync()
    late = datetime(2026, 3, 4, 3, tzinfo=UTC)  # 3 March, 21:00 in Guatemala
    lead = business_create(data={"name": "Night Owl Plumbing", "city": "Austin"}, source="t")
    Business.objects.filter(pk=lead.pk).update(created_at=late)
    assert LeadDayTally.objects.filter(field="created", day=date(2026, 3, 4)).exists()
    settings.CRM_TIME_ZONE = "America/Guatemala"
    now = datetime(2026, 3, 4, 4, tzinfo=UTC)
    assert period_funnel(period_parse("today", now=now))["scraped"] == 1  # recounted first
    assert TallyZone.objects.get(pk=1).zone == "America/Guatemala"
    created = LeadDayTally.objects.filter(field="created").values_list("day", flat=True)
    assert date(2026, 3, 3) in set(created) and date(2026, 3, 4) not in set(created)


@pytest.mark.django_db
def test_the_lead_table_date_filter_uses_the_same_days(settings, client, staff_user):
    settings.CRM_TIME_ZONE = "America/Guatemala"
    late = datetime(2026, 3, 3, 23, tzinfo=ZoneInfo("America/Guatemala"))
    lead = business_create(data={"name": "Late Night Tacos", "city": "Antigua"}, source="t")
    Business.objects.filter(pk=lead.pk).update(created_at=late)
    client.force_login(staff_user)
    on_the_3rd = client.get("/admin/crm/leads/?created_after=2026-03-03&created_before=2026-03-03")
    assert "Late Night Tacos" in on_the_3rd.content.decode()
    on_the_4th = client.get("/admin/crm/leads/?created_after=2026-03-04")
    assert "Late Night Tacos" not in on_the_4th.content.decode()


def test_the_api_takes_the_same_period_keys():
    from crm.api import PeriodEnum
    from crm.periods import KEYS

    assert [e.value for e in PeriodEnum] == list(KEYS)
    assert list(KEYS) == ["today", "week", "month", "7d", "30d", "90d", "365d", "all", "custom"]
