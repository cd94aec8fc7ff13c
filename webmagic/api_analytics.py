"""Analytics JSON endpoints at /api/v1/crm/analytics/ (the numbers behind the analytics
page's charts, from webmagic.analytics). Money is integer cents per currency with its
`display`; rates are fractions from 0 to 1 (null where a metric does not apply). Every
endpoint takes the one period model (crm.periods): `period`, or `from` / `to`."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from campaigns import metrics
from crm.api import (
    MoneyOut,
    PeriodOut,
    PeriodParams,
    ValidationErrorOut,
    money_out,
    period_from,
    period_out,
)
from crm.queries import STALL_DAYS
from webmagic import analytics

router = Router(tags=["analytics"])

GroupingEnum = StrEnum("GroupingEnum", {k: k for k in analytics.GROUPINGS})
DimensionEnum = StrEnum("DimensionEnum", {k: k for k in analytics.DIMENSIONS})
CampaignSortEnum = StrEnum(
    "CampaignSortEnum", {v: v for k in analytics.CAMPAIGN_SORTS for v in (k, f"-{k}")}
)
ERRORS = {422: ValidationErrorOut}


class CohortParams(PeriodParams):
    group: GroupingEnum = Field(analytics.DEFAULT_GROUPING, description="Cohort size")


class RevenueParams(PeriodParams):
    by: DimensionEnum = Field("category", description="category, city or campaign")


class CampaignParams(PeriodParams):
    sort: CampaignSortEnum = Field("-revenue_cents")


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
    revenue_cents: int = Field(description="Succeeded payments paid in the period")
    payments: int
    customers: int
    mrr_cents: int = Field(description="Current MRR (not limited to the period)")
    subscriptions: int
    campaign_id: int | None = None


class RevenueOut(Schema):
    period: PeriodOut
    by: str
    rows: list[RevenueRowOut]


def _count(name: str):
    return Field(description=metrics.BY_NAME[name].meaning)


class CampaignRowOut(Schema):
    campaign_id: int
    name: str
    channel: str
    status: str
    created_at: datetime
    started_at: datetime | None
    recipients: int = _count("recipients")
    sent: int = _count("sent")
    delivered: int = _count("delivered")
    opened: int | None = _count("opened")
    clicked: int = _count("clicked")
    replied: int = _count("replied")
    unsubscribed: int = _count("unsubscribed")
    bounced: int = _count("bounced")
    purchases: int = Field(description=metrics.PURCHASES_MEANING)
    messages: int = Field(description=metrics.MESSAGES_MEANING)
    open_rate: float | None = Field(description=metrics.RATE_MEANING + " Null for SMS.")
    click_rate: float = Field(description=metrics.RATE_MEANING)
    reply_rate: float = Field(description=metrics.RATE_MEANING)
    purchase_rate: float = Field(description=metrics.RATE_MEANING)
    revenue: list[MoneyOut] = Field(description=metrics.REVENUE_MEANING)
    revenue_cents: int = Field(description="Revenue in the main price currency, for sorting")


class CampaignPerformanceOut(Schema):
    period: PeriodOut
    sort: str
    campaigns: list[CampaignRowOut] = Field(description=metrics.STARTED_MEANING)


class StageOut(Schema):
    status: str
    label: str
    leads: int = Field(description="Leads created in the period that are in this stage now")
    median_days: float | None = Field(description="Median days in the stage so far")
    p90_days: float | None = Field(description="90th percentile of the days in the stage")
    stalled: int = Field(description=f"Leads in the stage longer than {STALL_DAYS} days")
    stalled_share: float


class StagesOut(Schema):
    period: PeriodOut
    stages: list[StageOut] = Field(
        description="Terminal stages (purchased, unsubscribed, bounced) are left out"
    )


@router.get(
    "/funnel",
    response={200: FunnelOut, **ERRORS},
    summary="The eight-stage funnel with conversion",
)
def funnel(request: HttpRequest, params: Query[PeriodParams]) -> dict:
    period = period_from(params, default=analytics.DEFAULT_PERIOD)
    return {"period": period_out(period), "stages": analytics.analytics_funnel(period)}


@router.get(
    "/conversion-rates",
    response={200: ConversionOut, **ERRORS},
    summary="Weekly or monthly cohorts by first contact: open, click, reply, purchase rates",
)
def conversion_rates(request: HttpRequest, params: Query[CohortParams]) -> dict:
    period = period_from(params, default=analytics.DEFAULT_PERIOD)
    times = analytics.time_to_convert(period)
    return {
        "period": period_out(period),
        "group": str(params.group),
        "cohorts": analytics.conversion_cohorts(period, str(params.group)),
        "median_days_to_convert": times.median_days,
        "converted": times.converted,
    }


@router.get(
    "/revenue-by-source",
    response={200: RevenueOut, **ERRORS},
    summary="Revenue in the period and current MRR by category, city or campaign",
)
def revenue_by_source(request: HttpRequest, params: Query[RevenueParams]) -> dict:
    period = period_from(params, default=analytics.DEFAULT_PERIOD)
    return {
        "period": period_out(period),
        "by": str(params.by),
        "rows": analytics.revenue_by_source(period, str(params.by)),
    }


@router.get(
    "/campaign-performance",
    response={200: CampaignPerformanceOut, **ERRORS},
    summary="Per campaign started in the period: the campaign metrics (leads) and revenue",
)
def campaign_performance(request: HttpRequest, params: Query[CampaignParams]) -> dict:
    period = period_from(params, default=analytics.DEFAULT_PERIOD)
    rows = analytics.campaign_performance(period, str(params.sort))
    for row in rows:
        row["revenue"] = [money_out(m["cents"], m["currency"]) for m in row["revenue"]]
    return {"period": period_out(period), "sort": str(params.sort), "campaigns": rows}


@router.get(
    "/time-in-stage",
    response={200: StagesOut, **ERRORS},
    summary="Where leads stall: days in the current stage (median, 90th percentile)",
)
def time_in_stage(request: HttpRequest, params: Query[PeriodParams]) -> dict:
    period = period_from(params, default=analytics.DEFAULT_PERIOD)
    return {"period": period_out(period), "stages": analytics.time_in_stage(period)}
