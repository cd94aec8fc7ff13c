"""JSON API for campaigns (preview, start, list, results), mounted by webmagic/api.py at
/api/v1/crm/campaigns/. Same audience rules and services as the pages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.timezone import is_naive, make_aware
from ninja import Field, Path, Query, Router, Schema, Status
from pydantic import create_model

from campaigns import metrics, services
from campaigns.audience import AudienceError, audience_preview, audience_query_from
from campaigns.forms import DEFAULT_BODY
from campaigns.models import Campaign, CampaignStatus, Channel
from campaigns.results import campaign_list_qs, campaign_results, campaign_rows
from campaigns.sending import REASONS, render_message, template_errors
from crm.api import (
    NO_NUL,
    InSchema,
    LeadFilters,
    MessageOut,
    Unprocessable,
    ValidationErrorOut,
)
from crm.api_auth import require_editor

router = Router(tags=["campaigns"])

DEFAULT_SUBJECT = "A website for {{ business_name }}"
MAX_ID = 2**63 - 1
ChannelEnum = StrEnum("ChannelEnum", {v: v for v in Channel.values})
CampaignStatusEnum = StrEnum("CampaignStatusEnum", {v: v for v in CampaignStatus.values})
LeadId = Annotated[int, Field(ge=1, le=MAX_ID)]
ERRORS = {400: MessageOut, 422: ValidationErrorOut}
# The words that mean "start now" (the seed's own start body says "immediate").


class FollowupIn(InSchema):
    after_days: int = Field(3, ge=1, le=60)
    subject: str = Field("", pattern=NO_NUL, max_length=300)
    body: str = Field(..., pattern=NO_NUL, min_length=1, max_length=5000)


class AudienceIn(InSchema):
    channel: ChannelEnum = Field(ChannelEnum.email, description="email or sms")
    filters: LeadFilters = Field(
        default_factory=LeadFilters,
        description="The lead table's filters (category, city, contact_status [list], "
        "website_status [list], min_rating, …)",
    )
    ids: list[LeadId] = Field(
        default_factory=list, max_length=100_000, description="An explicit selection of leads"
    )
    subject: str | None = Field(None, pattern=NO_NUL, max_length=300)
    body: str | None = Field(None, pattern=NO_NUL, max_length=5000)
    override_cooldown: bool = Field(
        False,
        description="Pitch leads inside their contact cooldown or held by another campaign "
        "anyway (the contact policy); recorded on the campaign with who asked",
    )


class StartIn(AudienceIn):
    name: str = Field(..., min_length=1, max_length=200, pattern=NO_NUL)
    schedule: Literal["now", "immediate"] | datetime | None = Field(
        None,
        description='"now" or "immediate" (the default: start now) or an ISO 8601 date-time'
        " (naive: the server's zone)",
    )
    send_rate_per_minute: int = Field(30, ge=1, le=1000)
    daily_cap: int = Field(1000, ge=1, le=100_000)
    followups: list[FollowupIn] = Field(default_factory=list, max_length=5)


class ExclusionOut(Schema):
    reason: str
    label: str
    count: int
    campaign: int | None = Field(None, description="The other campaign holding these leads")


class AudienceLeadOut(Schema):
    id: int
    name: str
    city: str
    category: str


class RenderedOut(Schema):
    subject: str
    body: str


class PreviewOut(Schema):
    channel: str
    recipients: int
    matched: int
    excluded_total: int
    excluded: list[ExclusionOut]
    sites_to_generate: int = Field(
        0, description="Recipients whose preview site is generated before their pitch goes"
    )
    sample: list[AudienceLeadOut]
    rendered: RenderedOut | None


class CampaignOut(Schema):
    id: int
    name: str
    channel: str
    status: str
    status_reason: str
    audience_query: str
    audience_ids: list[int]
    scheduled_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    send_rate_per_minute: int
    daily_cap: int
    messages: int = Field(0, description=metrics.MESSAGES_MEANING)


class MetricOut(Schema):
    count: int | None = Field(description="Leads; null where the metric does not apply")
    rate: float | None = Field(description=metrics.RATE_MEANING + " Null: not applicable.")


CampaignMetricsOut = create_model(
    "CampaignMetricsOut",
    __base__=Schema,
    __doc__="Every campaign metric, counting leads (campaigns.metrics).",
    **{m.name: (MetricOut, Field(description=m.meaning)) for m in metrics.METRICS},
)


class MessageCountsOut(Schema):
    """Messages, follow-ups included, by current status (counting messages, not leads)."""

    total: int
    followups: int = Field(description="Messages after the first step")
    queued: int
    sending: int
    sent: int = Field(description="Sent, no delivery report yet")
    delivered: int
    failed: int
    bounced: int
    cancelled: int


class AmountOut(Schema):
    currency: str
    amount_cents: int = Field(description="Exact integer cents")
    display: str = Field(description="Formatted for reading: $497.00")


class CampaignResultsOut(Schema):
    campaign: int
    name: str
    channel: str
    status: str
    status_reason: str
    recipients: int = Field(description=metrics.BY_NAME["recipients"].meaning)
    metrics: CampaignMetricsOut
    messages: MessageCountsOut = Field(description=metrics.MESSAGES_MEANING)
    progress: float = Field(description="Share of the messages done (neither queued nor sending)")
    stuck_sending: int = Field(description="Messages left in sending by a worker that stopped")
    revenue: list[AmountOut] = Field(description=metrics.REVENUE_MEANING)


def _channel(value: str) -> str:
    return str(getattr(value, "value", value))


def _value(value: Any) -> str:
    """A filter value as the lead table's query string writes it (dates as YYYY-MM-DD)."""
    return value.isoformat() if isinstance(value, date) else _channel(value)


def _check_templates(**texts: str | None) -> None:
    errors = {name: template_errors(text or "") for name, text in texts.items() if text is not None}
    errors = {name: errs for name, errs in errors.items() if errs}
    if errors:
        raise Unprocessable(errors, where="body")


def _filters(payload: AudienceIn) -> dict[str, Any]:
    data = payload.filters.dict(exclude_none=True)
    if (data.get("campaign") or 0) > MAX_ID:
        raise Unprocessable({"campaign": ["Not a campaign id."]}, where="body")
    return {k: [_value(x) for x in v] if isinstance(v, list) else _value(v)
            for k, v in data.items()}  # fmt: skip


def _audience_error(exc: AudienceError):
    return Unprocessable(exc.errors, where="body")


def _campaign_out(campaign: Campaign, measured: metrics.CampaignMetrics | None = None) -> dict:
    measured = measured or metrics.campaign_metrics_one(campaign)
    return {
        **{f: getattr(campaign, f) for f in CampaignOut.model_fields if hasattr(campaign, f)},
        "messages": measured.messages["total"],
    }


@router.post(
    "preview",
    response={200: PreviewOut, **ERRORS},
    summary="Who a campaign would reach, and why not",
)
def preview(request: HttpRequest, payload: AudienceIn) -> dict:
    channel = _channel(payload.channel)
    _check_templates(subject=payload.subject, body=payload.body)
    subject = payload.subject if payload.subject is not None else DEFAULT_SUBJECT
    body = payload.body if payload.body is not None else DEFAULT_BODY
    try:
        result = audience_preview(
            channel=channel,
            audience_query="" if payload.ids else audience_query_from(_filters(payload)),
            audience_ids=payload.ids,
            user=request.auth,
            templates=(subject, body),
            override=payload.override_cooldown,
        )
    except AudienceError as exc:
        raise _audience_error(exc) from None
    rendered = None
    if result.sample:
        from campaigns.models import Message
        from campaigns.sending import site_for

        lead = result.sample[0]
        probe = Message(business=lead, channel=channel, token="preview", site=site_for(lead))  # noqa: S106
        r = render_message(probe, subject=subject, body=body, first_sms=True)
        rendered = {"subject": r.subject, "body": r.body}
    return {
        "channel": channel,
        "recipients": result.eligible,
        "matched": result.total,
        "excluded_total": result.excluded_total,
        "excluded": result.excluded_rows(),
        "sites_to_generate": result.sites_to_generate,
        "sample": [
            {"id": b.pk, "name": b.name, "city": b.city, "category": b.category}
            for b in result.sample
        ],
        "rendered": rendered,
    }


@router.post(
    "start",
    response={200: CampaignOut, 201: CampaignOut, 403: MessageOut, **ERRORS},
    summary="Create and start (or schedule) a campaign; honours Idempotency-Key",
)
def start(request: HttpRequest, payload: StartIn):
    require_editor(request)
    channel = _channel(payload.channel)
    subject = payload.subject if payload.subject is not None else DEFAULT_SUBJECT
    body = payload.body if payload.body is not None else DEFAULT_BODY
    _check_templates(subject=subject, body=body)
    for n, f in enumerate(payload.followups):
        _check_templates(**{f"followups.{n}.subject": f.subject, f"followups.{n}.body": f.body})
    if channel == Channel.EMAIL and not subject.strip():
        raise Unprocessable({"subject": ["An email campaign needs a subject."]}, where="body")
    if not body.strip():
        raise Unprocessable({"body": ["The message body is empty."]}, where="body")
    scheduled_at = None
    if isinstance(payload.schedule, datetime):
        scheduled_at = payload.schedule
        if is_naive(scheduled_at):
            scheduled_at = make_aware(scheduled_at)
        try:
            # In UTC: PostgreSQL stores no offset beyond ±15:59 (ISO 8601 allows ±23:59).
            scheduled_at = scheduled_at.astimezone(UTC)
        except OverflowError:
            raise Unprocessable(
                {"schedule": ["That date-time is out of range."]}, where="body"
            ) from None
    key = (request.headers.get("Idempotency-Key") or "").strip()[:200] or None
    if key:
        existing = Campaign.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return Status(200, _campaign_out(existing))
    query = "" if payload.ids else audience_query_from(_filters(payload))
    try:
        # Validate the audience before anything is written.
        audience_preview(
            channel=channel, audience_query=query, audience_ids=payload.ids, user=request.auth,
            sample_size=0,
        )  # fmt: skip
    except AudienceError as exc:
        raise _audience_error(exc) from None
    campaign = services.campaign_create(
        name=payload.name,
        channel=channel,
        audience_query=query,
        audience_ids=payload.ids,
        subject_template=subject,
        body_template=body,
        scheduled_at=scheduled_at,
        send_rate_per_minute=payload.send_rate_per_minute,
        daily_cap=payload.daily_cap,
        followups=[f.dict() for f in payload.followups],
        created_by=request.auth,
        idempotency_key=key,
        override_cooldown=payload.override_cooldown,
    )
    if campaign.status == CampaignStatus.DRAFT:
        campaign = services.campaign_start(campaign=campaign)
    return Status(201, _campaign_out(campaign))


@router.get("", response={200: list[CampaignOut], **ERRORS}, summary="Campaigns, newest first")
def campaign_list(
    request: HttpRequest,
    status: CampaignStatusEnum | None = None,
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
):
    qs = campaign_list_qs()
    if status:
        qs = qs.filter(status=_channel(status))
    return [_campaign_out(c, m) for c, m in campaign_rows(list(qs[offset : offset + limit]))]


@router.get(
    "{campaign_id}/results",
    response={200: CampaignResultsOut, 404: MessageOut, **ERRORS},
    summary="Every campaign metric (leads) as a count and a rate, messages, lifetime revenue",
)
def results(request: HttpRequest, campaign_id: int = Path(..., ge=1, le=MAX_ID)) -> dict:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    return {"name": campaign.name, "channel": campaign.channel, **campaign_results(campaign)}


__all__ = ["REASONS", "router"]
