"""The lead FilterSet: one set of names, the same meaning everywhere."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm import lifecycle
from crm.filters import FILTER_NAMES, active_filters, lead_filterset
from crm.models import Business
from crm.services import business_create

pytestmark = pytest.mark.django_db


def _lead(name, **data):
    return business_create(data={"name": name, **data}, source="test")


def _names(params, user=None):
    fs = lead_filterset(params, user=user)
    assert fs.is_valid(), fs.errors
    return sorted(fs.qs.values_list("name", flat=True))


@pytest.fixture
def leads(sales_user):
    a = _lead("Austin Plumbing", city="Austin", category="Plumber", email="a@x.com", rating=4.8)
    b = _lead("Dallas Wiring", city="Dallas", category="Electrician", phone="(214) 555-0101")
    c = _lead("Austin Tacos", city="austin", category="Restaurant", website="https://tacos.com")
    lifecycle.business_record_contact(business=a, channel="email", source="test")
    lifecycle.business_advance(business=a, to="clicked", source="test")
    lifecycle.business_opt_out(business=b, channel="sms", source="test")
    Business.objects.filter(pk=c.pk).update(owner=sales_user, qualification_score=80)
    return a, b, c


def test_city_is_case_insensitive_and_combines_with_status(leads):
    assert _names({"city": "AUSTIN"}) == ["Austin Plumbing", "Austin Tacos"]
    assert _names({"city": "austin", "contact_status": ["clicked"]}) == ["Austin Plumbing"]


def test_multi_select_statuses(leads):
    params = {"contact_status": ["clicked", "unsubscribed"]}
    assert _names(params) == ["Austin Plumbing", "Dallas Wiring"]


def test_search_matches_name_email_city_and_phone_digits(leads):
    assert _names({"q": "wiring"}) == ["Dallas Wiring"]
    assert _names({"q": "555-0101"}) == ["Dallas Wiring"]
    assert _names({"q": "a@x.com"}) == ["Austin Plumbing"]


def test_has_filters_and_opted_out(leads):
    assert _names({"has_email": "yes"}) == ["Austin Plumbing"]
    assert _names({"has_website": "yes"}) == ["Austin Tacos"]
    assert _names({"opted_out": "yes"}) == ["Dallas Wiring"]


def test_engagement_counts_the_furthest_stage_reached(leads):
    assert _names({"engagement": "opened"}) == ["Austin Plumbing"]
    assert _names({"engagement": "replied"}) == []


def test_owner_me_and_score_range(leads, sales_user):
    assert _names({"owner": "me"}, user=sales_user) == ["Austin Tacos"]
    assert _names({"min_score": "79", "max_score": "81"}) == ["Austin Tacos"]


def test_date_ranges_are_whole_days(leads):
    today = timezone.localdate()
    assert len(_names({"created_after": today.isoformat()})) == 3
    yesterday = (today - timedelta(days=1)).isoformat()
    assert _names({"created_before": yesterday}) == []
    assert _names({"contacted_after": today.isoformat()}) == ["Austin Plumbing"]


@pytest.mark.parametrize(
    "params",
    [
        {"contact_status": ["delighted"]},
        {"min_rating": "9"},
        {"created_after": "yesterday"},
        {"owner": "²"},  # str.isdigit() says yes, int() says no
    ],
)
def test_invalid_values_are_errors_not_silently_dropped(params, leads):
    fs = lead_filterset(params)
    assert not fs.is_valid()
    assert set(fs.errors) == set(params)


def test_active_filters_lists_only_present_names_in_order(rf):
    request = rf.get("/?city=Austin&contact_status=opened&contact_status=clicked&page=2&q=")
    assert active_filters(request.GET) == {
        "city": ["Austin"],
        "contact_status": ["opened", "clicked"],
    }
    assert list(active_filters({"min_rating": 4})) == ["min_rating"]
    assert set(FILTER_NAMES) >= {"contact_status", "website_status", "min_rating", "campaign"}


def test_filtersets_built_together_keep_their_own_user_and_values(leads, sales_user, staff_user):
    # Each FilterSet has its own filters and form fields (django-filter's and Django's deep
    # copies): a change to one request's never reaches another's.
    mine = lead_filterset({"owner": "me", "opted_out": "no"}, user=sales_user)
    theirs = lead_filterset({"owner": "me", "opted_out": "no"}, user=staff_user)
    assert mine.filters["opted_out"] is not theirs.filters["opted_out"]
    assert mine.filters["opted_out"].parent is mine
    assert mine.is_valid() and theirs.is_valid()
    assert sorted(mine.qs.values_list("name", flat=True)) == ["Austin Tacos"]
    assert list(theirs.qs) == []

    first, second = mine.form, theirs.form
    first.fields["q"].widget.attrs["placeholder"] = "changed"
    first.fields["contact_status"].widget.choices = [("x", "X")]
    first.fields["contact_status"].choices = [("only", "Only")]
    assert second.fields["q"].widget.attrs["placeholder"] == "Name, phone, email, city"
    assert ("x", "X") not in list(second.fields["contact_status"].widget.choices)
    assert ("opened", "Opened") in list(second.fields["contact_status"].choices)
    fresh = lead_filterset({"contact_status": ["opened"]})
    assert fresh.is_valid(), fresh.errors
