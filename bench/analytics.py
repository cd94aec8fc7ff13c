"""Benchmark: every analytics tab at a million leads, next to a raw-SQL floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wm_bench .venv/bin/python -m bench.analytics

Server time is measured in-process through Django's test client: the whole request
(session, middleware, view, every query, SVG and template), per tab of
/admin/crm/analytics/ and per period (all time, 90 days). The floor is the one hand-written
grouped SQL statement(s) the tab cannot do without (run through a separate psycopg connection
the way Django runs queries, no server-side prepare): the same pass over the messages, the
leads or the payments, without the ORM, the other small queries, or the rendering.
Target (issue 7): every tab under 1,000 ms server time at 1,000,000 leads.
"""

from __future__ import annotations

import argparse

from bench import common

TARGET_MS = 1000.0

FLOORS: dict[str, str | tuple[str, ...]] = {
    # A period funnel needs one pass over each of leads, sites and messages.
    "funnel": (
        """SELECT COUNT(*), COUNT(*) FILTER (WHERE qualification_score >= 50)
        FROM crm_business WHERE created_at >= %(since)s""",
        """SELECT COUNT(DISTINCT business_id) FILTER (WHERE created_at >= %(since)s),
               COUNT(DISTINCT business_id) FILTER (WHERE purchased_at >= %(since)s)
        FROM sites_site WHERE business_id IS NOT NULL
          AND (created_at >= %(since)s OR purchased_at >= %(since)s)""",
        """
        SELECT COUNT(DISTINCT business_id) FILTER (WHERE sent_at >= %(since)s),
               COUNT(DISTINCT business_id) FILTER (WHERE opened_at >= %(since)s
                                                   OR clicked_at >= %(since)s),
               COUNT(DISTINCT business_id) FILTER (WHERE replied_at >= %(since)s)
        FROM campaigns_message
        WHERE direction = 'outbound'
          AND (sent_at >= %(since)s OR opened_at >= %(since)s OR clicked_at >= %(since)s
               OR replied_at >= %(since)s)""",
    ),
    "cohorts": """
        SELECT date_trunc('week', first_sent), COUNT(*), SUM(o), SUM(c), SUM(r), SUM(p)
        FROM (SELECT business_id, MIN(sent_at) AS first_sent,
                     MAX(CASE WHEN opened_at IS NOT NULL OR clicked_at IS NOT NULL
                         THEN 1 ELSE 0 END) AS o,
                     MAX(CASE WHEN clicked_at IS NOT NULL THEN 1 ELSE 0 END) AS c,
                     MAX(CASE WHEN replied_at IS NOT NULL THEN 1 ELSE 0 END) AS r,
                     MAX(CASE WHEN converted_at IS NOT NULL THEN 1 ELSE 0 END) AS p
              FROM campaigns_message
              WHERE direction = 'outbound' AND sent_at IS NOT NULL
              GROUP BY business_id
              HAVING MIN(sent_at) >= %(since)s) t
        GROUP BY 1 ORDER BY 1""",
    "revenue": """
        SELECT b.category, p.currency, SUM(p.amount_cents)
        FROM billing_payment p LEFT JOIN crm_business b ON b.id = p.business_id
        WHERE p.status = 'succeeded' AND p.paid_at >= %(since)s
        GROUP BY 1, 2""",
    "campaigns": """
        SELECT campaign_id, COUNT(*) FILTER (WHERE sent_at IS NOT NULL),
               COUNT(*) FILTER (WHERE opened_at IS NOT NULL OR clicked_at IS NOT NULL),
               COUNT(*) FILTER (WHERE clicked_at IS NOT NULL),
               COUNT(*) FILTER (WHERE replied_at IS NOT NULL),
               COUNT(*) FILTER (WHERE converted_at IS NOT NULL)
        FROM campaigns_message
        WHERE direction = 'outbound' AND campaign_id IS NOT NULL
        GROUP BY 1""",
    "convert": """
        SELECT COUNT(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY d)
        FROM (SELECT EXTRACT(EPOCH FROM (MIN(converted_at) - MIN(sent_at))) / 86400 AS d
              FROM campaigns_message
              WHERE direction = 'outbound' AND sent_at IS NOT NULL
                AND business_id IN (SELECT business_id FROM campaigns_message
                                    WHERE converted_at >= %(since)s)
              GROUP BY business_id
              HAVING MIN(converted_at) >= %(since)s) t""",
    "stages": """
        SELECT contact_status, COUNT(*),
               AVG(EXTRACT(EPOCH FROM (now() - contact_status_changed_at)) / 86400),
               SUM(CASE WHEN contact_status_changed_at < now() - interval '14 days'
                   THEN 1 ELSE 0 END)
        FROM crm_business GROUP BY 1""",
}

TABS = [
    ("funnel", {}),
    ("cohorts", {"group": "week"}),
    ("revenue", {"by": "category"}),
    ("revenue", {"by": "city"}),
    ("revenue", {"by": "campaign"}),
    ("campaigns", {}),
    ("convert", {}),
    ("stages", {}),
]
PERIODS = ("all", "90d")


def _client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    return client


def run(repeat: int = 5) -> dict:
    from datetime import UTC, datetime, timedelta
    from urllib.parse import urlencode

    from django.db import connection
    from django.urls import reverse
    from django.utils import timezone

    from webmagic import analytics

    client = _client()
    raw = common.raw_connection()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples::bigint FROM pg_class WHERE relname IN "
            "('crm_business', 'campaigns_message', 'billing_payment', 'sites_site')"
        )
        world = dict(cursor.fetchall())
    print("world:", world)
    results: dict = {"world": world, "target_ms": TARGET_MS, "tabs": {}}
    worst = 0.0
    for period in PERIODS:
        days = analytics.PERIODS[period][1]
        since = timezone.now() - timedelta(days=days) if days else datetime(1970, 1, 1, tzinfo=UTC)
        for section, extra in TABS:
            params = {"section": section, "period": period, **extra}
            url = reverse("analytics") + "?" + urlencode(params)

            def page(url=url):
                response = client.get(url, HTTP_HOST="localhost")
                assert response.status_code == 200, response.status_code

            statements = FLOORS[section]
            if isinstance(statements, str):
                statements = (statements,)

            def floor(statements=statements, since=since):
                with raw.cursor() as cur:
                    for sql in statements:
                        cur.execute(sql, {"since": since})
                        cur.fetchall()

            ours = common.measure(page, repeat=repeat, warmup=1)
            anchor = common.measure(floor, repeat=repeat, warmup=1)
            name = "/".join([section, period, *extra.values()])
            worst = max(worst, ours["median_ms"])
            results["tabs"][name] = {
                "url": url,
                "page": ours,
                "floor": anchor,
                "ratio": common.ratio(ours, anchor),
                "under_target": ours["median_ms"] < TARGET_MS,
            }
            print(
                f"{name:28s} page {ours['median_ms']:8.1f} ms (p95 {ours['p95_ms']:8.1f})"
                f"   floor {anchor['median_ms']:8.1f} ms   ×{common.ratio(ours, anchor)}"
                f"   {'ok' if ours['median_ms'] < TARGET_MS else 'OVER 1 s'}",
                flush=True,
            )
    results["worst_page_median_ms"] = worst
    results["all_under_target"] = worst < TARGET_MS
    raw.close()
    # Written here so `make bench` keeps it too (bench/summary.py reads the latest files).
    common.write_result("analytics", {**results, "machine": common.machine()})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    common.setup_django()
    common.require_postgres()
    run(repeat=args.repeat)
    print(f"Results: {common.RESULTS_DIR / 'analytics.json'}")


if __name__ == "__main__":
    main()
