"""Analytics JSON endpoints at /api/v1/crm/analytics/ (the numbers behind the analytics
page's charts, from webmagic.analytics). Money is integer cents per currency; rates are
fractions from 0 to 1."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from crm.api import ValidationErrorOut
from webmagic import analytics

router = Router(tags=["analytics"])

PeriodEnum = StrEnum("PeriodEnum", {k: k for k in analytics.PERIODS})
GroupingEnum = StrEnum("GroupingEnum", {k: k for k in analytics.GROUPINGS})
DimensionEnum = StrEnum("DimensionEnum", {k: k for k in analytics.DIMENSIONS})
CampaignSortEnum = StrEnum(
    "CampaignSortEnum", {v: v for k in analytics.CAMPAIGN_SORTS for v in (k, f"-{k}")}
)


class PeriodParams(Schema):
    period: PeriodEnum = Field(analytics.DEFAULT_PERIOD, description="30d, 90d, 365d or all")


class CohortParams(PeriodParams):
    group: GroupingEnum = Field(analytics.DEFAULT_GROUPING, description="Cohort size")


class RevenueParams(PeriodParams):
    by: DimensionEnum = Field("category", description="category, city or campaign")


class CampaignParams(PeriodParams):
    sort: CampaignSortEnum = Field("-revenue_cents")


class PeriodOut(Schema):
    key: str
    label: str
    since: datetime | None


class FunnelStageOut(Schema):
    stage: str
    label: str
    count: int
    step_rate: float | None = Field(description="Share of the previous stage")
    overall_rate: float = Field(description="Share of the first stage")


class FunnelOut(Schema):
    period: PeriodOut
    stages: list[FunnelStageOut]


class CohortOut(Schema):
    cohort: date = Field(description="First day of the week (Monday) or month of first contact")
    contacted: int
    opened: int
    clicked: int
    replied: int
    purchased: int
    open_rate: float
    click_rate: float
    reply_rate: float
    purchase_rate: float


class ConversionOut(Schema):
    period: PeriodOut
    group: str
    cohorts: list[CohortOut]
    median_days_to_convert: float | None
    converted: int


class RevenueRowOut(Schema):
    key: str = Field(description="Category, city or campaign id ('' when unknown)")
    label: str
    currency: str
    revenue_cents: int
    payments: int
    customers: int
    mrr_cents: int
    subscriptions: int
    campaign_id: int | None = None


class RevenueOut(Schema):
    period: PeriodOut
    by: str
    rows: list[RevenueRowOut]


class MoneyOut(Schema):
    currency: str
    cents: int


class CampaignRowOut(Schema):
    campaign_id: int
    name: str
    channel: str
    status: str
    created_at: datetime
    sent: int
    delivered: int
    opened: int
    clicked: int
    replied: int
    bounced: int
    purchases: int
    open_rate: float
    click_rate: float
    reply_rate: float
    purchase_rate: float
    revenue: list[MoneyOut]
    revenue_cents: int = Field(description="Revenue in the main price currency, for sorting")


class CampaignPerformanceOut(Schema):
    period: PeriodOut
    sort: str
    campaigns: list[CampaignRowOut]


def _period(key: str) -> dict:
    period = analytics.period_parse(key)
    return {"key": period.key, "label": period.label, "since": period.since}


@router.get(
    "/funnel",
    response={200: FunnelOut, 422: ValidationErrorOut},
    summary="The eight-stage funnel with conversion",
)
def funnel(request: HttpRequest, params: Query[PeriodParams]) -> dict:
    period = analytics.period_parse(str(params.period))
    return {"period": _period(period.key), "stages": analytics.analytics_funnel(period)}


@router.get(
    "/conversion-rates",
    response={200: ConversionOut, 422: ValidationErrorOut},
    summary="Weekly or monthly cohorts by first contact: open, click, reply, purchase rates",
)
def conversion_rates(request: HttpRequest, params: Query[CohortParams]) -> dict:
    period = analytics.period_parse(str(params.period))
    times = analytics.time_to_convert(period)
    return {
        "period": _period(period.key),
        "group": str(params.group),
        "cohorts": analytics.conversion_cohorts(period, str(params.group)),
        "median_days_to_convert": times.median_days,
        "converted": times.converted,
    }


@router.get(
    "/revenue-by-source",
    response={200: RevenueOut, 422: ValidationErrorOut},
    summary="Revenue in the period and current MRR by category, city or campaign",
)
def revenue_by_source(request: HttpRequest, params: Query[RevenueParams]) -> dict:
    period = analytics.period_parse(str(params.period))
    return {
        "period": _period(period.key),
        "by": str(params.by),
        "rows": analytics.revenue_by_source(period, str(params.by)),
    }


@router.get(
    "/campaign-performance",
    response={200: CampaignPerformanceOut, 422: ValidationErrorOut},
    summary="Per campaign: sent, open / click / reply / purchase rates and revenue",
)
def campaign_performance(request: HttpRequest, params: Query[CampaignParams]) -> dict:
    period = analytics.period_parse(str(params.period))
    return {
        "period": _period(period.key),
        "sort": str(params.sort),
        "campaigns": analytics.campaign_performance(period, str(params.sort)),
    }
