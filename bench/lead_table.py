"""Benchmark: the lead table and the dashboard funnel at a million leads.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wm_bench .venv/bin/python -m bench.lead_table

Server time measured in-process through Django's test client (the whole request: session,
middleware, view, template), each next to its anchor in the same run:
- first page of a typical filter (one status + one city): our full page and our htmx
  fragment vs Django's admin changelist with the same filter, and the raw SQL of the page
  (floor; run like Django runs it: no server-side prepare); when the full page shows an
  estimate and fetches its exact count lazily, that count request too;
- the ORM queries behind the fragment (`lead_page`) vs that raw SQL;
- a deep page (page 2,000 when the filter has that many rows) vs page 1, and the raw SQL
  of the same page with OFFSET;
- p95 of `lead_page` over 20 random sidebar combinations, for each of several seeds (the
  target holds for the worst seed), and a fixed set of contradictory combinations (no
  lead matches; the planner cannot know it from an index);
- the all-time dashboard funnel (maintained tallies) vs one raw `count(*) FILTER` pass,
  and the full dashboard page; a period funnel (this month).
"""

from __future__ import annotations

import html
import random
import re
import statistics
import time

from bench import common

HOST = {"HTTP_HOST": "localhost"}
# What htmx sends when a filter change swaps the table (crm/views/leads.py renders only
# the #lead-table fragment for it).
FRAGMENT = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "lead-table"}


def _client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    if not user.is_superuser:
        user.is_staff = user.is_superuser = True
        user.save()
    client = Client()
    client.force_login(user)
    return client


def _get(client, path: str, **headers):
    response = client.get(path, **HOST, **headers)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}")
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)
    return response


def _typical_filter(cursor) -> tuple[str, str, int]:
    """The most common (status, city) pair that is not the default status: a realistic
    'opened leads in Austin' view."""
    cursor.execute(
        "SELECT contact_status, city, count(*) FROM crm_business "
        "WHERE contact_status <> 'pending' GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 1"
    )
    return cursor.fetchone()


def _raw_page_sql(status: str, city: str, *, offset: int = 0) -> tuple[str, list]:
    columns = (
        "b.id, b.name, b.city, b.state, b.category, b.phone, b.email, "
        "b.qualification_score, b.rating, b.review_count, b.contact_status, b.website_status, "
        "b.last_contacted_at, b.created_at, b.do_not_contact_at, u.username"
    )
    sql = (
        f"SELECT {columns} FROM crm_business b LEFT JOIN auth_user u ON u.id = b.owner_id "
        "WHERE b.contact_status = %s AND UPPER(b.city::text) = UPPER(%s) "
        "ORDER BY b.created_at DESC, b.id DESC LIMIT 51"
    )
    if offset:
        sql += f" OFFSET {int(offset)}"
    return sql, [status, city]


def _funnel_sql() -> str:
    return (
        "SELECT count(*), "
        "count(*) FILTER (WHERE qualification_score >= %s), "
        "count(*) FILTER (WHERE website_status IN ('generated','deployed','sold')), "
        "count(*) FILTER (WHERE furthest_contact_status <> 'pending'), "
        "count(*) FILTER (WHERE furthest_contact_status IN "
        "('opened','clicked','replied','interested','purchased')), "
        "count(*) FILTER (WHERE furthest_contact_status IN ('replied','interested','purchased')), "
        "count(*) FILTER (WHERE furthest_contact_status = 'purchased') FROM crm_business"
    )


def _random_filters(rng: random.Random, cities: list[str], categories: list[str]) -> dict:
    from crm.models import ContactStatus, WebsiteStatus

    options = {
        "contact_status": lambda: rng.sample(list(ContactStatus.values), rng.randint(1, 3)),
        "website_status": lambda: rng.sample(list(WebsiteStatus.values), rng.randint(1, 2)),
        "city": lambda: rng.choice(cities),
        "category": lambda: rng.choice(categories),
        "min_rating": lambda: str(rng.choice([3, 3.5, 4, 4.5])),
        "min_score": lambda: str(rng.choice([30, 50, 70])),
        "has_email": lambda: rng.choice(["yes", "no"]),
        "engagement": lambda: rng.choice(["opened", "clicked", "replied"]),
        "opted_out": lambda: "no",
    }
    chosen = rng.sample(list(options), rng.randint(1, 3))
    params = {name: options[name]() for name in chosen}
    params["sort"] = rng.choice(["-created", "name", "-score", "-rating", "city", "-contacted"])
    return params


# Combinations no lead matches (pitches come after a site; an opened email needs an
# address), each once under a sort whose index walks past every lead looking for them.
CONTRADICTIONS = (
    {"contact_status": ["opened"], "has_email": "no", "sort": "-contacted"},
    {"contact_status": ["opened"], "has_email": "no", "sort": "-rating"},
    {"contact_status": ["emailed"], "website_status": ["archived"], "sort": "-contacted"},
    {"engagement": "replied", "has_email": "no", "sort": "name"},
    {"contact_status": ["clicked", "replied"], "website_status": ["none"], "sort": "-score"},
)
SEEDS = (20, 21, 22, 23, 24, 25, 26, 27)


def _page_sql_ms(params: dict) -> float | None:
    """Median of 5 `lead_page` calls (with the total) for one sidebar combination."""
    from urllib.parse import urlencode

    from django.http import QueryDict

    from crm.filters import lead_filterset
    from crm.queries import lead_page

    qd = QueryDict(urlencode(params, doseq=True))
    fs = lead_filterset(qd)
    if not fs.is_valid():
        return None
    qs, per_value = fs.qs, fs.qs_per_value()
    lead_page(qs, per_value=per_value, sort=qd.get("sort"))  # warm
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        lead_page(qs, per_value=per_value, sort=qd.get("sort"))
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def _p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.95))]


def run(repeat: int = 30) -> dict:
    from urllib.parse import urlencode

    from django.conf import settings
    from django.db import connection
    from django.http import QueryDict
    from django.urls import reverse

    from crm.filters import lead_filterset
    from crm.queries import cursor_encode, lead_page
    from crm.tallies import funnel_counts, tally_compact

    client = _client()
    raw = common.raw_connection()
    results: dict = {}
    with connection.cursor() as cursor:
        status, city, matching = _typical_filter(cursor)
        cursor.execute("SELECT count(*) FROM crm_business")
        total_leads = cursor.fetchone()[0]
        cursor.execute("SELECT DISTINCT city FROM crm_business ORDER BY city LIMIT 50")
        cities = [r[0] for r in cursor.fetchall()]
        cursor.execute("SELECT DISTINCT category FROM crm_business ORDER BY category LIMIT 50")
        categories = [r[0] for r in cursor.fetchall()]
    results["world"] = {"leads": total_leads, "filter": {"contact_status": status, "city": city}}
    results["world"]["filter_rows"] = matching
    print(
        f"{total_leads:,} leads; typical filter contact_status={status} city={city}: {matching:,}"
    )

    query = urlencode({"contact_status": status, "city": city})
    list_url = reverse("crm:lead-list")
    page_url = f"{list_url}?{query}"
    admin_url = (
        reverse("admin:crm_business_changelist")
        + f"?contact_status__exact={status}&city__iexact={city}"
    )
    sql, params = _raw_page_sql(status, city)

    def raw_page(sql=sql, params=params):
        with raw.cursor() as cur:
            cur.execute(sql, params)
            cur.fetchall()

    params_qd = QueryDict(query)

    def orm_page():
        fs = lead_filterset(params_qd)
        lead_page(fs.qs, per_value=fs.qs_per_value(), sort="-created", with_count=False)

    # The queries alone: the FilterSet's form parsing/validation (~1 ms) is done once.
    built = lead_filterset(params_qd)
    built.is_valid()
    built_qs, built_per_value = built.qs, built.qs_per_value()

    def orm_query():
        lead_page(built_qs, per_value=built_per_value, sort="-created", with_count=False)

    def orm_page_counted():
        fs = lead_filterset(params_qd)
        lead_page(fs.qs, per_value=fs.qs_per_value(), sort="-created")

    # The full page shows the planner's estimate when an exact count is not cheap and asks
    # for the count in a second, lazy request: measured too, so "counts included" is known.
    count_path = re.escape(reverse("crm:lead-count"))
    found = re.search(rf'hx-get="({count_path}[^"]*)"', _get(client, page_url).content.decode())
    count_url = html.unescape(found.group(1)) if found else None

    def full_page_with_counts():
        # What a browser asks for: the page, then (when it shows an estimate) its count.
        _get(client, page_url)
        if count_url:
            _get(client, count_url)

    first = {
        "raw_sql": common.measure(raw_page, repeat=repeat),
        "orm_query": common.measure(orm_query, repeat=repeat),
        "orm_queries": common.measure(orm_page, repeat=repeat),
        "orm_queries_with_count": common.measure(orm_page_counted, repeat=repeat),
        "fragment": common.measure(lambda: _get(client, page_url, **FRAGMENT), repeat=repeat),
        "full_page": common.measure(lambda: _get(client, page_url), repeat=repeat),
        "full_page_with_counts": common.measure(full_page_with_counts, repeat=repeat),
        "admin_changelist": common.measure(lambda: _get(client, admin_url), repeat=10),
    }
    if count_url:
        first["count_request"] = common.measure(lambda: _get(client, count_url), repeat=repeat)
        first["count_url"] = count_url
    first["ratios"] = {
        "orm_vs_raw_sql": common.ratio(first["orm_query"], first["raw_sql"]),
        "filterset_and_orm_vs_raw_sql": common.ratio(first["orm_queries"], first["raw_sql"]),
        "admin_vs_full_page": common.ratio(first["admin_changelist"], first["full_page"]),
        "admin_vs_full_page_with_counts": common.ratio(
            first["admin_changelist"], first["full_page_with_counts"]
        ),
        "admin_vs_fragment": common.ratio(first["admin_changelist"], first["fragment"]),
    }
    results["first_page"] = first

    # Deep page: page 2,000 of a filter with at least 100,000 rows (the status alone when
    # the status + city pair is smaller).
    deep_filter = {"contact_status": status, "city": city}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT contact_status, count(*) FROM crm_business GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        )
        big_status, big_count = cursor.fetchone()
    if matching < 100_050:
        deep_filter = {"contact_status": big_status}
    available = matching if "city" in deep_filter else big_count
    page_no = min(2000, max(1, (available - 1) // 50))
    offset = (page_no - 1) * 50
    deep_qd = QueryDict(urlencode(deep_filter))
    deep_qs = lead_filterset(deep_qd).qs.order_by("-created_at", "-id")
    anchor = deep_qs.values_list("created_at", "id")[offset - 1 : offset][0]
    cursor_value = cursor_encode(anchor[0], anchor[1])
    deep_url = f"{list_url}?{urlencode({**deep_filter, 'after': cursor_value})}"
    first_url = f"{list_url}?{urlencode(deep_filter)}"
    deep_sql_where = "b.contact_status = %s"
    deep_params: list = [deep_filter["contact_status"]]
    if "city" in deep_filter:
        deep_sql_where += " AND UPPER(b.city::text) = UPPER(%s)"
        deep_params.append(deep_filter["city"])
    offset_sql = (
        "SELECT b.id, b.name FROM crm_business b LEFT JOIN auth_user u ON u.id = b.owner_id "
        f"WHERE {deep_sql_where} ORDER BY b.created_at DESC, b.id DESC LIMIT 51 OFFSET {offset}"
    )
    # Check the view really takes the cursor (a wrong parameter name would measure page 1).
    body = _get(client, deep_url, **FRAGMENT).content.decode()
    expected_id = deep_qs.values_list("id", flat=True)[offset : offset + 1][0]
    if reverse("crm:lead-detail", args=[expected_id]) not in body:
        raise RuntimeError("the deep-page URL did not land on the expected rows")

    def raw_offset():
        with raw.cursor() as cur:
            cur.execute(offset_sql, deep_params)
            cur.fetchall()

    deep = {
        "page": page_no,
        "filter": deep_filter,
        "first_fragment": common.measure(
            lambda: _get(client, first_url, **FRAGMENT), repeat=repeat
        ),
        "deep_fragment": common.measure(lambda: _get(client, deep_url, **FRAGMENT), repeat=repeat),
        "raw_sql_offset": common.measure(raw_offset, repeat=10),
    }
    deep["ratios"] = {
        "deep_vs_first": common.ratio(deep["deep_fragment"], deep["first_fragment"]),
        "raw_offset_vs_deep": common.ratio(deep["raw_sql_offset"], deep["deep_fragment"]),
    }
    results["deep_page"] = deep

    # 20 random sidebar combinations per seed: the SQL behind each page (rows + total).
    per_seed = {}
    slowest = []
    for seed in SEEDS:
        rng = random.Random(seed)
        samples = []
        for _ in range(20):
            params = _random_filters(rng, cities, categories)
            ms = _page_sql_ms(params)
            if ms is not None:
                samples.append(ms)
                slowest.append((ms, urlencode(params, doseq=True)))
        per_seed[seed] = {
            "n": len(samples),
            "median_ms": round(statistics.median(samples), 3),
            "p95_ms": round(_p95(samples), 3),
        }
    slowest.sort()
    worst_seed = max(per_seed, key=lambda k: per_seed[k]["p95_ms"])
    contradictions = [
        {"ms": round(_page_sql_ms(params), 2), "query": urlencode(params, doseq=True)}
        for params in CONTRADICTIONS
    ]
    results["random_filters"] = {
        "n": per_seed[SEEDS[0]]["n"],
        "seeds": per_seed,
        "median_ms": per_seed[SEEDS[0]]["median_ms"],
        "p95_ms": per_seed[SEEDS[0]]["p95_ms"],
        "worst_seed": worst_seed,
        "worst_seed_p95_ms": per_seed[worst_seed]["p95_ms"],
        "all_p95_ms": round(_p95([ms for ms, _ in slowest]), 3),
        "slowest": [{"ms": round(ms, 2), "query": q} for ms, q in slowest[-5:]],
        "contradictions": contradictions,
        "contradictions_max_ms": max(c["ms"] for c in contradictions),
    }

    # Multi-value filters newest first: one branch per value (LeadFilter.qs_per_value, a
    # UNION ALL of one queryset per value) against the same page read as one query.
    per_value = {}
    for params in (
        {"contact_status": ["emailed", "interested"]},
        {"engagement": "opened"},
    ):
        fs = lead_filterset(QueryDict(urlencode(params, doseq=True)))
        fs.is_valid()
        qs, parts = fs.qs, fs.qs_per_value()
        label = urlencode(params, doseq=True)
        per_value[label] = {
            "branches": common.measure(
                lambda qs=qs, parts=parts: lead_page(qs, per_value=parts, with_count=False),
                repeat=repeat,
            ),
            "one_query": common.measure(lambda qs=qs: lead_page(qs, with_count=False), repeat=10),
        }
        per_value[label]["ratio"] = common.ratio(
            per_value[label]["branches"], per_value[label]["one_query"]
        )
    results["per_value"] = per_value

    # Dashboard funnel.
    tally_compact()

    def raw_funnel():
        with raw.cursor() as cur:
            cur.execute(_funnel_sql(), [settings.QUALIFIED_SCORE])
            cur.fetchall()

    from django.utils import timezone

    from webmagic.analytics import funnel_counts_for

    month_start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    funnel = {
        "tallies": common.measure(funnel_counts, repeat=repeat),
        # DESIGN.md's stages for this month (day tallies + active subscriptions).
        "period_month": common.measure(lambda: funnel_counts_for(month_start), repeat=repeat),
        "raw_count_filter_pass": common.measure(raw_funnel, repeat=5),
        "dashboard_all_time": common.measure(
            lambda: _get(client, reverse("crm:dashboard") + "?period=all"), repeat=repeat
        ),
        "dashboard_month": common.measure(
            lambda: _get(client, reverse("crm:dashboard") + "?period=month"), repeat=10
        ),
    }
    funnel["ratios"] = {
        "raw_pass_vs_tallies": common.ratio(funnel["raw_count_filter_pass"], funnel["tallies"]),
    }
    results["dashboard_funnel"] = funnel
    raw.close()
    common.write_result("lead_table", {"machine": common.machine(), **results})
    return results


def main() -> None:
    common.setup_django()
    common.require_postgres()
    import json

    print(json.dumps(run(), indent=2, default=str))


if __name__ == "__main__":
    main()
