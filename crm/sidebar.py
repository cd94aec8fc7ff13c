"""What the lead table's sidebar and bulk bar list besides the filter values: the colleagues
(owner filter, assign menu), the latest campaigns (campaign filter) and the saved views.

They change a few times a day and are read on every full lead page, so they are one cached
value (crm.memo) that any save or delete of a user, campaign or saved view drops.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models.signals import post_delete, post_save

from crm.forms import staff_users
from crm.memo import forget, remembered
from crm.models import SavedView

KEY = "crm:lead-sidebar"
TTL = 60  # seconds; see crm.memo
CAMPAIGNS_LISTED = 200


def sidebar_lookups() -> dict[str, Any]:
    """{"staff": [(pk, username)], "campaigns": [(pk, name)], "saved_views": [{pk, name,
    params}]}, newest campaigns first, the rest by name."""
    return remembered(KEY, _build, TTL)


def _build() -> dict[str, Any]:
    staff = [(user.pk, user.get_username()) for user in staff_users()]
    campaigns = []
    if apps.is_installed("campaigns"):
        campaign_model = apps.get_model("campaigns", "Campaign")
        campaigns = list(
            campaign_model.objects.order_by("-id").values_list("pk", "name")[:CAMPAIGNS_LISTED]
        )
    saved_views = list(SavedView.objects.values("pk", "name", "params"))
    return {"staff": staff, "campaigns": campaigns, "saved_views": saved_views}


def _changed(sender, **kwargs) -> None:
    forget(KEY)


def connect() -> None:
    senders = [settings.AUTH_USER_MODEL, SavedView]
    if apps.is_installed("campaigns"):
        senders.append("campaigns.Campaign")
    for sender in senders:
        for name, signal in (("save", post_save), ("delete", post_delete)):
            signal.connect(_changed, sender=sender, dispatch_uid=f"crm.sidebar:{sender}:{name}")
