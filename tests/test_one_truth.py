"""One truth for every number, proven on generated worlds (tests/generated_world.py):

- for every campaign and every period, each surface — the campaigns list, the results page
  (table, progress line, revenue), the analytics Campaigns tab and its CSV, the dashboard,
  GET /api/v1/crm/campaigns/{id}/results and GET /api/v1/crm/analytics/campaign-performance
  — equals a plain SQL count of the metric as campaigns/metrics.py defines it;
- for every period, the dashboard funnel, the analytics funnel (page CSV and API),
  GET /api/v1/crm/stats, the pipeline (page and API) and the lead table's totals agree with
  each other and with plain SQL over the leads created in the period.

One world counts days in UTC, the other in America/Guatemala (CRM_TIME_ZONE)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.db import connection

from crm.periods import PRESETS, Period, period_parse
from crm.tokens import token_create
from tests.generated_world import generate_world

pytestmark = pytest.mark.django_db

STATUSES = (
    "pending", "emailed", "texted", "opened", "clicked", "replied", "interested", "purchased",
    "unsubscribed", "bounced",
)  # fmt: skip
TERMINAL = ("purchased", "unsubscribed", "bounced")
CRM_STAGES = ("scraped", "qualified", "site_generated", "contacted", "engaged", "replied")


@pytest.fixture(params=[(1, "UTC"), (2, "America/Guatemala")], ids=["utc", "guatemala"])
def world(request, settings):
    seed, zone = request.param
    settings.CRM_TIME_ZONE = zone
    return generate_world(settings, seed=seed)


@pytest.fixture
def api(viewer_user):
    return {"HTTP_AUTHORIZATION": f"Bearer {token_create(user=viewer_user, name='truth')[1]}"}


def _periods() -> list[Period]:
    periods = [period_parse(key) for key in PRESETS]
    today = period_parse("today").first_day
    periods.append(
        period_parse(None, start=today - timedelta(days=40), end=today - timedelta(days=2))
    )
    periods.append(period_parse(None, end=today - timedelta(days=100)))
    return periods


def _query(period: Period) -> str:
    return "&".join(f"{k}={v}" for k, v in period.params().items())


# --- plain SQL: the definitions, written out ------------------------------------------------


def _one(sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


def _leads_with(campaign_id: int, condition: str) -> int:
    return _one(
        "SELECT COUNT(DISTINCT business_id) FROM campaigns_message WHERE campaign_id = %s "
        f"AND direction = 'outbound' AND ({condition})",
        [campaign_id],
    )


def sql_metrics(campaign) -> dict:
    pk, email = campaign.pk, campaign.channel == "email"
    opted = "email_opt_out_at" if email else "sms_opt_out_at"
    return {
        "recipients": _leads_with(pk, "1 = 1"),
        "sent": _leads_with(
            pk, "sent_at IS NOT NULL OR delivered_at IS NOT NULL OR bounced_at IS NOT NULL"
        ),
        "delivered": _leads_with(pk, "delivered_at IS NOT NULL"),
        "opened": _leads_with(pk, "opened_at IS NOT NULL OR clicked_at IS NOT NULL")
        if email
        else None,
        "clicked": _leads_with(pk, "clicked_at IS NOT NULL"),
        "replied": _leads_with(pk, "replied_at IS NOT NULL"),
        "unsubscribed": _one(
            f"SELECT COUNT(*) FROM crm_business b WHERE b.{opted} IS NOT NULL AND ("
            "SELECT m.campaign_id FROM campaigns_message m WHERE m.business_id = b.id "
            f"AND m.direction = 'outbound' AND m.channel = %s AND m.sent_at <= b.{opted} "
            "ORDER BY m.sent_at DESC, m.id DESC LIMIT 1) = %s",
            [campaign.channel, pk],
        ),
        "bounced": _leads_with(pk, "bounced_at IS NOT NULL"),
        "converted": _one(
            "SELECT COUNT(DISTINCT business_id) FROM billing_checkout "
            "WHERE campaign_id = %s AND status = 'paid'",
            [pk],
        ),
    }


def sql_revenue(campaign_id: int) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.currency, SUM(p.amount_cents) FROM billing_payment p "
            "LEFT JOIN billing_subscription s ON s.id = p.subscription_id "
            "LEFT JOIN billing_checkout c ON c.id = COALESCE(p.checkout_id, s.checkout_id) "
            "WHERE p.status = 'succeeded' AND c.campaign_id = %s GROUP BY p.currency",
            [campaign_id],
        )
        return {currency: int(cents) for currency, cents in cursor.fetchall()}


def sql_messages(campaign_id: int) -> int:
    return _one(
        "SELECT COUNT(*) FROM campaigns_message WHERE campaign_id = %s AND direction = 'outbound'",
        [campaign_id],
    )


def sql_started_in(period: Period, campaigns) -> set[int]:
    return {c.pk for c in campaigns if period.is_all or period.contains(c.started_at)}


def sql_leads_by_status(period: Period) -> dict[str, int]:
    where, params = [], []
    db_value = connection.ops.adapt_datetimefield_value  # UTC, as the column stores it
    if period.since is not None:
        where.append("created_at >= %s")
        params.append(db_value(period.since))
    if period.until is not None:
        where.append("created_at < %s")
        params.append(db_value(period.until))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT contact_status, COUNT(*) FROM crm_business "
            f"{'WHERE ' + ' AND '.join(where) if where else ''} GROUP BY contact_status",
            params,
        )
        return dict(cursor.fetchall())


# --- reading the surfaces --------------------------------------------------------------------


def _rows(html: str) -> dict[int, str]:
    return {
        int(pk): row
        for pk, row in re.findall(r'<tr data-campaign="(\d+)"[^>]*>(.*?)</tr>', html, re.S)
    }


def _cells(row: str) -> dict[str, int | None]:
    out = {}
    for name, text in re.findall(r'<td[^>]* data-metric="(\w+)"[^>]*>\s*([^<]*)', row):
        out[name] = None if text.strip() == "—" else int(text.replace(",", ""))
    return out


def _value_cells(row: str) -> dict[str, int | None]:
    return {
        name: None if value == "" else int(value)
        for name, value in re.findall(r'data-metric="(\w+)" data-value="(-?\d*)"', row)
    }


def _csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def _expected(world) -> dict[int, dict]:
    return {c.pk: sql_metrics(c) for c in world.campaigns}


def test_every_campaign_surface_equals_plain_sql_for_every_period(world, client, staff_user, api):
    expected = _expected(world)
    revenue = {pk: sql_revenue(pk) for pk in expected}
    assert any(m["converted"] for m in expected.values()), "the world has purchases"
    assert any(m["unsubscribed"] for m in expected.values()), "and opt-outs"
    assert {cur for r in revenue.values() for cur in r} == {"USD", "GTQ"}
    client.force_login(staff_user)

    # The campaigns list (lifetime numbers, whatever the period).
    rows = _rows(client.get("/admin/crm/campaigns/").content.decode())
    assert set(rows) == set(expected)
    for pk, row in rows.items():
        cells = _cells(row)
        shown = {
            k: cells[k] for k in ("recipients", "sent", "opened", "clicked", "replied", "converted")
        }
        assert shown == {k: expected[pk][k] for k in shown}, pk
        assert cells["messages"] == sql_messages(pk)

    for campaign in world.campaigns:
        pk, want = campaign.pk, expected[campaign.pk]
        # The results page: the table, the progress line, the revenue.
        html = client.get(f"/admin/crm/campaigns/{pk}/").content.decode()
        table = {
            name: None if text == "—" else int(text)
            for name, text in re.findall(
                r'<td data-metric="(\w+)"[^>]*><strong>([^<]+)</strong>', html
            )
        }
        assert table == want, campaign.name
        line = re.search(
            r'<strong data-metric="sent">(\d+)</strong> of <span data-metric="recipients">(\d+)',
            html,
        )
        assert (int(line[1]), int(line[2])) == (want["sent"], want["recipients"])
        assert re.search(rf"Messages \(follow-ups included\): {sql_messages(pk)} message", html)
        shown = dict(re.findall(r'data-currency="(\w+)" data-cents="(\d+)"', html))
        assert {k: int(v) for k, v in shown.items()} == revenue[pk]
        # GET /api/v1/crm/campaigns/{id}/results
        body = client.get(f"/api/v1/crm/campaigns/{pk}/results", **api).json()
        assert {k: v["count"] for k, v in body["metrics"].items()} == want
        assert body["messages"]["total"] == sql_messages(pk)
        assert {r["currency"]: r["amount_cents"] for r in body["revenue"]} == revenue[pk]

    for period in _periods():
        started = sql_started_in(period, world.campaigns)
        q = _query(period)
        # The analytics Campaigns tab: the table and its CSV.
        page = client.get(f"/admin/crm/analytics/?section=campaigns&{q}").content.decode()
        rows = _rows(page)
        assert set(rows) == started, period
        for pk, row in rows.items():
            cells = _value_cells(row)
            assert {k: cells[k] for k in expected[pk]} == expected[pk], (period, pk)
        lines = _csv(client.get(f"/admin/crm/analytics/?format=csv&chart=campaigns&{q}"))
        assert {int(r["campaign_id"]) for r in lines} == started
        for r in lines:
            want = expected[int(r["campaign_id"])]
            got = {
                k: None
                if r[k if k != "converted" else "purchases"] == ""
                else int(r[k if k != "converted" else "purchases"])
                for k in want
            }
            assert got == want
            money = {c: int(r[f"revenue_{c.lower()}_cents"]) for c in ("USD", "GTQ")}
            assert {c: v for c, v in money.items() if v} == revenue[int(r["campaign_id"])]
        # The dashboard.
        board = _rows(client.get(f"/admin/crm/?{q}").content.decode())
        assert set(board) == started
        for pk, row in board.items():
            cells = _cells(row)
            assert cells == {k: expected[pk][k] for k in cells}
        # GET /api/v1/crm/analytics/campaign-performance
        body = client.get(f"/api/v1/crm/analytics/campaign-performance?{q}", **api).json()
        assert {c["campaign_id"] for c in body["campaigns"]} == started
        for c in body["campaigns"]:
            want = expected[c["campaign_id"]]
            assert {k: c[k if k != "converted" else "purchases"] for k in want} == want
            assert {m["currency"]: m["cents"] for m in c["revenue"]} == revenue[c["campaign_id"]]
            assert c["messages"] == sql_messages(c["campaign_id"])


def test_period_all_gives_the_two_endpoints_equal_values(world, client, api):
    performance = client.get("/api/v1/crm/analytics/campaign-performance?period=all", **api)
    rows = {c["campaign_id"]: c for c in performance.json()["campaigns"]}
    assert set(rows) == {c.pk for c in world.campaigns}
    for pk, row in rows.items():
        results = client.get(f"/api/v1/crm/campaigns/{pk}/results", **api).json()
        counts = {k: v["count"] for k, v in results["metrics"].items()}
        assert counts["converted"] == row["purchases"]
        for name in ("recipients", "sent", "delivered", "opened", "clicked", "replied",
                     "unsubscribed", "bounced"):  # fmt: skip
            assert counts[name] == row[name], name
        assert [(r["currency"], r["amount_cents"]) for r in results["revenue"]] == [
            (m["currency"], m["cents"]) for m in row["revenue"]
        ]
        if row["channel"] == "sms":
            assert counts["opened"] is None and row["open_rate"] is None


def _lead_total(client, params: str) -> int:
    html = client.get(f"/admin/crm/leads/?{params}").content.decode()
    return int(re.search(r'id="lead-total"[^>]*>([\d,]+) lead', html)[1].replace(",", ""))


def test_funnel_pipeline_lead_totals_and_stats_agree_for_each_period(
    world, client, staff_user, api
):
    client.force_login(staff_user)
    for period in _periods():
        q = _query(period)
        by_status = sql_leads_by_status(period)
        scraped = sum(by_status.values())
        dashboard = {
            stage: int(n)
            for stage, n in re.findall(
                r'data-stage="(\w+)" data-count="(\d+)"',
                client.get(f"/admin/crm/?{q}").content.decode(),
            )
        }
        funnel_api = client.get(f"/api/v1/crm/analytics/funnel?{q}", **api).json()
        analytics = {s["stage"]: s["count"] for s in funnel_api["stages"]}
        funnel_csv = {
            r["stage"]: int(r["count"])
            for r in _csv(client.get(f"/admin/crm/analytics/?format=csv&chart=funnel&{q}"))
        }
        stats = client.get(f"/api/v1/crm/stats?{q}", **api).json()
        assert dashboard == analytics == funnel_csv, period
        assert {k: stats["funnel"][k] for k in stats["funnel"]} == {
            k: analytics[k] for k in stats["funnel"]
        }
        assert analytics["scraped"] == stats["leads"] == scraped, period
        assert {k: v for k, v in stats["contact_status"].items() if v} == by_status
        # The pipeline, on its page and over the API: the same leads, by current stage.
        board = client.get(f"/admin/crm/pipeline/?{q}").content.decode()
        columns = dict(re.findall(r'id="col-(\w+)".*?data-count="(\d+)"', board, re.S))
        assert {k: int(v) for k, v in columns.items() if int(v)} == by_status
        pipeline = client.get(f"/api/v1/crm/pipeline?{q}", **api).json()
        assert {c["status"]: c["count"] for c in pipeline if c["count"]} == by_status
        # One stall rule: the pipeline's "stalled" is "Where leads stall"'s, terminal
        # stages (purchased, unsubscribed, bounced) excluded from both.
        stages = client.get(f"/api/v1/crm/analytics/time-in-stage?{q}", **api).json()
        stalled = {s["status"]: (s["leads"], s["stalled"]) for s in stages["stages"]}
        assert {
            c["status"]: (c["count"], c["stalled"])
            for c in pipeline
            if c["count"] and c["stalled"] is not None
        } == stalled
        assert {c["status"] for c in pipeline if c["stalled"] is None} == set(TERMINAL)
        # The lead table's totals for the period's leads, all and per stage.
        created = "&".join(f"{k}={v}" for k, v in period.lead_filter_params().items())
        assert _lead_total(client, created) == scraped
        leads_api = client.get(f"/api/v1/crm/leads?{created}", **api).json()
        assert leads_api["total"] == scraped and not leads_api["total_is_estimate"]
        for status, n in by_status.items():
            assert _lead_total(client, f"contact_status={status}&{created}") == n
    assert set(STATUSES) >= set(sql_leads_by_status(period_parse("all")))
    assert set(CRM_STAGES) <= set(analytics)
