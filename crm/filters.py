"""The lead FilterSet: the one definition of lead filter names.

The lead table and its sidebar, saved views, campaign audiences, CSV export and the JSON
API all filter leads through `LeadFilter`, so `?contact_status=opened&city=Austin` means the
same thing everywhere. Use `lead_filterset(params, user=…)`; check `.is_valid()` and answer
`.errors` to the caller when it is not (invalid values are never silently dropped).
"""

from __future__ import annotations

import re
from datetime import datetime, time

import django_filters as df
from django import forms
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from crm.lifecycle import statuses_reached
from crm.models import Business, ContactStatus, WebsiteKind, WebsiteStatus
from crm.normalize import is_digits
from crm.tallies import tally_counts

YES_NO = (("yes", "Yes"), ("no", "No"))
ANY = "Any"  # the blank choice of a select
# Larger numbers cannot be stored (ids are bigint, counts int): refuse them as invalid
# input instead of letting the database driver overflow into a 500.
MAX_ID = 2**63 - 1
MAX_COUNT = 2**31 - 1
ENGAGEMENT_CHOICES = (("opened", "Opened"), ("clicked", "Clicked"), ("replied", "Replied"))

# Multi-value filters read one value at a time by the lead table (see qs_per_value): each
# value has its own `(column, created, id)` index, where one scan of the created index
# filtering on the values walks past every lead of the other values first.
PER_VALUE_FILTERS = {
    "contact_status": "contact_status",
    "website_status": "website_status",
    "engagement": "furthest_contact_status",
}
PER_VALUE_MAX = 8

# Filter names in the order the sidebar shows them. The API documents the same list.
FILTER_NAMES = (
    "q",
    "owner",
    "category",
    "city",
    "state",
    "contact_status",
    "website_status",
    "website_kind",
    "min_rating",
    "min_reviews",
    "min_score",
    "max_score",
    "has_email",
    "has_phone",
    "has_website",
    "created_after",
    "created_before",
    "contacted_after",
    "contacted_before",
    "engagement",
    "campaign",
    "opted_out",
)


def _day_start(value):
    return timezone.make_aware(datetime.combine(value, time.min))


def _day_end(value):
    return timezone.make_aware(datetime.combine(value, time.max))


class DateInput(forms.DateInput):
    input_type = "date"  # the browser's date picker; it submits YYYY-MM-DD


class OwnerField(forms.CharField):
    """`me`, `none`, or a user id."""

    def clean(self, value):
        value = super().clean(value)
        if value in ("", None):
            return None
        if value in ("me", "none"):
            return value
        if not is_digits(str(value)) or int(value) > MAX_ID:
            raise forms.ValidationError("Use 'me', 'none' or a user id.")
        return int(value)


class OwnerFilter(df.Filter):
    field_class = OwnerField

    def filter(self, qs, value):
        if value is None:
            return qs
        if value == "none":
            return qs.filter(owner__isnull=True)
        if value == "me":
            user = getattr(self.parent, "user", None)
            if user is None or not user.is_authenticated:
                return qs.none()
            return qs.filter(owner=user)
        return qs.filter(owner_id=value)


class LeadFilter(df.FilterSet):
    # Multi-selects filter one column of the lead row: no join, so no DISTINCT (which would
    # make PostgreSQL sort every matching row before the LIMIT).
    q = df.CharFilter(
        method="filter_search",
        label="Search",
        max_length=200,
        widget=forms.SearchInput(attrs={"placeholder": "Name, phone, email, city"}),
    )
    owner = OwnerFilter(label="Owner")
    category = df.CharFilter(field_name="category", lookup_expr="iexact", max_length=120)
    city = df.CharFilter(field_name="city", lookup_expr="iexact", max_length=120)
    state = df.CharFilter(field_name="state", lookup_expr="iexact", max_length=80)
    contact_status = df.MultipleChoiceFilter(
        choices=ContactStatus.choices,
        label="Contact status",
        distinct=False,
        widget=forms.CheckboxSelectMultiple,
    )
    website_status = df.MultipleChoiceFilter(
        choices=WebsiteStatus.choices,
        label="Website status",
        distinct=False,
        widget=forms.CheckboxSelectMultiple,
    )
    website_kind = df.MultipleChoiceFilter(
        choices=WebsiteKind.choices,
        label="Website kind",
        distinct=False,
        widget=forms.CheckboxSelectMultiple,
    )
    min_rating = df.NumberFilter(
        field_name="rating", lookup_expr="gte", label="Min rating", min_value=0, max_value=5
    )
    min_reviews = df.NumberFilter(
        field_name="review_count",
        lookup_expr="gte",
        label="Min reviews",
        min_value=0,
        max_value=MAX_COUNT,
    )
    min_score = df.NumberFilter(
        field_name="qualification_score",
        lookup_expr="gte",
        label="Min score",
        min_value=0,
        max_value=100,
    )
    max_score = df.NumberFilter(
        field_name="qualification_score",
        lookup_expr="lte",
        label="Max score",
        min_value=0,
        max_value=100,
    )
    has_email = df.ChoiceFilter(
        choices=YES_NO, method="filter_has", label="Has email", empty_label=ANY
    )
    has_phone = df.ChoiceFilter(
        choices=YES_NO, method="filter_has", label="Has phone", empty_label=ANY
    )
    has_website = df.ChoiceFilter(
        choices=YES_NO, method="filter_has_website", label="Has website", empty_label=ANY
    )
    created_after = df.DateFilter(method="filter_date", label="Created from", widget=DateInput)
    created_before = df.DateFilter(method="filter_date", label="Created until", widget=DateInput)
    contacted_after = df.DateFilter(
        method="filter_date", label="Last contacted from", widget=DateInput
    )
    contacted_before = df.DateFilter(
        method="filter_date", label="Last contacted until", widget=DateInput
    )
    engagement = df.ChoiceFilter(
        choices=ENGAGEMENT_CHOICES,
        method="filter_engagement",
        label="Engagement",
        empty_label=ANY,
    )
    campaign = df.NumberFilter(
        method="filter_campaign", label="In campaign", min_value=1, max_value=MAX_ID
    )
    opted_out = df.ChoiceFilter(
        choices=YES_NO, method="filter_opted_out", label="Opted out", empty_label=ANY
    )

    class Meta:
        model = Business
        fields: list[str] = []

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def qs_per_value(self) -> list[QuerySet] | None:
        """`self.qs` as one queryset per value of its multi-value status or engagement
        filter (their union is `self.qs`), for the lead table's newest-first pages
        (crm.queries.lead_page); None when no such filter has 2 to PER_VALUE_MAX values,
        or the filters are not valid."""
        if not self.is_valid():
            return None
        data = self.form.cleaned_data
        candidates = []
        for name, column in PER_VALUE_FILTERS.items():
            values = data.get(name)
            if values and name == "engagement":
                values = statuses_reached(values)
            if values and 2 <= len(values) <= PER_VALUE_MAX:
                candidates.append((name, column, sorted(values)))
        if not candidates:
            return None
        if len(candidates) > 1:
            # Split the one whose values hold the fewest leads: each branch walks all of
            # its value's leads at worst ("pending or replied, site archived" by archived).
            counts = tally_counts()
            candidates.sort(key=lambda c: sum(counts.get(c[1], {}).get(v, 0) for v in c[2]))
        name, column, values = candidates[0]
        rest = self.queryset.all()
        for other, value in data.items():  # what filter_queryset does, but `name`
            if other != name:
                rest = self.filters[other].filter(rest, value)
        return [rest.filter(**{column: value}) for value in values]

    def filter_search(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return qs
        condition = Q(name__icontains=value) | Q(email__icontains=value) | Q(city__icontains=value)
        digits = re.sub(r"\D", "", value)
        if len(digits) >= 3:
            condition |= Q(phone_normalized__contains=digits)
        return qs.filter(condition)

    def filter_has(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if name == "has_email":
            return qs.filter(has_email=value == "yes")
        return qs.exclude(phone="") if value == "yes" else qs.filter(phone="")

    def filter_has_website(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        # A directory, social or booking link is not a website of the business's own.
        own = Q(website_kind=WebsiteKind.OWN)
        return qs.filter(own) if value == "yes" else qs.exclude(own)

    def filter_date(self, qs: QuerySet, name: str, value) -> QuerySet:
        field = "created_at" if name.startswith("created") else "last_contacted_at"
        if name.endswith("after"):
            return qs.filter(**{f"{field}__gte": _day_start(value)})
        return qs.filter(**{f"{field}__lte": _day_end(value)})

    def filter_engagement(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        # furthest_contact_status keeps the highest stage ever reached, across campaigns.
        return qs.filter(furthest_contact_status__in=statuses_reached(value))

    def filter_campaign(self, qs: QuerySet, name: str, value) -> QuerySet:
        # Messages belong to the campaigns app; reach them through the reverse relation so
        # crm imports nothing downstream.
        message_model = Business._meta.get_field("messages").related_model
        members = message_model.objects.filter(campaign_id=int(value)).values("business_id")
        return qs.filter(pk__in=members)

    def filter_opted_out(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        opted = (
            Q(email_opt_out_at__isnull=False)
            | Q(sms_opt_out_at__isnull=False)
            | Q(do_not_contact_at__isnull=False)
        )
        return qs.filter(opted) if value == "yes" else qs.exclude(opted)


def lead_filterset(params, *, user=None, queryset: QuerySet | None = None) -> LeadFilter:
    """Build the lead FilterSet from query parameters (a QueryDict or a plain dict)."""
    return LeadFilter(
        params, queryset=queryset if queryset is not None else Business.objects.all(), user=user
    )


def filter_query(params: QueryDict, *extra: str) -> QueryDict:
    """The filter parameters present in `params` (plus the `extra` names, e.g. `sort`) as a
    new QueryDict in a stable order, empty values left out: what a shareable URL carries."""
    kept = QueryDict(mutable=True)
    for name in (*FILTER_NAMES, *extra):
        values = [v for v in params.getlist(name) if v != ""]
        if values:
            kept.setlist(name, values)
    return kept


def active_filters(params) -> dict[str, list[str]]:
    """The filter parameters present in `params`, for labels, saved views and campaigns."""
    getlist = params.getlist if hasattr(params, "getlist") else lambda k: _as_list(params.get(k))
    found = {}
    for name in FILTER_NAMES:
        values = [v for v in getlist(name) if v not in ("", None)]
        if values:
            found[name] = values
    return found


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
