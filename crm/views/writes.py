"""The writes the staff pages make that are not statuses (statuses go through
crm.lifecycle): lead owner and saved views. Each records who did it; saved-view writes drop
the lead page's cached lists (crm.sidebar)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from crm.lifecycle import lead_event_add
from crm.models import Business, EventSource, LeadEventKind, SavedView
from crm.sidebar import sidebar_forget


def business_assign_owner(*, businesses: QuerySet, owner, actor) -> int:
    """Give every lead in `businesses` to `owner` (None = unassigned); a timeline line for
    each lead whose owner changed. Returns how many changed."""
    owner_id = owner.pk if owner is not None else None
    label = owner.get_username() if owner is not None else "nobody"
    with transaction.atomic():
        changing = list(
            businesses.exclude(owner_id=owner_id).values_list("pk", flat=True)
            if owner_id is not None
            else businesses.filter(owner__isnull=False).values_list("pk", flat=True)
        )
        if not changing:
            return 0
        Business.objects.filter(pk__in=changing).update(
            owner_id=owner_id, updated_at=timezone.now()
        )
        for pk in changing:
            lead_event_add(
                business=pk,
                kind=LeadEventKind.OWNER,
                source=EventSource.MANUAL,
                summary=f"Assigned to {label}",
                actor=actor,
                data={"owner_id": owner_id},
            )
    return len(changing)


def saved_view_save(*, name: str, params: str, actor) -> SavedView:
    """Create the named view, or overwrite the one with that name (the team shares names)."""
    view, _ = SavedView.objects.update_or_create(
        name=name, defaults={"params": params, "created_by": actor}
    )
    sidebar_forget()
    return view


def saved_view_delete(*, view: SavedView) -> None:
    view.delete()
    sidebar_forget()
