"""JSON API of the CRM core (leads, pipeline, stats), mounted by webmagic/api.py.

The lead list filters through the lead FilterSet (crm.filters: the same parameter names as
the lead table's URLs) and pages with the lead table's keyset pages (crm.queries.lead_page);
a status change goes through crm.lifecycle.business_set_status with the caller as actor.
Invalid input answers 422 with a body naming the field, in django-ninja's own shape:
`{"detail": [{"loc": ["query", "min_rating"], "msg": "…", "type": "invalid"}]}`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema

from crm.api_auth import require_editor
from crm.filters import lead_filterset
from crm.lifecycle import LifecycleError, business_set_status
from crm.models import Business, ContactStatus, EventSource, WebsiteKind, WebsiteStatus
from crm.permissions import can_admin, can_edit
from crm.queries import (
    DEFAULT_SORT,
    SORTS,
    BadCursor,
    lead_page,
    lead_timeline,
    lead_total,
    pipeline_columns,
)
from crm.tallies import funnel_counts, tally_counts

router = Router(tags=["crm"])
legacy_router = Router(tags=["legacy"])

# PostgreSQL text cannot hold NUL; refuse it at the edge (422) instead of failing in the query.
NO_NUL = r"^[^\x00]*$"
CURSOR = r"^[A-Za-z0-9_-]*$"
MAX_LIMIT = 200
DEFAULT_LIMIT = 50

ContactStatusEnum = StrEnum("ContactStatusEnum", {v: v for v in ContactStatus.values})
WebsiteStatusEnum = StrEnum("WebsiteStatusEnum", {v: v for v in WebsiteStatus.values})
WebsiteKindEnum = StrEnum("WebsiteKindEnum", {v: v for v in WebsiteKind.values})
SortEnum = StrEnum("SortEnum", {v: v for k in SORTS for v in (k, f"-{k}")})
YesNo = StrEnum("YesNo", {"yes": "yes", "no": "no"})
Engagement = StrEnum("Engagement", {v: v for v in ("opened", "clicked", "replied")})


class ErrorItem(Schema):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(Schema):
    detail: list[ErrorItem]


class MessageOut(Schema):
    detail: str


class Unprocessable(Exception):
    """Answered as 422 `{"detail": [{"loc": [where, field], "msg": …}]}` by webmagic/api.py."""

    def __init__(self, errors: dict[str, list[str]], where: str = "query"):
        super().__init__(errors)
        self.errors = errors
        self.where = where

    def body(self) -> dict[str, Any]:
        return {
            "detail": [
                {"loc": [self.where, name], "msg": msg, "type": "invalid"}
                for name, messages in self.errors.items()
                for msg in messages
            ]
        }


class LeadFilters(Schema):
    """The lead table's filters (crm.filters.FILTER_NAMES), as query parameters."""

    q: str | None = Field(
        None, pattern=NO_NUL, max_length=200, description="Name, email, city or phone digits"
    )
    owner: str | None = Field(None, pattern=NO_NUL, description="`me`, `none` or a user id")
    category: str | None = Field(None, pattern=NO_NUL, max_length=120)
    city: str | None = Field(None, pattern=NO_NUL, max_length=120)
    state: str | None = Field(None, pattern=NO_NUL, max_length=80)
    contact_status: list[ContactStatusEnum] | None = None
    website_status: list[WebsiteStatusEnum] | None = None
    website_kind: list[WebsiteKindEnum] | None = None
    min_rating: float | None = Field(None, ge=0, le=5)
    min_reviews: int | None = Field(None, ge=0)
    min_score: int | None = Field(None, ge=0, le=100)
    max_score: int | None = Field(None, ge=0, le=100)
    has_email: YesNo | None = None
    has_phone: YesNo | None = None
    has_website: YesNo | None = Field(None, description="An own website (not a directory page)")
    created_after: str | None = Field(None, pattern=NO_NUL, description="YYYY-MM-DD")
    created_before: str | None = Field(None, pattern=NO_NUL, description="YYYY-MM-DD")
    contacted_after: str | None = Field(None, pattern=NO_NUL, description="YYYY-MM-DD")
    contacted_before: str | None = Field(None, pattern=NO_NUL, description="YYYY-MM-DD")
    engagement: Engagement | None = Field(None, description="Reached at least this stage")
    campaign: int | None = Field(None, ge=1, description="Leads messaged by this campaign")
    opted_out: YesNo | None = None


class LeadPageParams(LeadFilters):
    sort: SortEnum = Field(DEFAULT_SORT, description="A column, `-` for descending")
    after: str | None = Field(
        None, max_length=500, pattern=CURSOR, description="`next_cursor` of a page"
    )
    before: str | None = Field(
        None, max_length=500, pattern=CURSOR, description="`prev_cursor` of a page"
    )
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


class LeadOut(Schema):
    id: int
    name: str
    city: str
    state: str
    category: str
    phone: str
    email: str
    qualification_score: int
    rating: float | None
    review_count: int
    contact_status: str
    website_status: str
    last_contacted_at: datetime | None
    created_at: datetime
    do_not_contact: bool
    owner: str | None


class LeadListOut(Schema):
    items: list[LeadOut]
    sort: str
    next_cursor: str | None = Field(None, description="Pass as `after` for the next page")
    prev_cursor: str | None = Field(None, description="Pass as `before` for the previous page")
    total: int | None = Field(None, description="Exact up to 10,000; above, an estimate")
    total_is_estimate: bool


class EventOut(Schema):
    id: int
    kind: str
    at: datetime
    source: str
    summary: str
    actor: str | None


class LeadDetailOut(Schema):
    id: int
    slug: str
    name: str
    email: str
    phone: str
    website: str
    website_kind: str
    address: str
    city: str
    state: str
    country: str
    postal_code: str
    category: str
    rating: float | None
    review_count: int
    photo_count: int
    gmb_place_id: str | None
    source: str
    owner: str | None
    qualification_score: int
    score_breakdown: dict[str, Any]
    contact_status: str
    contact_status_changed_at: datetime
    furthest_contact_status: str
    website_status: str
    last_contacted_at: datetime | None
    email_opt_out_at: datetime | None
    sms_opt_out_at: datetime | None
    sms_consent_at: datetime | None
    email_bounced_at: datetime | None
    do_not_contact_at: datetime | None
    created_at: datetime
    updated_at: datetime
    url: str
    events: list[EventOut]


class StatusIn(Schema):
    contact_status: ContactStatusEnum | None = None
    website_status: WebsiteStatusEnum | None = None
    note: str = Field("", max_length=500, pattern=NO_NUL)


class ChangeOut(Schema):
    field: str
    old: str
    new: str


class StatusOut(Schema):
    changes: list[ChangeOut]
    lead: LeadDetailOut


class PipelineLeadOut(Schema):
    id: int
    name: str
    city: str
    qualification_score: int
    since: datetime


class PipelineColumnOut(Schema):
    status: str
    label: str
    count: int
    stalled: int = Field(description="In this stage longer than 14 days")
    oldest_since: datetime | None
    leads: list[PipelineLeadOut] = Field(description="The leads waiting longest")


class StatsOut(Schema):
    leads: int
    contact_status: dict[str, int]
    furthest_contact_status: dict[str, int]
    website_status: dict[str, int]
    funnel: dict[str, int] = Field(description="All-time funnel stages the CRM owns")


class MeOut(Schema):
    username: str
    can_edit: bool
    can_admin: bool


VALIDATION = {422: ValidationErrorOut}


@router.get("/me", response=MeOut, summary="Who the API sees you as")
def me(request: HttpRequest) -> dict:
    user = request.auth
    return {
        "username": user.get_username(),
        "can_edit": can_edit(user),
        "can_admin": can_admin(user),
    }


def _filtered(request: HttpRequest):
    """The lead FilterSet on the raw query string: one validation, the same as the pages."""
    filterset = lead_filterset(request.GET, user=request.auth)
    if not filterset.is_valid():
        raise Unprocessable({k: [str(m) for m in v] for k, v in filterset.errors.items()})
    return filterset


def _lead_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: row[k] for k in LeadOut.model_fields if k in row},
        "rating": float(row["rating"]) if row["rating"] is not None else None,
        "do_not_contact": row["do_not_contact_at"] is not None,
        "owner": row["owner__username"],
    }


def _page(filterset, params: LeadPageParams, size: int):
    """One keyset page of a valid lead FilterSet, without a total (see `lead_total`)."""
    if params.after and params.before:
        raise Unprocessable({"before": ["Use either `after` or `before`, not both."]})
    try:
        return lead_page(
            filterset.qs,
            per_value=filterset.qs_per_value(),
            sort=str(params.sort),
            after=params.after,
            before=params.before,
            size=size,
            with_count=False,
        )
    except BadCursor as exc:
        raise Unprocessable({"after" if params.after else "before": [str(exc)]}) from None


@router.get(
    "/leads",
    response={200: LeadListOut, **VALIDATION},
    summary="Leads, filtered like the lead table, in keyset pages",
)
def lead_list(request: HttpRequest, params: Query[LeadPageParams]) -> dict:
    filterset = _filtered(request)
    page = _page(filterset, params, params.limit)
    total, is_estimate, _capped = lead_total(filterset.qs)
    return {
        "items": [_lead_row(r) for r in page.rows],
        "sort": page.sort,
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
        "total": total,
        "total_is_estimate": is_estimate,
    }


def _detail(business: Business) -> dict[str, Any]:
    data = {k: getattr(business, k) for k in LeadDetailOut.model_fields if hasattr(business, k)}
    data["rating"] = float(business.rating) if business.rating is not None else None
    data["owner"] = business.owner.get_username() if business.owner_id else None
    data["url"] = business.get_absolute_url()
    data["events"] = [
        {
            "id": e.pk,
            "kind": e.kind,
            "at": e.at,
            "source": e.source,
            "summary": e.summary,
            "actor": e.actor.get_username() if e.actor_id else None,
        }
        for e in lead_timeline(business, limit=50)
    ]
    return data


@router.get(
    "/leads/{lead_id}",
    response={200: LeadDetailOut, 404: MessageOut},
    summary="One lead with its latest 50 timeline events",
)
def lead_detail(request: HttpRequest, lead_id: int) -> dict:
    return _detail(get_object_or_404(Business.objects.select_related("owner"), pk=lead_id))


@router.patch(
    "/leads/{lead_id}/status",
    response={200: StatusOut, 403: MessageOut, 404: MessageOut, **VALIDATION},
    summary="Set a lead's status by hand (sales role); recorded with you as the actor",
)
def lead_status_set(request: HttpRequest, lead_id: int, payload: StatusIn) -> dict:
    require_editor(request)
    business = get_object_or_404(Business, pk=lead_id)
    if payload.contact_status is None and payload.website_status is None:
        raise Unprocessable(
            {"contact_status": ["Give contact_status, website_status or both."]}, where="body"
        )
    try:
        changes = business_set_status(
            business=business,
            actor=request.auth,
            contact_status=str(payload.contact_status) if payload.contact_status else None,
            website_status=str(payload.website_status) if payload.website_status else None,
            note=payload.note.strip(),
            source=EventSource.API,
        )
    except LifecycleError as exc:
        raise Unprocessable({"contact_status": [str(exc)]}, where="body") from None
    business = Business.objects.select_related("owner").get(pk=business.pk)
    return {
        "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in changes],
        "lead": _detail(business),
    }


@router.get(
    "/pipeline",
    response={200: list[PipelineColumnOut], **VALIDATION},
    summary="Pipeline columns (one per contact status) for the filtered leads",
)
def pipeline(request: HttpRequest, filters: Query[LeadFilters]) -> list[dict]:
    columns = pipeline_columns(_filtered(request).qs)
    return [
        {
            "status": c.status,
            "label": c.label,
            "count": c.count,
            "stalled": c.stalled,
            "oldest_since": c.oldest_since,
            "leads": [
                {
                    "id": lead["id"],
                    "name": lead["name"],
                    "city": lead["city"],
                    "qualification_score": lead["qualification_score"],
                    "since": lead["contact_status_changed_at"],
                }
                for lead in c.leads
            ],
        }
        for c in columns
    ]


@router.get("/stats", response=StatsOut, summary="Lead counts per status and the funnel")
def stats(request: HttpRequest) -> dict:
    counts = tally_counts()
    return {
        "leads": sum(counts.get("contact_status", {}).values()),
        "contact_status": counts.get("contact_status", {}),
        "furthest_contact_status": counts.get("furthest_contact_status", {}),
        "website_status": counts.get("website_status", {}),
        "funnel": funnel_counts(counts),
    }


@legacy_router.get(
    "/businesses",
    response={200: list[LeadOut], **VALIDATION},
    summary="Legacy lead list (a plain array); use /api/v1/crm/leads",
    deprecated=True,
)
def businesses(
    request: HttpRequest, response: HttpResponse, params: Query[LeadPageParams]
) -> list[dict]:
    """The seed's endpoint: the same filters and order as /crm/leads, answered as a plain
    array; the next page is in the `Link: <…>; rel="next"` header."""
    page = _page(_filtered(request), params, params.limit)
    if page.next_cursor:
        query = request.GET.copy()
        query.pop("before", None)
        query["after"] = page.next_cursor
        response["Link"] = f'<{request.path}?{query.urlencode()}>; rel="next"'
    return [_lead_row(r) for r in page.rows]
