"""How the JSON API knows who is calling: a staff session (with CSRF on writes) or a Bearer
token (crm.tokens). Anyone else gets 401 JSON, never a redirect to the login page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuthIsStaff

from crm.permissions import can_admin, can_edit
from crm.tokens import token_user


class StaffSession(SessionAuthIsStaff):
    """Django's session cookie; ninja checks the CSRF token on unsafe methods."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = token_user(token)
        if user is not None:
            request.user = user
        return user


def api_auth() -> list:
    return [StaffSession(), BearerToken()]


def require_editor(request: HttpRequest) -> None:
    """Sales or superuser; a viewer (session or token) gets 403."""
    if not can_edit(request.auth):
        raise HttpError(403, "Your role is read-only: this needs the sales role.")


def require_admin(request: HttpRequest) -> None:
    if not can_admin(request.auth):
        raise HttpError(403, "This needs a superuser.")
