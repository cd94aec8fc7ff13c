"""The provider-event inbox page: failed and unmatched events, raw payloads, replay.

Staff read it; superusers replay (crm.inbox.replay, which applies an event at most once).
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from crm import inbox
from crm.models import Provider, ProviderEvent, ProviderEventStatus
from crm.normalize import is_digits
from crm.permissions import can_admin, staff_required, superuser_required

Status = ProviderEventStatus
NEEDS_ATTENTION = [Status.FAILED, Status.UNMATCHED]
PAGE_SIZE = 50


def inbox_counts() -> dict[str, int]:
    """How many events need attention, per status (one query)."""
    return ProviderEvent.objects.aggregate(
        failed=Count("pk", filter=Q(status=Status.FAILED)),
        unmatched=Count("pk", filter=Q(status=Status.UNMATCHED)),
    )


@staff_required
@require_GET
def inbox_list(request: HttpRequest) -> HttpResponse:
    """Failed / unmatched events (or any status with ?status=…), newest first.
    `?raw=<id>` returns one event's raw payload (htmx fragment, or the page with it open)."""
    raw_id = request.GET.get("raw", "")
    if raw_id:
        if not is_digits(raw_id):
            return HttpResponse("raw must be an event id", status=400)
        event = get_object_or_404(ProviderEvent, pk=int(raw_id))
        context = {"event": event, "raw": json.dumps(event.payload, indent=2, sort_keys=True)}
        template = "crm/inbox_raw.html" if request.htmx else "crm/inbox_event.html"
        return render(request, template, context)

    status = request.GET.get("status", "attention")
    provider = request.GET.get("provider", "")
    qs = ProviderEvent.objects.select_related("business").order_by("-received_at", "-pk")
    if status == "attention":
        qs = qs.filter(status__in=NEEDS_ATTENTION)
    elif status in Status.values:
        qs = qs.filter(status=status)
    elif status != "all":
        return HttpResponse(f"unknown status {status!r}", status=400)
    if provider:
        if provider not in Provider.values:
            return HttpResponse(f"unknown provider {provider!r}", status=400)
        qs = qs.filter(provider=provider)
    if is_digits(business := request.GET.get("business", "")):
        qs = qs.filter(business_id=int(business))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "crm/inbox_list.html",
        {
            "page": page,
            "events": page.object_list,
            "status": status,
            "provider": provider,
            "statuses": Status.choices,
            "providers": Provider.choices,
            "counts": inbox_counts(),
            "can_replay": can_admin(request.user),
        },
    )


@superuser_required
@require_POST
def inbox_replay(request: HttpRequest, pk: int) -> HttpResponse:
    """Apply a stored event again. A processed one is re-applied only with force=1
    (handlers are idempotent); the outcome is shown and stays on the event."""
    event = get_object_or_404(ProviderEvent, pk=pk)
    force = request.POST.get("force") == "1"
    if event.status == Status.PROCESSED and not force:
        messages.info(request, f"Event {event.pk} was already applied; nothing to do.")
    else:
        event = inbox.replay(event, force=force)
        text = f"Event {event.pk} replayed: {event.get_status_display().lower()}"
        if event.error:
            text += f" ({event.error[:200]})"
        level = messages.success if event.status == Status.PROCESSED else messages.warning
        level(request, text)
    nxt = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        nxt = reverse("crm:inbox")
    return redirect(nxt)
