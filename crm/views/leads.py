"""The lead table: filter sidebar, sort, keyset pages, selection, bulk actions, saved views,
CSV export."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.db.models import Max, Min, QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.template import loader
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from crm.filters import MAX_ID, active_filters, filter_query, lead_filterset
from crm.forms import BulkAssignForm, BulkStatusForm, SavedViewForm
from crm.lifecycle import LifecycleError, business_set_status
from crm.models import Business, ContactStatus, SavedView
from crm.normalize import is_digits
from crm.permissions import can_edit, editor_required, staff_required
from crm.queries import (
    BadCursor,
    LeadPage,
    lead_page,
    lead_total,
)
from crm.sidebar import sidebar_lookups
from crm.views import writes
from crm.views.writes import business_assign_owner, saved_view_save

# Bulk writes touch each lead through the lifecycle; beyond this, ask for a narrower filter.
BULK_LIMIT = 5_000


# The lead table's columns: (label, sort key or None, CSS class). Text columns sort
# ascending first, numbers and dates descending.
LEAD_COLUMNS = (
    ("Name", "name", ""),
    ("City", "city", ""),
    ("Score", "score", "num"),
    ("Rating", "rating", "num"),
    ("Status", "status", ""),
    ("Website", None, ""),
    ("Last contacted", "contacted", ""),
    ("Created", "created", ""),
)
TEXT_SORTS = {"name", "city", "status"}
OWNER_CHOICES = (("", "Anyone"), ("me", "My leads"), ("none", "Unassigned"))


def lead_columns(sort: str) -> list[dict]:
    """Each column header's label, class, `aria-sort`, and the sort its link asks for: the
    other direction on the sorted column, the column's first direction elsewhere."""
    columns = []
    for label, key, css in LEAD_COLUMNS:
        column = {"label": label, "key": key, "css": css}
        if key:
            if sort == key:
                column.update(sort=f"-{key}", aria_sort="ascending")
            elif sort == f"-{key}":
                column.update(sort=key, aria_sort="descending")
            else:
                column.update(sort=key if key in TEXT_SORTS else f"-{key}", aria_sort="none")
        columns.append(column)
    return columns


def _lead_table_context(request: HttpRequest, filterset, *, with_count: bool = True) -> dict:
    params = filter_query(request.GET, "sort")  # no cursors, no junk
    errors = None
    per_value = None
    if filterset.is_valid():
        qs = filterset.qs
        per_value = filterset.qs_per_value()
    else:
        qs = Business.objects.none()
        errors = filterset.errors
    sort = request.GET.get("sort")
    try:
        page = lead_page(
            qs,
            per_value=per_value,
            sort=sort,
            after=request.GET.get("after"),
            before=request.GET.get("before"),
            with_count=with_count,
        )
    except BadCursor as exc:
        page = lead_page(qs, per_value=per_value, sort=sort, with_count=with_count)
        errors = {"page": [str(exc)]}
    params["sort"] = page.sort
    page_no = request.GET.get("p", "1")
    page_no = int(page_no) if is_digits(page_no) and int(page_no) > 0 else 1
    return {
        "page": page,
        "rows": page.rows,
        "params": params,
        "filters": active_filters(request.GET),
        "page_no": page_no,
        "filter_errors": errors,
        "querystring": params.urlencode(),
        "columns": lead_columns(page.sort),
    }


@staff_required
@vary_on_headers("HX-Request")
@require_GET
def lead_list(request: HttpRequest) -> HttpResponse:
    filterset = lead_filterset(request.GET, user=request.user)
    htmx = getattr(request, "htmx", None)
    fragment = bool(htmx and not htmx.history_restore_request and htmx.target == "lead-table")
    # The fragment is the rows only (session + user + one query); its total follows in a
    # lazy crm:lead-count request so a broad filter never slows the table.
    context = _lead_table_context(request, filterset, with_count=not fragment)
    if fragment:
        return render(request, "crm/lead_list.html#lead-table", context)
    lookups = sidebar_lookups()
    context.update(
        form=filterset.form,
        owner_choices=[*OWNER_CHOICES, *lookups["staff"]],
        campaign_choices=lookups["campaigns"],
        saved_views=lookups["saved_views"],
        assign_choices=[("", "— nobody —"), *lookups["staff"]],
        can_edit=can_edit(request.user),
        statuses=ContactStatus.choices,
    )
    return render(request, "crm/lead_list.html", context)


@staff_required
@require_GET
def lead_count(request: HttpRequest) -> HttpResponse:
    """The total label of a filter, fetched by the table fragment after it has rendered."""
    filterset = lead_filterset(request.GET, user=request.user)
    if not filterset.is_valid():
        return HttpResponseBadRequest("Invalid filter", content_type="text/plain")
    n, is_estimate, capped = lead_total(filterset.qs)
    page = LeadPage(rows=[], sort="", total=n, total_is_estimate=is_estimate, total_capped=capped)
    # The page's own total label, and (an htmx out-of-band swap) its "Select all N matching".
    template = loader.get_template("crm/lead_list.html#lead-total")
    return HttpResponse(template.render({"page": page, "oob": True}))


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


class SelectionError(ValueError):
    pass


def leads_selected(request: HttpRequest, data: QueryDict) -> QuerySet:
    """The leads a bulk action applies to: `all=1` + the filter params, or repeated `ids`."""
    if data.get("all") == "1":
        filterset = lead_filterset(data, user=request.user)
        if not filterset.is_valid():
            raise SelectionError(f"Invalid filter: {filterset.errors.as_text()}")
        return filterset.qs
    raw = data.getlist("ids")
    if not raw:
        raise SelectionError("Select at least one lead.")
    if not all(is_digits(v) and int(v) <= MAX_ID for v in raw):
        raise SelectionError("Lead ids must be numbers.")
    return Business.objects.filter(pk__in=[int(v) for v in raw])


def _bulk_done(request: HttpRequest, text: str, level=messages.SUCCESS) -> HttpResponse:
    messages.add_message(request, level, text)
    target = _safe_next(request, reverse("crm:lead-list"))
    if getattr(request, "htmx", None):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


@editor_required
@require_POST
def lead_bulk_status(request: HttpRequest) -> HttpResponse:
    form = BulkStatusForm(request.POST)
    if not form.is_valid():
        return _bulk_done(request, "Pick a valid status.", messages.ERROR)
    try:
        qs = leads_selected(request, request.POST)
    except SelectionError as exc:
        return _bulk_done(request, str(exc), messages.ERROR)
    pks = list(qs.order_by().values_list("pk", flat=True)[: BULK_LIMIT + 1])
    if len(pks) > BULK_LIMIT:
        return _bulk_done(
            request,
            f"That is more than {BULK_LIMIT:,} leads; narrow the filter first.",
            messages.ERROR,
        )
    status = form.cleaned_data["to_status"]
    changed = 0
    try:
        for pk in pks:
            changed += bool(
                business_set_status(business=pk, actor=request.user, contact_status=status)
            )
    except LifecycleError as exc:
        return _bulk_done(request, str(exc), messages.ERROR)
    return _bulk_done(request, f"Status set to {status} on {changed} of {len(pks)} leads.")


@editor_required
@require_POST
def lead_bulk_assign(request: HttpRequest) -> HttpResponse:
    form = BulkAssignForm(request.POST)
    if not form.is_valid():
        return _bulk_done(request, "Pick a staff member.", messages.ERROR)
    try:
        qs = leads_selected(request, request.POST)
    except SelectionError as exc:
        return _bulk_done(request, str(exc), messages.ERROR)
    if qs.order_by().values("pk")[BULK_LIMIT : BULK_LIMIT + 1].exists():
        return _bulk_done(
            request,
            f"That is more than {BULK_LIMIT:,} leads; narrow the filter first.",
            messages.ERROR,
        )
    owner = form.cleaned_data["to_owner"]
    n = business_assign_owner(businesses=qs, owner=owner, actor=request.user)
    who = owner.get_username() if owner else "nobody"
    return _bulk_done(request, f"Assigned {n} lead{'s' if n != 1 else ''} to {who}.")


@editor_required
@require_POST
def saved_view_create(request: HttpRequest) -> HttpResponse:
    form = SavedViewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Could not save the view: " + form.errors.as_text())
        return redirect(_safe_next(request, reverse("crm:lead-list")))
    params = filter_query(QueryDict(form.cleaned_data["params"]), "sort")
    filterset = lead_filterset(params)
    if not filterset.is_valid():
        messages.error(request, "Could not save the view: the filter is not valid.")
        return redirect(_safe_next(request, reverse("crm:lead-list")))
    view = saved_view_save(
        name=form.cleaned_data["name"], params=params.urlencode(), actor=request.user
    )
    messages.success(request, f"Saved view “{view.name}”.")
    return redirect(f"{reverse('crm:lead-list')}?{view.params}")


@editor_required
@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    view = get_object_or_404(SavedView, pk=pk)
    writes.saved_view_delete(view=view)
    messages.success(request, f"Deleted view “{view.name}”.")
    return redirect(_safe_next(request, reverse("crm:lead-list")))


# --- CSV export -----------------------------------------------------------------------------

CSV_COLUMNS = (
    ("id", "id"),
    ("name", "name"),
    ("email", "email"),
    ("phone", "phone"),
    ("website", "website"),
    ("address", "address"),
    ("city", "city"),
    ("state", "state"),
    ("postal_code", "postal_code"),
    ("category", "category"),
    ("rating", "rating"),
    ("review_count", "reviews"),
    ("qualification_score", "score"),
    ("contact_status", "contact_status"),
    ("furthest_contact_status", "furthest_contact_status"),
    ("website_status", "website_status"),
    ("owner__username", "owner"),
    ("last_contacted_at", "last_contacted_at"),
    ("first_opened_at", "first_opened_at"),
    ("first_clicked_at", "first_clicked_at"),
    ("last_replied_at", "last_replied_at"),
    ("email_opt_out_at", "email_opt_out_at"),
    ("sms_opt_out_at", "sms_opt_out_at"),
    ("do_not_contact_at", "do_not_contact_at"),
    ("created_at", "created_at"),
)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A cell a spreadsheet will not execute: text that starts like a formula gets a
    leading apostrophe (OWASP's CSV-injection advice)."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_rows(qs: QuerySet):
    writer = csv.writer(_Echo())
    yield writer.writerow([label for _, label in CSV_COLUMNS])
    fields = [name for name, _ in CSV_COLUMNS]
    for row in qs.values_list(*fields).iterator(chunk_size=2000):
        yield writer.writerow([csv_cell(v) for v in row])


@staff_required
@require_http_methods(["GET", "POST"])
def lead_export(request: HttpRequest) -> HttpResponse:
    """Streams the filtered (or selected) leads with statuses and engagement dates. The lead
    table's bulk form posts here (a GET would put its CSRF token in the URL); a plain GET
    link with the filter parameters works too."""
    data = request.POST if request.method == "POST" else request.GET
    try:
        if data.getlist("ids") and data.get("all") != "1":
            qs = leads_selected(request, data)
        else:
            filterset = lead_filterset(data, user=request.user)
            if not filterset.is_valid():
                raise SelectionError(f"Invalid filter: {filterset.errors.as_text()}")
            qs = filterset.qs
    except SelectionError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    qs = (
        qs.annotate(
            first_opened_at=Min("messages__opened_at"),
            first_clicked_at=Min("messages__clicked_at"),
            last_replied_at=Max("messages__replied_at"),
        )
        .select_related(None)
        .order_by("-created_at", "-id")
    )
    response = StreamingHttpResponse(_csv_rows(qs), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
    return response
