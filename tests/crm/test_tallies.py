"""Maintained lead counts equal a GROUP BY after any storm of changes."""

import random
import threading
from datetime import date, timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from crm import lifecycle
from crm.lifecycle import CONTACT_RANK
from crm.models import Business
from crm.services import business_create
from crm.tallies import (
    TALLIED_FIELDS,
    funnel_counts,
    period_funnel_counts,
    tally_compact,
    tally_counts,
    tally_rebuild,
)


def _grouped():
    counts = {}
    for field in TALLIED_FIELDS:
        rows = Business.objects.values_list(field).annotate(n=Count("id")).order_by()
        counts[field] = {str(value): n for value, n in rows}
    return counts


EVER = date(2000, 1, 1)


def _tallied():
    counts = tally_counts()
    return {field: counts.get(field, {}) for field in TALLIED_FIELDS}


def _leads(n, prefix="Lead"):
    return [
        business_create(data={"name": f"{prefix} {i}", "city": "Austin"}, source="test")
        for i in range(n)
    ]


def _storm(pks, steps, rng):
    for _ in range(steps):
        pk = rng.choice(pks)
        kind = rng.random()
        if kind < 0.6:
            lifecycle.business_advance(
                business=pk, to=rng.choice(list(CONTACT_RANK)[1:]), source="t"
            )
        elif kind < 0.8:
            lifecycle.business_advance_website(
                business=pk, to=rng.choice(["generating", "generated", "sold"]), source="t"
            )
        else:
            Business.objects.filter(pk=pk).update(qualification_score=rng.randint(0, 100))


@pytest.mark.django_db
def test_counts_follow_lifecycle_changes_bulk_updates_and_deletes():
    leads = _leads(12)
    rng = random.Random(7)
    _storm([b.pk for b in leads], 150, rng)
    assert _tallied() == _grouped()
    Business.objects.filter(pk__in=[b.pk for b in leads[:3]]).update(contact_status="pending")
    Business.objects.filter(pk=leads[4].pk).delete()
    assert _tallied() == _grouped()
    assert period_funnel_counts(EVER) == funnel_counts()  # every day summed = all time
    tally_compact()
    assert _tallied() == _grouped()
    assert period_funnel_counts(EVER) == funnel_counts()
    from crm.models import LeadTally

    assert LeadTally.objects.count() == sum(len(v) for v in _grouped().values())


@pytest.mark.django_db
def test_funnel_counts_leads_that_reached_each_stage(settings):
    settings.QUALIFIED_SCORE = 50
    a, b, c = _leads(3)
    lifecycle.business_advance(business=a, to="replied", source="t")
    lifecycle.business_opt_out(business=a, channel="email", source="t")  # still reached replied
    lifecycle.business_advance(business=b, to="opened", source="t")
    lifecycle.business_advance_website(business=c, to="generated", source="t")
    Business.objects.filter(pk__in=[a.pk, b.pk]).update(qualification_score=75)
    Business.objects.filter(pk=c.pk).update(qualification_score=10)
    funnel = funnel_counts()
    assert funnel == {
        "scraped": 3,
        "qualified": 2,
        "site_generated": 1,
        "contacted": 2,
        "engaged": 2,
        "replied": 1,
        "purchased": 0,
    }


@pytest.mark.django_db
def test_rebuild_recounts_from_the_table():
    _leads(4)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM crm_leadtally")
    assert _tallied() != _grouped()
    tally_rebuild()
    assert _tallied() == _grouped()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_storm_and_compaction_lose_no_count():
    pks = [b.pk for b in _leads(20, "Storm")]
    errors = []

    def worker(seed):
        try:
            _storm(pks, 60, random.Random(seed))
            tally_compact()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert _tallied() == _grouped()
    assert period_funnel_counts(EVER) == funnel_counts()
    tally_compact()
    assert _tallied() == _grouped()
    assert period_funnel_counts(EVER) == funnel_counts()


@pytest.mark.django_db
def test_period_counts_each_stage_on_the_day_it_was_reached():
    now = timezone.now()
    old, new = _leads(2)
    Business.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=40))
    lifecycle.business_record_contact(
        business=old, channel="email", source="t", at=now - timedelta(days=30)
    )
    lifecycle.business_advance(business=old, to="replied", source="t", at=now - timedelta(days=2))
    lifecycle.business_advance(business=new, to="opened", source="t", at=now)
    week = period_funnel_counts((now - timedelta(days=7)).date())
    assert (week["scraped"], week["contacted"], week["engaged"], week["replied"]) == (1, 1, 2, 1)
    assert period_funnel_counts(EVER)["contacted"] == 2
    tally_rebuild()  # after a rebuild the stages are dated by the last status change
    assert period_funnel_counts(EVER) == funnel_counts()
