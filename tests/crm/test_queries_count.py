"""When the lead table counts on its own query, and when it leaves the total to the lazy
count request (crm:lead-count)."""

import pytest

from crm.queries import (
    COUNT_CAP,
    HEAP_COUNT_MAX,
    INDEX_COUNT_MAX,
    _count_inline,
    _index_only,
    lead_count_plan,
)
from crm.services import business_create


def _plan(*scans):
    return {"Node Type": "Aggregate", "Plans": [{"Node Type": s} for s in scans]}


def test_only_index_only_scans_count_as_index_only():
    assert _index_only(_plan("Index Only Scan"))
    assert not _index_only(_plan("Index Only Scan", "Bitmap Heap Scan"))
    assert not _index_only(_plan("Seq Scan"))


@pytest.mark.parametrize(
    ("found", "inline"),
    [
        (None, True),  # SQLite: no estimate, small databases
        ((INDEX_COUNT_MAX, True), True),  # up to the cap, an index-only count rides along
        ((INDEX_COUNT_MAX + 1, True), False),  # beyond: the estimate, the count lazily
        ((5_000, False), False),  # thousands of heap rows: counted lazily
        ((HEAP_COUNT_MAX, False), True),
        ((HEAP_COUNT_MAX + 1, False), False),
        ((COUNT_CAP * 10, True), False),  # far above the cap: the estimate is shown
    ],
)
def test_count_inline_rules(found, inline):
    assert _count_inline(found) is inline


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_plan_of_a_real_filter_is_read():
    from crm.filters import lead_filterset

    business_create(data={"name": "Plan Co", "city": "Austin"}, source="test")
    found = lead_count_plan(lead_filterset({"city": "Austin"}).qs)
    assert found is not None and found[0] >= 1 and isinstance(found[1], bool)
