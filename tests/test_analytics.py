"""Analytics numbers against hand-computed expectations on the small world of
tests/analytics_world.py (read its table first)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from billing.models import Payment
from billing.queries import mrr_by_currency, revenue_by_currency
from crm.periods import period_parse
from tests.analytics_world import GTQ_SALE, USD_SALE, build_world, monday
from webmagic import analytics

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(settings):
    return build_world(settings)


def _counts(rows):
    return {r["stage"]: r["count"] for r in rows}


def test_funnel_all_time_counts_leads_that_reached_each_stage(world):
    rows = analytics.analytics_funnel(period_parse("all"))
    assert _counts(rows) == {
        "scraped": 6,
        "qualified": 4,  # A 80, B 60, D 90, F 55 (QUALIFIED_SCORE 50)
        "site_generated": 4,  # A, B, D, F
        "contacted": 5,  # A, B, C + F reached "purchased" without a message
        "engaged": 4,  # A, B (unsubscribed later, still reached opened), D, F
        "replied": 3,  # A, and D and F ranked above replied by purchasing
        "purchased": 3,
        "subscribed": 3,
    }
    by = {r["stage"]: r for r in rows}
    assert by["scraped"]["step_rate"] is None
    assert by["qualified"]["step_rate"] == pytest.approx(4 / 6, abs=1e-4)
    assert by["subscribed"]["overall_rate"] == 0.5


def test_a_period_holding_all_history_equals_all_time(world):
    period = _counts(analytics.analytics_funnel(period_parse("30d")))
    assert period == _counts(analytics.analytics_funnel(period_parse("all")))


def test_funnel_for_a_period_counts_each_stage_on_the_day_it_was_reached(world):
    # The last 7 days hold t1 (6 days ago) and the purchases (now), not t0 (20 days ago).
    counts = analytics.funnel_counts_for(period_parse("7d"))
    assert counts == {
        "scraped": 6,  # every lead was created now
        "qualified": 4,
        "site_generated": 4,
        "contacted": 2,  # D (emailed at t1) and F (reached every stage by purchasing now)
        "engaged": 2,  # D clicked at t1, F; A and B opened at t0
        "replied": 2,  # D and F passed "replied" by purchasing now; A replied at t0
        "purchased": 3,  # A, D, F
        "subscribed": 3,
    }


def test_conversion_cohorts_by_week_of_first_contact(world):
    rows = analytics.conversion_cohorts(period_parse("90d"), "week")
    assert [r["cohort"] for r in rows] == [monday(world.t0), monday(world.t1)]
    first, second = rows
    assert {k: first[k] for k in ("contacted", "opened", "clicked", "replied", "purchased")} == {
        "contacted": 3,
        "opened": 2,
        "clicked": 1,
        "replied": 1,
        "purchased": 1,
    }
    assert first["open_rate"] == pytest.approx(0.6667)
    assert first["purchase_rate"] == pytest.approx(0.3333)
    assert (second["contacted"], second["clicked"], second["purchase_rate"]) == (1, 1, 1.0)


def test_conversion_cohorts_by_month(world):
    rows = analytics.conversion_cohorts(period_parse("90d"), "month")
    months = sorted({world.t0.date().replace(day=1), world.t1.date().replace(day=1)})
    assert [r["cohort"] for r in rows] == months
    assert sum(r["contacted"] for r in rows) == 4


def test_a_period_leaves_out_leads_first_contacted_before_it(world):
    rows = analytics.conversion_cohorts(period_parse("30d"), "week")
    assert sum(r["contacted"] for r in rows) == 4
    # Nothing was sent more than 30 days ago, so "all" says the same.
    assert analytics.conversion_cohorts(period_parse("all")) == rows


def _by_label(rows):
    return {(r["label"], r["currency"]): r for r in rows}


def test_revenue_by_category_in_cents_per_currency(world):
    rows = _by_label(analytics.revenue_by_source(period_parse("90d"), "category"))
    assert set(rows) == {("Plumber", "USD"), ("Dentist", "USD"), ("Roofer", "GTQ")}
    assert rows[("Plumber", "USD")]["revenue_cents"] == USD_SALE
    assert rows[("Plumber", "USD")]["mrr_cents"] == 9700
    assert rows[("Roofer", "GTQ")]["revenue_cents"] == GTQ_SALE
    assert rows[("Roofer", "GTQ")]["mrr_cents"] == GTQ_SALE
    # The groups add up to billing's own totals.
    totals: dict[str, int] = {}
    mrr: dict[str, int] = {}
    for r in rows.values():
        totals[r["currency"]] = totals.get(r["currency"], 0) + r["revenue_cents"]
        mrr[r["currency"]] = mrr.get(r["currency"], 0) + r["mrr_cents"]
    assert totals == revenue_by_currency()
    assert mrr == mrr_by_currency()


def test_revenue_by_city_keeps_the_state(world):
    rows = _by_label(analytics.revenue_by_source(period_parse("90d"), "city"))
    assert set(rows) == {("Austin, TX", "USD"), ("Dallas, TX", "USD"), ("Springfield, IL", "GTQ")}
    assert rows[("Dallas, TX", "USD")]["customers"] == 1


def test_revenue_by_the_campaign_that_converted_the_lead(world):
    rows = _by_label(analytics.revenue_by_source(period_parse("90d"), "campaign"))
    assert rows[("Spring plumbers", "USD")]["revenue_cents"] == USD_SALE
    assert rows[("Spring plumbers", "USD")]["campaign_id"] == world.c1.pk
    assert rows[("Dentists", "USD")]["revenue_cents"] == USD_SALE
    assert rows[("(no campaign)", "GTQ")]["revenue_cents"] == GTQ_SALE
    assert rows[("(no campaign)", "GTQ")]["mrr_cents"] == GTQ_SALE


def test_revenue_outside_the_period_is_left_out_but_mrr_stays(world):
    Payment.objects.update(paid_at=world.now - timedelta(days=40))
    rows = analytics.revenue_by_source(period_parse("30d"), "category")
    assert sum(r["revenue_cents"] for r in rows) == 0
    assert sum(r["mrr_cents"] for r in rows) == 9700 * 2 + GTQ_SALE


def test_campaign_performance_rates_and_revenue(world):
    rows = {r["name"]: r for r in analytics.campaign_performance(period_parse("90d"))}
    c1, c2 = rows["Spring plumbers"], rows["Dentists"]
    assert (c1["sent"], c1["opened"], c1["clicked"], c1["replied"], c1["purchases"]) == (
        3,
        2,
        1,
        1,
        1,
    )
    assert c1["open_rate"] == pytest.approx(0.6667)
    assert c1["purchase_rate"] == pytest.approx(0.3333)
    assert c1["revenue"] == [{"currency": "USD", "cents": USD_SALE}]
    # A click counts as an open (the pixel is often blocked).
    assert (c2["sent"], c2["opened"], c2["clicked"], c2["purchases"]) == (1, 1, 1, 1)
    assert c2["purchase_rate"] == 1.0


def test_campaign_performance_sorts(world):
    names = [r["name"] for r in analytics.campaign_performance(period_parse("all"), "-open_rate")]
    assert names == ["Dentists", "Spring plumbers"]
    names = [r["name"] for r in analytics.campaign_performance(period_parse("all"), "name")]
    assert names == ["Dentists", "Spring plumbers"]
    with pytest.raises(ValueError):
        analytics.campaign_performance(period_parse("all"), "drop table")


def test_time_to_convert_median_from_first_contact_to_purchase(world):
    result = analytics.time_to_convert(period_parse("90d"))
    assert result.converted == 2  # F bought without ever being contacted
    assert result.median_days == pytest.approx(13, abs=0.05)  # A 20 days, D 6 days
    assert result.fastest_days == pytest.approx(6, abs=0.05)
    assert result.slowest_days == pytest.approx(20, abs=0.05)


def test_time_in_stage_shows_where_leads_stall_leaving_out_terminal_stages(world):
    stages = {r["status"]: r for r in analytics.time_in_stage(period_parse("all"))}
    # Purchased (A, D, F) and unsubscribed (B) leads are done: they never stall.
    assert {s: r["leads"] for s, r in stages.items()} == {"pending": 1, "emailed": 1}
    # C has waited since t0 (20 days) after the email: stalled.
    assert stages["emailed"]["stalled"] == 1
    assert stages["emailed"]["median_days"] == pytest.approx(20, abs=0.1)
    assert stages["emailed"]["p90_days"] == pytest.approx(20, abs=0.1)
    assert stages["pending"]["stalled"] == 0


def test_bad_period_and_grouping_are_refused(db):
    with pytest.raises(ValueError):
        period_parse("7y")
    with pytest.raises(ValueError):
        analytics.conversion_cohorts(period_parse("all"), "day")
    with pytest.raises(ValueError):
        analytics.revenue_by_source(period_parse("all"), "owner")
