"""Who may do what on the staff pages and the API.

Roles (DESIGN.md): group `viewer` reads everything (a staff user in no group is a viewer);
group `sales` also edits leads and runs campaigns; superusers also act on billing, replay
events and manage API tokens. Anonymous or non-staff users are sent to the login page; an
htmx request gets an `HX-Redirect` header so the whole page goes there instead of a login
form being swapped into a table.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url

SALES_GROUP = "sales"
VIEWER_GROUP = "viewer"


def is_staff(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def can_edit(user) -> bool:
    """Edit leads and run campaigns: sales or superuser."""
    if not is_staff(user):
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_wm_is_sales", None)
    if cached is None:
        cached = user.groups.filter(name=SALES_GROUP).exists()
        remember_sales(user, cached)
    return cached


def remember_sales(user, is_sales: bool) -> None:
    """Keep the sales-group check on the user object for this request (webmagic.auth reads
    it together with the user)."""
    user._wm_is_sales = is_sales


def can_admin(user) -> bool:
    """Billing actions, replaying events, API tokens: superusers."""
    return is_staff(user) and user.is_superuser


def _login_redirect(request: HttpRequest) -> HttpResponse:
    next_url = request.headers.get("HX-Current-URL") or request.get_full_path()
    url = f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': next_url})}"
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def staff_required(view):
    """Any staff user (viewer, sales, superuser)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not is_staff(request.user):
            return _login_redirect(request)
        return view(request, *args, **kwargs)

    return wrapper


def _role_required(check, view):
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not is_staff(request.user):
            return _login_redirect(request)
        if not check(request.user):
            raise PermissionDenied("Your role does not allow this action.")
        return view(request, *args, **kwargs)

    return wrapper


def editor_required(view):
    """Sales or superuser; a viewer gets 403."""
    return _role_required(can_edit, view)


def superuser_required(view):
    return _role_required(can_admin, view)
