"""How the lead table reads a page at a million leads, pinned on small data: one branch per
value of a multi-value status filter (LeadFilter.qs_per_value, merged with UNION ALL), and
the matches-first read (crm.sql.lead_rows_filter_first) that replaces a walk down a sort index when
few leads match. Each must return exactly the rows of the plain query, in order, both ways.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import crm.queries
from crm.filters import lead_filterset
from crm.lifecycle import business_advance, business_advance_website, business_record_contact
from crm.models import Business
from crm.queries import WALK_GUARD, _walks_for_few, lead_page
from crm.services import business_create

SORTS = ["name", "-name", "city", "-city", "-score", "score", "-rating", "rating"]
SORTS += ["-contacted", "contacted", "-created", "created", "status", "-status"]


def _world(n=24):
    leads = []
    for i in range(n):
        lead = business_create(
            data={
                "name": f"Lead {i:02d}",
                "city": ["Austin", "Dallas", "Waco"][i % 3],
                "email": "" if i % 4 == 0 else f"l{i}@x.example",
                "rating": None if i % 5 == 0 else f"{3 + (i % 20) / 10:.1f}",
                "review_count": i,
            },
            source="test",
        )
        leads.append(lead)
    for i, lead in enumerate(leads):
        if i % 3 == 1:
            business_record_contact(
                business=lead, channel="email", source="test", at=timezone.now() - timedelta(i)
            )
        if i % 6 == 1:
            business_advance(business=lead, to="opened", source="test")
        if i % 5 == 2:
            business_advance_website(business=lead, to="generated", source="test")
    return leads


def _all_pages(qs, sort, per_value=None):
    """Every page forward, then back from the last one: ids per page."""
    pages = [lead_page(qs, per_value=per_value, sort=sort, size=4)]
    while pages[-1].next_cursor:
        pages.append(
            lead_page(qs, per_value=per_value, sort=sort, size=4, after=pages[-1].next_cursor)
        )
    back = [pages[-1]]
    while back[-1].prev_cursor:
        back.append(
            lead_page(qs, per_value=per_value, sort=sort, size=4, before=back[-1].prev_cursor)
        )
    ids = [[r["id"] for r in p.rows] for p in pages]
    return ids, [[r["id"] for r in p.rows] for p in reversed(back)]


@pytest.mark.django_db
def test_a_multi_value_filter_is_split_into_one_queryset_per_value():
    _world()
    fs = lead_filterset({"contact_status": ["emailed", "opened"], "city": "austin"})
    assert fs.is_valid()
    parts = fs.qs_per_value()
    assert len(parts) == 2
    assert sorted(pk for part in parts for pk in part.values_list("pk", flat=True)) == sorted(
        fs.qs.values_list("pk", flat=True)
    )
    assert lead_filterset({"contact_status": ["emailed"]}).qs_per_value() is None
    engaged = lead_filterset({"engagement": "opened"})
    assert engaged.is_valid() and len(engaged.qs_per_value()) == 5  # opened … purchased


@pytest.mark.django_db
def test_the_split_is_on_the_filter_whose_values_hold_fewer_leads():
    _world()
    fs = lead_filterset(
        {"contact_status": ["pending", "emailed"], "website_status": ["generated", "sold"]}
    )
    assert fs.is_valid()
    parts = fs.qs_per_value()
    # 5 leads have a generated site (none a sold one), 20 are pending or emailed.
    assert str(parts[0].query).endswith('"crm_business"."website_status" = generated)')
    assert str(parts[1].query).endswith('"crm_business"."website_status" = sold)')
    assert len(parts) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["-created", "created", "-contacted", "contacted"])
def test_pages_read_per_value_match_the_plain_query(sort):
    _world()
    fs = lead_filterset({"contact_status": ["pending", "opened"]})
    assert fs.is_valid()
    with CaptureQueriesContext(connection) as queries:
        split = _all_pages(fs.qs, sort, fs.qs_per_value())
    assert split == _all_pages(fs.qs, sort)
    forward, backward = split
    assert forward == backward and len({i for page in forward for i in page}) == 20
    unions = [q for q in queries.captured_queries if "UNION ALL" in q["sql"]]
    assert bool(unions) is (connection.vendor == "postgresql")


@pytest.mark.django_db
@pytest.mark.parametrize("sort", SORTS)
def test_a_page_read_matches_first_is_the_page_of_the_plain_query(sort, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("lead_page reads matches first (MATERIALIZED) on PostgreSQL only")
    _world()
    qs = Business.objects.filter(city__in=["Austin", "Waco"])
    plain = _all_pages(qs, sort)
    monkeypatch.setattr(crm.queries, "_risky_walk", lambda page_qs: True)
    with CaptureQueriesContext(connection) as queries:
        first = _all_pages(qs, sort)
    assert any("MATERIALIZED" in q["sql"] for q in queries.captured_queries)
    assert first == plain
    assert sorted(i for page in first[0] for i in page) == sorted(qs.values_list("pk", flat=True))


def _scan(node_type, rows, **extra):
    return {"Node Type": node_type, "Relation Name": "crm_business", "Plan Rows": rows, **extra}


def _limit(*children):
    return {"Node Type": "Limit", "Plans": list(children)}


def test_only_a_filtered_walk_over_every_lead_for_few_matches_is_risky():
    walk = {"Filter": "(NOT has_email)"}
    assert _walks_for_few(_limit(_scan("Index Scan", 378, **walk)))
    assert _walks_for_few(
        _limit({"Node Type": "Nested Loop", "Plans": [_scan("Index Scan", 9, **walk)]})
    )
    # Many matches: the walk finds a page's worth early.
    assert not _walks_for_few(_limit(_scan("Index Scan", WALK_GUARD + 1, **walk)))
    # An index condition bounds the walk (one city, one status).
    assert not _walks_for_few(_limit(_scan("Index Scan", 9, **walk, **{"Index Cond": "x"})))
    # No filter: every lead read is on the page.
    assert not _walks_for_few(_limit(_scan("Index Scan", 9)))
    # Matches read first already, or the walk is the total's own count.
    sort = {"Node Type": "Sort", "Plans": [_scan("Bitmap Heap Scan", 9)]}
    assert not _walks_for_few(_limit(sort))
    count = _scan("Index Scan", 9, **walk, **{"Parent Relationship": "InitPlan"})
    assert not _walks_for_few(_limit(count, _scan("Index Scan", 9)))
