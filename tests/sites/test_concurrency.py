"""Concurrent builders never make two sites for one lead (PostgreSQL only: it needs real
concurrent connections; SQLite serialises writers)."""

import pytest

from crm.models import Business, LeadEvent, LeadEventKind, WebsiteStatus
from crm.services import business_create
from sites.builder import generate_site
from sites.models import Site
from sites.orphans import sites_link_orphans
from tests.concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_generation_for_one_lead_makes_one_site(round_):
    lead = business_create(data={"name": f"Race {round_}", "city": "Austin"}, source="test")

    sites = run_together([lambda: generate_site(Business.objects.get(pk=lead.pk))] * 4)

    assert len({s.pk for s in sites}) == 1
    assert Site.objects.filter(business=lead).count() == 1
    lead.refresh_from_db()
    assert lead.website_status == WebsiteStatus.GENERATED
    changes = LeadEvent.objects.filter(business=lead, kind=LeadEventKind.WEBSITE_STATUS)
    assert sorted((e.data["old"], e.data["new"]) for e in changes) == [
        ("generating", "generated"),
        ("none", "generating"),
    ]


def test_concurrent_generation_from_scraped_data_makes_one_lead_and_one_site():
    data = {"name": "Race Plumbing", "city": "Austin", "gmb_place_id": "ChIJ_race"}

    run_together([lambda: generate_site(dict(data))] * 4)

    assert Business.objects.filter(gmb_place_id="ChIJ_race").count() == 1
    assert Site.objects.count() == 1


def test_concurrent_orphan_runs_link_each_site_once():
    Site.objects.create(slug="orphan", content={"name": "Orphan Co", "city": "Austin"})

    results = run_together([lambda: sites_link_orphans()] * 3)

    assert Business.objects.count() == 1
    assert LeadEvent.objects.filter(kind=LeadEventKind.SITE_LINKED).count() == 1
    assert sum(s.count("linked") + s.count("created") for s in results) == 1
