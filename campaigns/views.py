"""Campaign pages (builder with live audience preview, list, results) and the public
unsubscribe page. Thin views: parse, call a service or a read, pick a template/fragment."""

from __future__ import annotations

import secrets

from django.contrib import messages as flash
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from campaigns import metrics, services
from campaigns.audience import AudienceError, audience_preview, audience_query_from
from campaigns.forms import CampaignForm
from campaigns.models import Campaign, CampaignStatus, Channel, Message, MessageStatus
from campaigns.results import (
    campaign_list_qs,
    campaign_recipients,
    campaign_results,
    campaign_rows,
)
from campaigns.sending import REASONS, Rendered, render_message, unsubscribe_unsign
from campaigns.suppression import suppression_add
from crm.filters import filter_query, lead_filterset
from crm.lifecycle import business_opt_out
from crm.models import Business, EventSource
from crm.normalize import is_digits
from crm.permissions import can_edit, editor_required, staff_required
from sites.models import Site, SiteStatus


def _ids(params) -> list[int]:
    """The explicit selection; "select all matching" (`all=1`) means the filter instead."""
    if params.get("all") == "1":
        return []
    return sorted({int(v) for v in params.getlist("ids") if is_digits(str(v))})


def _audience_from(params) -> tuple[str, list[int]]:
    ids = _ids(params)
    return ("", ids) if ids else (audience_query_from(params), [])


def _sample_render(channel: str, subject: str, body: str, lead: Business | None) -> Rendered:
    """The message one lead of the preview would get (nothing is saved)."""
    lead = lead or Business(name="Sample Business", city="Austin", category="Plumber")
    probe = Message(business=lead, channel=channel, token="preview")  # noqa: S106
    if lead.pk:
        probe.site = Site.objects.filter(business=lead).exclude(status=SiteStatus.ARCHIVED).first()
    return render_message(probe, subject=subject, body=body, first_sms=True)


def _preview_context(request: HttpRequest, params) -> dict:
    channel = params.get("channel") or Channel.EMAIL
    if channel not in Channel.values:
        channel = Channel.EMAIL
    query, ids = _audience_from(params)
    templates = tuple(
        params.get(name, "") or ""
        for name in ("subject_template", "body_template", "followup_subject", "followup_body")
    )
    try:
        preview = audience_preview(
            channel=channel,
            audience_query=query,
            audience_ids=ids,
            user=request.user,
            templates=templates,
            override=params.get("override_cooldown") in ("on", "1", "true"),
        )
    except AudienceError as exc:
        return {"preview_errors": exc.errors, "channel": channel}
    lead = preview.sample[0] if preview.sample else None
    rendered = _sample_render(
        channel,
        params.get("subject_template", ""),
        params.get("body_template", "") or "",
        lead,
    )
    return {"preview": preview, "rendered": rendered, "sample_lead": lead, "channel": channel}


# The columns of the campaigns list (the results page shows every metric).
LIST_METRICS = ("recipients", "sent", "opened", "clicked", "replied", "converted")


@staff_required
@vary_on_headers("HX-Request")
def campaign_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(campaign_list_qs(), 50).get_page(request.GET.get("page"))
    legend = metrics.legend(*LIST_METRICS)
    return render(
        request,
        "campaigns/campaign_list.html",
        {
            "page": page,
            "rows": [
                {
                    "campaign": c,
                    "cells": [{"metric": mt, "count": m.counts[mt.name]} for mt in legend],
                    "messages": m.messages,
                }
                for c, m in campaign_rows(list(page))
            ],
            "legend": legend,
            "messages_meaning": metrics.MESSAGES_MEANING,
        },
    )


@editor_required
@require_http_methods(["GET", "POST"])
def campaign_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and request.POST.get("audience") == "1":
        return _builder_for_audience(request)
    params = request.POST if request.method == "POST" else request.GET
    filterset = lead_filterset(params if request.method == "GET" else request.POST)
    ids = _ids(params)
    if request.method == "POST":
        form = CampaignForm(request.POST)
        query, ids = _audience_from(request.POST)
        if not ids and not filterset.is_valid():
            form.add_error(None, "Fix the audience filters first.")
        if form.is_valid():
            data = form.cleaned_data
            action = request.POST.get("action", "start")
            fields = {
                "name": data["name"],
                "channel": data["channel"],
                "audience_query": query,
                "audience_ids": ids,
                "subject_template": data["subject_template"],
                "body_template": data["body_template"],
                "scheduled_at": data["scheduled_at"],
                "send_rate_per_minute": data["send_rate_per_minute"],
                "daily_cap": data["daily_cap"],
                "followups": form.followups(),
                "override_cooldown": data["override_cooldown"],
            }
            if action == "test":
                # Nothing is saved: the builder comes back with its fields as they were.
                unsaved = {k: v for k, v in fields.items() if k != "override_cooldown"}
                try:
                    where = services.campaign_send_test(
                        campaign=Campaign(**unsaved), user=request.user
                    )
                    flash.success(request, f"Test sent to {where}. Nothing was saved.")
                except services.CampaignError as exc:
                    flash.error(request, str(exc))
                return _builder(request, form, filterset, ids, request.POST)
            # The key rendered into the form makes a double-clicked Start one campaign.
            campaign = services.campaign_create(
                **fields,
                created_by=request.user,
                idempotency_key=_form_key(request.POST.get("idempotency_key")),
            )
            if action == "draft":
                flash.success(request, "Campaign saved as a draft.")
                return redirect("campaigns:campaign-detail", pk=campaign.pk)
            campaign = services.campaign_start(campaign=campaign)
            flash.success(
                request,
                f"Campaign “{campaign.name}” "
                + ("scheduled." if campaign.status == CampaignStatus.SCHEDULED else "started."),
            )
            return redirect("campaigns:campaign-detail", pk=campaign.pk)
    else:
        initial = {}
        if request.GET.get("channel") in Channel.values:
            initial["channel"] = request.GET["channel"]
        form = CampaignForm(initial=initial)
    return _builder(request, form, filterset, ids, params)


def _builder_for_audience(request: HttpRequest) -> HttpResponse:
    """The lead table's "Start campaign" posts its selection (a GET would put the bulk
    form's CSRF token in the URL); the builder opens on a plain URL of that audience."""
    query = filter_query(request.POST, "all")
    ids = _ids(request.POST)
    if ids:
        query.setlist("ids", [str(pk) for pk in ids])
    response = redirect(f"{request.path}?{query.urlencode()}")
    response.status_code = 303
    return response


def _form_key(value: str | None) -> str | None:
    value = (value or "").strip()
    return f"builder:{value}"[:200] if value else None


def _builder(request: HttpRequest, form, filterset, ids, params) -> HttpResponse:
    preview_params = params.copy() if isinstance(params, QueryDict) else QueryDict(mutable=True)
    if request.method == "GET":
        for name in ("subject_template", "body_template"):
            preview_params.setdefault(name, form.fields[name].initial or "")
    context = {
        "form": form,
        "filterset": filterset,
        "ids": ids,
        "reasons": REASONS,
        "idempotency_key": request.POST.get("idempotency_key") or secrets.token_urlsafe(16),
        **_preview_context(request, preview_params),
    }
    return render(request, "campaigns/campaign_new.html", context)


@editor_required
@vary_on_headers("HX-Request")
def campaign_preview(request: HttpRequest) -> HttpResponse:
    """The audience-preview fragment, re-rendered by htmx as the builder's fields change."""
    context = _preview_context(request, request.GET)
    return render(request, "campaigns/campaign_new.html#audience-preview", context)


@staff_required
@vary_on_headers("HX-Request")
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("created_by"), pk=pk)
    status = request.GET.get("status", "")
    if status not in MessageStatus.values:
        status = ""
    polled = bool(request.htmx) and request.GET.get("fragment") == "progress"
    page = (
        None
        if polled  # the progress fragment needs no recipient table
        else Paginator(campaign_recipients(campaign, status=status), 100).get_page(
            request.GET.get("page")
        )
    )
    results = campaign_results(campaign)
    context = {
        "campaign": campaign,
        "results": results,
        "cells": [{"metric": m, **results["metrics"][m.name]} for m in metrics.legend()],
        "legend": metrics.legend(),
        "meanings": {
            "revenue": metrics.REVENUE_MEANING,
            "rate": metrics.RATE_MEANING,
            "messages": metrics.MESSAGES_MEANING,
        },
        "page": page,
        "status_filter": status,
        "statuses": MessageStatus.choices,
        "can_edit": can_edit(request.user),
        "polling": campaign.status in (CampaignStatus.SENDING, CampaignStatus.SCHEDULED),
    }
    if polled:
        return render(request, "campaigns/campaign_detail.html#campaign-progress", context)
    return render(request, "campaigns/campaign_detail.html", context)


@editor_required
@require_POST
def campaign_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    done = False
    if action == "start":
        done = services.campaign_start(campaign=campaign).status != CampaignStatus.DRAFT
    elif action == "pause":
        done = services.campaign_pause(campaign=campaign)
    elif action == "resume":
        done = services.campaign_resume(campaign=campaign)
    elif action == "cancel":
        done = services.campaign_cancel(campaign=campaign)
    elif action == "resend-unknown":
        return _resend_unknown(request, campaign)
    else:
        return HttpResponseBadRequest("unknown action")
    if done:
        flash.success(request, f"Campaign {action}: done.")
    else:
        flash.error(request, f"Cannot {action} a campaign that is {campaign.get_status_display()}.")
    return _to_detail(request, pk)


def _resend_unknown(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    """ "Resend these N": the messages of unknown outcome are queued again (staff decide that
    a possible second copy is better than none)."""
    try:
        n = services.campaign_resend_unknown(campaign=campaign, actor=request.user)
    except services.CampaignError as exc:
        flash.error(request, str(exc))
    else:
        if n:
            flash.success(
                request, f"{n} message{'s' if n != 1 else ''} of unknown outcome queued again."
            )
        else:
            flash.error(request, "No message of unknown outcome to resend.")
    return _to_detail(request, campaign.pk)


def _to_detail(request: HttpRequest, pk: int) -> HttpResponse:
    url = reverse("campaigns:campaign-detail", args=[pk])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


# --- public unsubscribe -----------------------------------------------------------------------


@csrf_exempt  # RFC 8058 one-click: the mail client POSTs without our CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    found = unsubscribe_unsign(token)
    business = Business.objects.filter(pk=found[0]).first() if found else None
    if business is None:
        return render(request, "campaigns/unsubscribe_invalid.html", status=404)
    channel = found[1]
    if request.method == "GET":
        return render(
            request, "campaigns/unsubscribe.html", {"business": business, "channel": channel}
        )
    business_opt_out(
        business=business,
        channel=channel,
        source=EventSource.PUBLIC,
        reason="one-click unsubscribe"
        if request.POST.get("List-Unsubscribe") == "One-Click"
        else "unsubscribe link",
    )
    if channel == Channel.EMAIL and business.email:
        suppression_add(kind="email", value=business.email, reason="unsubscribe", source="link")
    elif channel == Channel.SMS and (business.phone_normalized or business.phone):
        suppression_add(
            kind="phone",
            value=business.phone_normalized or business.phone,
            reason="unsubscribe",
            source="link",
        )
    return render(
        request, "campaigns/unsubscribe_done.html", {"business": business, "channel": channel}
    )
