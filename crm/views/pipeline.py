"""The pipeline board: one column per contact stage, where leads stall."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from crm.filters import lead_filterset
from crm.models import Business
from crm.permissions import staff_required
from crm.queries import STALL_DAYS, pipeline_columns


@staff_required
@require_GET
def pipeline(request: HttpRequest) -> HttpResponse:
    filterset = lead_filterset(request.GET, user=request.user)
    qs = filterset.qs if filterset.is_valid() else Business.objects.none()
    columns = pipeline_columns(qs)
    return render(
        request,
        "crm/pipeline.html",
        {
            "columns": columns,
            "total": sum(c.count for c in columns),
            "stall_days": STALL_DAYS,
            "mine": request.GET.get("owner") == "me",
            "filter_errors": None if filterset.is_valid() else filterset.errors,
        },
    )
