"""JSON API of the CRM core (leads, pipeline, stats), mounted by webmagic/api.py."""

from django.http import HttpRequest
from ninja import Router, Schema

from crm.permissions import can_admin, can_edit

router = Router(tags=["crm"])


class MeOut(Schema):
    username: str
    can_edit: bool
    can_admin: bool


@router.get("/me", response=MeOut, summary="Who the API sees you as")
def me(request: HttpRequest) -> dict:
    user = request.auth
    return {
        "username": user.get_username(),
        "can_edit": can_edit(user),
        "can_admin": can_admin(user),
    }
