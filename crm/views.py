"""Staff CRM pages under /admin/crm/."""

from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from crm.models import Business, LeadEvent


@staff_member_required(login_url="login")
def dashboard(request: HttpRequest) -> HttpResponse:
    by_status = dict(
        Business.objects.values_list("contact_status").annotate(n=Count("id")).order_by()
    )
    recent = LeadEvent.objects.select_related("business", "actor")[:20]
    return render(request, "crm/dashboard.html", {"by_status": by_status, "recent": recent})
