"""The lifecycle rules of DESIGN.md, through crm.lifecycle only."""

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from crm import lifecycle, signals
from crm.lifecycle import CONTACT_RANK, ENGAGEMENT_RANK, LifecycleError
from crm.models import Business, LeadEvent
from crm.services import business_create

pytestmark = pytest.mark.django_db


def _status(business):
    business.refresh_from_db()
    return business.contact_status


def _advance(business, to):
    return lifecycle.business_advance(business=business, to=to, source="test")


def test_engagement_moves_forward_only(business):
    for status in ["emailed", "opened", "clicked"]:
        _advance(business, status)
    assert _advance(business, "opened") is None
    assert _advance(business, "emailed") is None
    assert _status(business) == "clicked"


def test_emailed_and_texted_do_not_replace_each_other(business):
    lifecycle.business_record_contact(business=business, channel="email", source="test")
    assert (
        lifecycle.business_record_contact(business=business, channel="sms", source="test") is None
    )
    assert _status(business) == "emailed"


def test_unsubscribed_overrides_everything_below_purchased(business):
    _advance(business, "interested")
    lifecycle.business_opt_out(business=business, channel="email", source="test", reason="link")
    business.refresh_from_db()
    assert business.contact_status == "unsubscribed"
    assert business.email_opt_out_at is not None and business.sms_opt_out_at is None
    assert business.furthest_contact_status == "interested"


def test_a_customer_stays_a_customer(business):
    _advance(business, "purchased")
    lifecycle.business_opt_out(business=business, channel="all", source="test")
    lifecycle.business_mark_bounced(business=business, source="test")
    business.refresh_from_db()
    assert business.contact_status == "purchased"
    # The opt-out and bounce still suppress the address, whatever the status says.
    assert business.email_opt_out_at and business.sms_opt_out_at and business.email_bounced_at


def test_bounce_overrides_statuses_below_replied_only(business, django_user_model):
    _advance(business, "clicked")
    lifecycle.business_mark_bounced(business=business, source="test", reason="5.1.1")
    assert _status(business) == "bounced"

    replied = business_create(data={"name": "Replied Co", "city": "Austin"}, source="test")
    _advance(replied, "replied")
    lifecycle.business_mark_bounced(business=replied, source="test")
    replied.refresh_from_db()
    assert replied.contact_status == "replied"
    assert replied.email_bounced_at is not None


def test_unsubscribed_beats_bounced_and_bounce_does_not_undo_it(business):
    lifecycle.business_mark_bounced(business=business, source="test")
    lifecycle.business_opt_out(business=business, channel="email", source="test")
    assert _status(business) == "unsubscribed"
    lifecycle.business_mark_bounced(business=business, source="test")
    assert _status(business) == "unsubscribed"


def test_a_late_open_after_unsubscribe_still_counts_as_reached(business):
    _advance(business, "emailed")
    lifecycle.business_opt_out(business=business, channel="email", source="test")
    _advance(business, "opened")
    business.refresh_from_db()
    assert business.contact_status == "unsubscribed"
    assert business.furthest_contact_status == "opened"


def test_every_change_writes_one_timeline_row(business):
    before = LeadEvent.objects.filter(business=business, kind="contact_status").count()
    _advance(business, "emailed")
    _advance(business, "emailed")
    _advance(business, "opened")
    rows = LeadEvent.objects.filter(business=business, kind="contact_status").order_by("at", "pk")
    assert rows.count() == before + 2
    assert [r.data["new"] for r in rows] == ["emailed", "opened"]


def test_signals_are_sent_after_commit_with_old_and_new(
    business, django_capture_on_commit_callbacks
):
    seen = []

    def receiver(sender, *, business, old, new, source, **kw):
        seen.append((business.pk, old, new, source))

    signals.contact_status_changed.connect(receiver, dispatch_uid="test-receiver")
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            _advance(business, "emailed")
        assert seen == []  # nothing before commit
        for callback in callbacks:
            callback()
    finally:
        signals.contact_status_changed.disconnect(dispatch_uid="test-receiver")
    assert seen == [(business.pk, "pending", "emailed", "test")]


def test_a_failing_receiver_does_not_break_the_change(business, django_capture_on_commit_callbacks):
    def broken(sender, **kw):
        raise RuntimeError("boom")

    signals.contact_status_changed.connect(broken, dispatch_uid="test-broken")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _advance(business, "emailed")
    finally:
        signals.contact_status_changed.disconnect(dispatch_uid="test-broken")
    assert _status(business) == "emailed"


def test_manual_override_records_the_actor_and_may_go_backwards(business, sales_user):
    _advance(business, "replied")
    changes = lifecycle.business_set_status(
        business=business, actor=sales_user, contact_status="pending", note="wrong lead"
    )
    assert [(c.old, c.new) for c in changes] == [("replied", "pending")]
    business.refresh_from_db()
    assert business.contact_status == "pending"
    assert business.furthest_contact_status == "replied"
    event = LeadEvent.objects.filter(business=business, kind="contact_status").latest("pk")
    assert event.actor == sales_user and event.source == "manual"
    assert event.data["note"] == "wrong lead"


def test_unknown_status_is_refused_and_changes_nothing(business, sales_user):
    count = LeadEvent.objects.count()
    with pytest.raises(LifecycleError):
        _advance(business, "delighted")
    with pytest.raises(LifecycleError):
        lifecycle.business_set_status(business=business, actor=sales_user, website_status="x")
    assert _status(business) == "pending"
    assert LeadEvent.objects.count() == count


def test_missing_business_is_an_error(db):
    with pytest.raises(Business.DoesNotExist):
        lifecycle.business_advance(business=999999, to="opened", source="test")


def test_website_status_moves_forward_and_reverts_only_what_it_expects(business):
    lifecycle.business_advance_website(business=business, to="generating", source="test")
    assert lifecycle.business_advance_website(business=business, to="none", source="t") is None
    lifecycle.business_advance_website(business=business, to="generated", source="test")
    # A failed generation must not undo a success that happened meanwhile.
    assert (
        lifecycle.business_revert_website(
            business=business, expected="generating", back_to="none", source="t", reason="x"
        )
        is None
    )
    business.refresh_from_db()
    assert business.website_status == "generated"
    lifecycle.business_advance_website(business=business, to="sold", source="test")
    assert lifecycle.business_advance_website(business=business, to="archived", source="t") is None


def test_opt_in_lifts_the_sms_opt_out_but_is_not_engagement(business):
    lifecycle.business_opt_out(business=business, channel="sms", source="test")
    assert lifecycle.business_opt_in_sms(business=business, source="test") is True
    assert lifecycle.business_opt_in_sms(business=business, source="test") is False
    business.refresh_from_db()
    assert business.sms_opt_out_at is None and business.sms_consent_at is not None
    assert business.contact_status == "unsubscribed"


def test_do_not_contact_is_recorded_once(business, sales_user):
    assert lifecycle.business_set_do_not_contact(business=business, actor=sales_user) is True
    assert lifecycle.business_set_do_not_contact(business=business, actor=sales_user) is False
    assert LeadEvent.objects.filter(business=business, kind="do_not_contact").count() == 1


def test_statuses_reached_counts_furthest_rungs():
    assert set(lifecycle.statuses_reached("replied")) == {"replied", "interested", "purchased"}


AUTOMATIC = [s for s in CONTACT_RANK if s != "pending"]


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=st.lists(st.sampled_from(AUTOMATIC), min_size=1, max_size=8), data=st.data())
def test_any_order_of_events_ends_in_the_highest_ranked_status(db, events, data):
    order = data.draw(st.permutations(events))
    lead = business_create(data={"name": "Prop Co", "city": "Reno"}, source="test")
    for status in order:
        _advance(lead, status)
    lead.refresh_from_db()
    top = max(CONTACT_RANK[s] for s in events)
    assert CONTACT_RANK[lead.contact_status] == top
    # emailed and texted share a rank: the first one to arrive stays.
    if top == CONTACT_RANK["emailed"]:
        assert lead.contact_status == next(s for s in order if CONTACT_RANK[s] == top)
    engaged = [ENGAGEMENT_RANK[s] for s in events if s in ENGAGEMENT_RANK]
    assert ENGAGEMENT_RANK[lead.furthest_contact_status] == max(engaged, default=0)
