"""The pipeline board: one column per contact stage, where leads stall."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from crm.filters import lead_filterset
from crm.models import Business
from crm.periods import period_choices, period_from_params
from crm.permissions import staff_required
from crm.queries import STALL_DAYS, pipeline_columns


@staff_required
@require_GET
def pipeline(request: HttpRequest) -> HttpResponse:
    try:
        period = period_from_params(request.GET, default="all")
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    filterset = lead_filterset(request.GET, user=request.user)
    qs = filterset.qs if filterset.is_valid() else Business.objects.none()
    columns = pipeline_columns(qs, period=period)
    mine = request.GET.get("owner") == "me"
    # "All N →" opens the lead table on the same leads: the period's creation days.
    lead_query = {**period.lead_filter_params(), **({"owner": "me"} if mine else {})}
    return render(
        request,
        "crm/pipeline.html",
        {
            "columns": columns,
            "total": sum(c.count for c in columns),
            "stall_days": STALL_DAYS,
            "mine": mine,
            "period": period,
            "picker": period_choices(period, {"owner": "me"} if mine else {}),
            "period_query": urlencode(period.params()),
            "lead_query": urlencode(lead_query),
            "filter_errors": None if filterset.is_valid() else filterset.errors,
        },
    )
