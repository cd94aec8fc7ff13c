"""Public preview pages, and the staff action that generates sites for selected leads.

Prospects see only their own site: nothing about other leads, no staff data.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from crm.filters import lead_filterset
from crm.formatting import format_money
from crm.models import Business
from crm.normalize import is_digits
from crm.permissions import editor_required, is_staff
from sites.builder import SelectionTooLarge, site_render, sites_generate_for
from sites.models import Site, SiteStatus
from sites.orphans import site_business_ensure
from sites.services import site_claim_record, site_visit_record, visit_counts


def _public_headers(response: HttpResponse) -> HttpResponse:
    response["X-Robots-Tag"] = "noindex, nofollow"
    # Views are counted server-side: a shared cache must not answer for us.
    response["Cache-Control"] = "private, no-cache"
    response["Referrer-Policy"] = "same-origin"
    return response


def _public_site(request: HttpRequest, slug: str) -> Site | HttpResponse:
    """The site, or a 410 page when it is archived (staff still see archived sites)."""
    site = get_object_or_404(Site.objects.select_related("business"), slug=slug)
    if site.status == SiteStatus.ARCHIVED and not is_staff(request.user):
        return _public_headers(render(request, "sites/gone.html", status=410))
    return site


@require_safe
def preview(request: HttpRequest, slug: str) -> HttpResponse:
    site = _public_site(request, slug)
    if isinstance(site, HttpResponse):
        return site
    if visit_counts(request):
        site_visit_record(site=site)
    return _public_headers(HttpResponse(site_render(site, request=request)))


@require_safe
def claim(request: HttpRequest, slug: str) -> HttpResponse:
    site = _public_site(request, slug)
    if isinstance(site, HttpResponse):
        return site
    if visit_counts(request):
        # A prospect (not a bot) wants this site: an orphan gets its lead now, so the
        # claim is on its timeline and the purchase box below can be used.
        site = site_business_ensure(site=site)
        site_claim_record(site=site)
    content = site.content if isinstance(site.content, dict) else {}
    from_email = settings.DEFAULT_FROM_EMAIL
    contact_email = from_email.rpartition("<")[2].rstrip(">").strip() if from_email else ""
    context = {
        "site": site,
        "name": str(content.get("name") or (site.business.name if site.business else ""))[:255],
        "setup_fee": format_money(settings.SETUP_FEE_CENTS, settings.PRICE_CURRENCY),
        "monthly_price": format_money(settings.MONTHLY_PRICE_CENTS, settings.PRICE_CURRENCY),
        "contact_email": contact_email,
        "purchased": site.status != SiteStatus.PREVIEW,
    }
    return _public_headers(render(request, "sites/claim.html", context))


# ------------------------------------------------------------------------- staff action


def _back_url(request: HttpRequest) -> str:
    for candidate in (request.POST.get("next"), request.headers.get("Referer")):
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return candidate
    return reverse("crm:lead-list")


def _bad_request(request: HttpRequest, error: str) -> HttpResponse:
    template = "sites/generate_result.html"
    if request.headers.get("HX-Request"):
        template += "#generate-result"
    context = {"error": error, "back_url": _back_url(request)}
    return render(request, template, context, status=400)


@require_POST
@editor_required
def generate(request: HttpRequest) -> HttpResponse:
    """Generate preview sites for `ids` (repeated lead ids), or for every lead matching the
    lead filter parameters when `all=1`."""
    if request.POST.get("all") == "1":
        filterset = lead_filterset(request.POST, user=request.user)
        if not filterset.is_valid():
            errors = "; ".join(
                f"{name}: {' '.join(msgs)}" for name, msgs in filterset.errors.items()
            )
            return _bad_request(request, f"Invalid filter: {errors}")
        selection = filterset.qs
    else:
        raw_ids = [v for v in request.POST.getlist("ids") if v.strip()]
        if not raw_ids:
            return _bad_request(request, "Select at least one lead (or all matching leads).")
        if not all(is_digits(v.strip()) for v in raw_ids) or len(raw_ids) > 10_000:
            return _bad_request(request, "Lead ids must be whole numbers (at most 10,000).")
        ids = {int(v) for v in raw_ids}
        found = set(Business.objects.filter(pk__in=ids).values_list("pk", flat=True))
        if missing := sorted(ids - found):
            shown = ", ".join(str(pk) for pk in missing[:10])
            return _bad_request(request, f"No lead with id {shown}.")
        selection = Business.objects.filter(pk__in=ids)
    try:
        summary = sites_generate_for(selection, actor=request.user)
    except SelectionTooLarge as exc:
        return _bad_request(request, str(exc))
    text = summary.message()
    if request.headers.get("HX-Request"):
        response = render(
            request,
            "sites/generate_result.html#generate-result",
            {"summary": summary, "text": text, "back_url": _back_url(request)},
        )
        response["HX-Trigger"] = json.dumps(
            {
                "sites-generated": {
                    "generated": summary.generated,
                    "queued": summary.queued,
                    "skipped": summary.skipped,
                    "failed": summary.failed,
                }
            }
        )
        return response
    level = messages.ERROR if summary.failed else messages.SUCCESS
    messages.add_message(request, level, text)
    return HttpResponseRedirect(_back_url(request))
