"""API token management for superusers (/admin/crm/tokens/): create (the key is shown
once), list, revoke. Keys are stored hashed (crm.tokens)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from crm.models import ApiToken
from crm.normalize import is_digits
from crm.permissions import superuser_required
from crm.tokens import token_create, token_revoke


def _staff_users():
    return get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")


@superuser_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    new_key = None
    errors: list[str] = []
    form = {"name": "", "user": str(request.user.pk)}
    if request.method == "POST":
        form = {"name": request.POST.get("name", ""), "user": request.POST.get("user", "")}
        owner = None
        if is_digits(form["user"]):
            owner = _staff_users().filter(pk=int(form["user"])).first()
        if owner is None:
            errors.append("Choose an active staff user for the token.")
        if not form["name"].strip():
            errors.append("Give the token a name (what will use it).")
        elif len(form["name"].strip()) > 100:
            errors.append("Keep the name under 100 characters.")
        if not errors:
            token, new_key = token_create(user=owner, name=form["name"], created_by=request.user)
            form = {"name": "", "user": str(request.user.pk)}
    tokens = ApiToken.objects.select_related("user", "created_by").order_by(
        "revoked_at", "-created_at"
    )
    response = render(
        request,
        "analytics/token_list.html",
        {
            "tokens": tokens,
            "users": _staff_users(),
            "new_key": new_key,
            "errors": errors,
            "form": form,
        },
        status=400 if errors else 200,
    )
    # The one page that shows a key must never be cached anywhere.
    response["Cache-Control"] = "no-store"
    return response


@superuser_required
@require_POST
def token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk)
    if token_revoke(token=token):
        messages.success(request, f"Token “{token.name}” revoked; it stops working now.")
    else:
        messages.info(request, f"Token “{token.name}” was already revoked.")
    return redirect("api-tokens")
