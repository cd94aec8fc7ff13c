"""What the lead table's sidebar and bulk bar list besides the filter values: the colleagues
(owner filter, assign menu), the latest campaigns (campaign filter) and the saved views.

They change a few times a day and are read on every full lead page, so they are one cached
value (crm.memo). The code that writes what they list drops it by calling `sidebar_forget()`:
saved views (crm.views.writes and their admin), campaigns (campaigns.services.campaign_create
and the campaign admin), staff users (the user admin, setup_demo) and seed_demo. A write
elsewhere (a shell, Django's createsuperuser) shows within TTL seconds.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps

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


def sidebar_forget() -> None:
    """Drop the cached lists now (and again at commit): call it from every write to a staff
    user, a campaign or a saved view."""
    forget(KEY)
