"""The lead detail page and its actions (status, note, do-not-contact, owner).

Every action is a POST through crm.lifecycle. A plain POST redirects back (post/redirect/
get); an htmx POST gets the `lead-live` fragment (status card, actions, timeline) with
the new timeline line already in it, plus an HX-Trigger `lead-updated`.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from crm.forms import AssignForm, DoNotContactForm, NoteForm, StatusForm
from crm.lifecycle import (
    LifecycleError,
    business_set_do_not_contact,
    business_set_status,
    lead_event_add,
)
from crm.models import Business, EventSource, LeadEventKind
from crm.permissions import can_edit, editor_required, staff_required
from crm.queries import lead_timeline
from crm.views.writes import business_assign_owner


def _live_context(request: HttpRequest, business: Business, **forms) -> dict:
    return {
        "business": business,
        "timeline": lead_timeline(business),
        "can_edit": can_edit(request.user),
        "status_form": forms.get("status_form")
        or StatusForm(
            initial={
                "contact_status": business.contact_status,
                "website_status": business.website_status,
            }
        ),
        "note_form": forms.get("note_form") or NoteForm(),
        "dnc_form": forms.get("dnc_form") or DoNotContactForm(),
        "assign_form": forms.get("assign_form") or AssignForm(initial={"owner": business.owner_id}),
    }


def _business(pk: int) -> Business:
    return get_object_or_404(Business.objects.select_related("owner"), pk=pk)


@staff_required
@vary_on_headers("HX-Request")
@require_GET
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    business = _business(pk)
    # Other apps' rows through reverse relations: crm imports nothing downstream.
    sites = list(business.sites.order_by("-created_at").prefetch_related("subscriptions"))
    outreach = list(
        business.messages.select_related("campaign").order_by("-created_at", "-id")[:100]
    )
    checkouts = list(business.checkouts.select_related("site").order_by("-created_at"))
    payments = list(business.payments.order_by("-created_at"))
    customers = list(
        business.customers.prefetch_related(
            Prefetch("subscriptions", to_attr="subscription_list")
        ).order_by("-id")
    )
    breakdown = sorted(
        (business.score_breakdown or {}).items(), key=lambda item: -item[1].get("max", 0)
    )
    context = _live_context(request, business)
    context.update(
        sites=sites,
        outreach=outreach,
        checkouts=checkouts,
        payments=payments,
        customers=customers,
        breakdown=breakdown,
    )
    return render(request, "crm/lead_detail.html", context)


def _after_action(request: HttpRequest, business: Business, text: str, **forms) -> HttpResponse:
    if getattr(request, "htmx", None):
        business.refresh_from_db()
        context = _live_context(request, business, **forms)
        context["flash"] = text
        context["flash_error"] = bool(forms)
        response = render(request, "crm/lead_detail.html#lead-live", context)
        response["HX-Trigger"] = "lead-updated"
        return response
    if forms:
        messages.error(request, text)
    else:
        messages.success(request, text)
    return redirect("crm:lead-detail", pk=business.pk)


def _errors(form) -> str:
    return " ".join(str(e) for errs in form.errors.values() for e in errs)


@editor_required
@require_POST
def lead_status_set(request: HttpRequest, pk: int) -> HttpResponse:
    business = _business(pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _after_action(request, business, _errors(form), status_form=form)
    try:
        changes = business_set_status(
            business=business,
            actor=request.user,
            contact_status=form.cleaned_data["contact_status"] or None,
            website_status=form.cleaned_data["website_status"] or None,
            note=form.cleaned_data["note"],
        )
    except LifecycleError as exc:
        return _after_action(request, business, str(exc), status_form=form)
    text = "; ".join(f"{c.field.replace('_', ' ')} {c.old} → {c.new}" for c in changes)
    return _after_action(request, business, text or "Nothing changed.")


@editor_required
@require_POST
def lead_note_add(request: HttpRequest, pk: int) -> HttpResponse:
    business = _business(pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _after_action(request, business, _errors(form), note_form=form)
    lead_event_add(
        business=business,
        kind=LeadEventKind.NOTE,
        source=EventSource.MANUAL,
        summary=form.cleaned_data["text"],
        actor=request.user,
    )
    return _after_action(request, business, "Note added.")


@editor_required
@require_POST
def lead_do_not_contact(request: HttpRequest, pk: int) -> HttpResponse:
    business = _business(pk)
    form = DoNotContactForm(request.POST)
    if not form.is_valid():
        return _after_action(request, business, _errors(form), dnc_form=form)
    done = business_set_do_not_contact(
        business=business, actor=request.user, reason=form.cleaned_data["reason"]
    )
    return _after_action(
        request, business, "Marked do-not-contact." if done else "Already do-not-contact."
    )


@editor_required
@require_POST
def lead_assign(request: HttpRequest, pk: int) -> HttpResponse:
    business = _business(pk)
    form = AssignForm(request.POST)
    if not form.is_valid():
        return _after_action(request, business, _errors(form), assign_form=form)
    owner = form.cleaned_data["owner"]
    n = business_assign_owner(
        businesses=Business.objects.filter(pk=business.pk), owner=owner, actor=request.user
    )
    who = owner.get_username() if owner else "nobody"
    return _after_action(request, business, f"Assigned to {who}." if n else "Owner unchanged.")
