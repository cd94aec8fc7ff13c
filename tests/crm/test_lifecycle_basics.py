from crm import lifecycle
from crm.models import LeadEvent


def test_new_lead_starts_pending_with_no_website(business):
    assert business.contact_status == "pending"
    assert business.website_status == "none"
    assert LeadEvent.objects.filter(business=business, kind="created").count() == 1


def test_late_delivery_does_not_pull_an_opened_lead_back(business):
    lifecycle.business_record_contact(business=business, channel="email", source="provider")
    lifecycle.business_advance(business=business, to="opened", source="provider")
    assert (
        lifecycle.business_record_contact(business=business, channel="email", source="provider")
        is None
    )
    business.refresh_from_db()
    assert business.contact_status == "opened"
    assert business.last_contacted_at is not None
