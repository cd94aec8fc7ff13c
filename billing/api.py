"""JSON API for billing, mounted by webmagic/api.py at /api/v1/billing/.

Money is integer cents with its currency (never floats); `display` is the formatted string.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from billing.models import Payment, Subscription
from billing.queries import mrr_by_currency, revenue_by_currency
from crm.api import MoneyOut, money_out

router = Router(tags=["billing"])

MAX_LIMIT = 500
MAX_OFFSET = 1_000_000


class SummaryOut(Schema):
    mrr: list[MoneyOut]
    revenue: list[MoneyOut]
    active_subscriptions: int


class SubscriptionOut(Schema):
    id: int
    provider_subscription_id: str
    status: str
    plan_name: str
    amount_cents: int
    currency: str
    interval: str
    started_at: datetime
    current_period_end: datetime | None
    cancelled_at: datetime | None
    business_id: int | None
    site_id: int | None


class PaymentOut(Schema):
    id: int
    provider_payment_id: str
    status: str
    kind: str
    amount_cents: int
    currency: str
    paid_at: datetime | None
    failure_reason: str
    business_id: int | None
    subscription_id: int | None


class ListFilter(Schema):
    # Bounded so junk is a 422 naming the field, never a database error (NUL bytes,
    # ids past bigint, huge offsets).
    status: str | None = Field(None, max_length=20, pattern=r"^[a-z_]+$")
    business: int | None = Field(None, ge=1, le=2**63 - 1)
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


def _money(by_currency: dict[str, int]) -> list[dict]:
    return [money_out(cents, c) for c, cents in sorted(by_currency.items())]


def _page(qs, filters: ListFilter):
    limit = max(1, min(filters.limit, MAX_LIMIT))
    offset = max(0, filters.offset)
    return qs[offset : offset + limit]


@router.get("/summary", response=SummaryOut, summary="MRR and revenue per currency")
def summary(request: HttpRequest) -> dict:
    return {
        "mrr": _money(mrr_by_currency()),
        "revenue": _money(revenue_by_currency()),
        "active_subscriptions": Subscription.objects.filter(status="active").count(),
    }


@router.get("/subscriptions", response=list[SubscriptionOut], summary="Subscriptions, newest first")
def subscriptions(request: HttpRequest, filters: Query[ListFilter]) -> list[dict]:
    qs = Subscription.objects.select_related("customer").order_by("-started_at", "-pk")
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.business:
        qs = qs.filter(customer__business_id=filters.business)
    return [
        {
            **{f: getattr(s, f) for f in SubscriptionOut.model_fields if hasattr(s, f)},
            "business_id": s.customer.business_id if s.customer else None,
        }
        for s in _page(qs, filters)
    ]


@router.get("/payments", response=list[PaymentOut], summary="Payments, newest first")
def payments(request: HttpRequest, filters: Query[ListFilter]) -> list[Payment]:
    qs = Payment.objects.order_by("-created_at", "-pk")
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.business:
        qs = qs.filter(business_id=filters.business)
    return list(_page(qs, filters))


class CancelOut(Schema):
    requested: bool
    status: str
    detail: str


@router.post(
    "/subscriptions/{subscription_id}/cancel",
    response=CancelOut,
    summary="Ask Recurrente to cancel; the status follows when its webhook confirms",
)
def subscription_cancel(request: HttpRequest, subscription_id: int) -> dict:
    from ninja.errors import HttpError

    from billing.backends import PaymentsError
    from billing.services import subscription_cancel_request
    from crm.permissions import can_admin

    if not can_admin(request.auth):
        raise HttpError(403, "Cancelling a subscription needs a superuser.")
    sub = Subscription.objects.select_related("customer").filter(pk=subscription_id).first()
    if sub is None:
        raise HttpError(404, "No such subscription.")
    try:
        requested = subscription_cancel_request(subscription=sub, actor=request.auth)
    except PaymentsError as exc:
        raise HttpError(502, f"Recurrente refused the cancellation: {exc}") from None
    sub.refresh_from_db()
    detail = (
        "Cancellation requested; the status changes when Recurrente confirms it."
        if requested
        else "Already cancelled or being cancelled."
    )
    return {"requested": requested, "status": sub.status, "detail": detail}
