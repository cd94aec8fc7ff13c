"""Two transitions on one lead at the same instant never lose an update (PostgreSQL only:
it needs real concurrent connections; SQLite serialises writers)."""

import pytest

from crm import lifecycle
from crm.lifecycle import CONTACT_RANK, ENGAGEMENT_RANK
from crm.models import LeadEvent
from crm.services import business_create
from tests.concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("round_", range(5))
def test_concurrent_transitions_end_at_the_highest_and_form_one_chain(round_):
    lead = business_create(data={"name": f"Race {round_}", "city": "Austin"}, source="test")
    statuses = ["emailed", "opened", "clicked", "replied", "bounced", "interested", "opened"]
    results = run_together(
        [
            (lambda s=s: lifecycle.business_advance(business=lead.pk, to=s, source="race"))
            for s in statuses
        ]
    )
    lead.refresh_from_db()
    assert lead.contact_status == "interested"
    assert lead.furthest_contact_status == "interested"
    # Every applied change is on the timeline, and they chain: nobody overwrote a status
    # they had not read.
    changes = [r for r in results if r is not None]
    events = list(LeadEvent.objects.filter(business=lead, kind="contact_status").order_by("pk"))
    assert len(events) == len(changes)
    chain = ["pending"] + [e.data["new"] for e in events]
    assert [e.data["old"] for e in events] == chain[:-1]
    assert all(CONTACT_RANK[a] < CONTACT_RANK[b] for a, b in zip(chain, chain[1:], strict=False))


def test_concurrent_opt_out_and_engagement_keep_both_effects():
    lead = business_create(data={"name": "Race opt-out", "city": "Austin"}, source="test")
    lifecycle.business_record_contact(business=lead, channel="email", source="test")
    run_together(
        [
            lambda: lifecycle.business_opt_out(business=lead.pk, channel="email", source="race"),
            lambda: lifecycle.business_advance(business=lead.pk, to="clicked", source="race"),
            lambda: lifecycle.business_advance(business=lead.pk, to="opened", source="race"),
            lambda: lifecycle.business_mark_bounced(business=lead.pk, source="race"),
        ]
    )
    lead.refresh_from_db()
    assert lead.contact_status == "unsubscribed"
    assert lead.email_opt_out_at is not None and lead.email_bounced_at is not None
    assert ENGAGEMENT_RANK[lead.furthest_contact_status] == ENGAGEMENT_RANK["clicked"]


def test_concurrent_website_transitions_apply_once():
    lead = business_create(data={"name": "Race site", "city": "Austin"}, source="test")
    results = run_together(
        [
            (
                lambda: lifecycle.business_advance_website(
                    business=lead.pk, to="generated", source="r"
                )
            )
            for _ in range(6)
        ]
    )
    assert sum(r is not None for r in results) == 1
    assert LeadEvent.objects.filter(business=lead, kind="website_status").count() == 1
