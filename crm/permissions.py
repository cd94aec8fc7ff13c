"""Who may do what on the staff pages and the API.

Roles (DESIGN.md): group `viewer` reads everything (a staff user in no group is a viewer);
group `sales` also edits leads and runs campaigns; superusers also act on billing, replay
events and manage API tokens. The sales role is Django's permission `crm.edit_leads`,
granted to the `sales` group (migration 0017) and checked with `user.has_perm`: Django's
ModelBackend reads a user's permissions once and keeps them on the user for the request.
Anonymous or non-staff users are sent to the login page; an htmx request gets an
`HX-Redirect` header so the whole page goes there instead of a login form being swapped
into a table.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url

SALES_GROUP = "sales"
VIEWER_GROUP = "viewer"
EDIT_PERMISSION = "crm.edit_leads"
# What each role's group is granted ("app_label.codename").
ROLE_PERMISSIONS = {SALES_GROUP: (EDIT_PERMISSION,), VIEWER_GROUP: ()}


def is_staff(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def can_edit(user) -> bool:
    """Edit leads and run campaigns: sales or superuser."""
    return is_staff(user) and user.has_perm(EDIT_PERMISSION)


def role_group(name: str) -> Group:
    """The group of role `name` with its permissions (as migration 0017 leaves it), created
    when missing: for set-ups that start from empty tables."""
    group, _ = Group.objects.get_or_create(name=name)
    for dotted in ROLE_PERMISSIONS[name]:
        app_label, codename = dotted.split(".")
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return group


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
