"""django-q2 task functions of the sites app."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from sites.builder import sites_generate_for


def sites_generate_batch(business_ids: list[int], actor_id: int | None = None) -> dict:
    """Generate the preview sites of one queued batch (see builder.sites_generate_for)."""
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    summary = sites_generate_for(business_ids, actor=actor, inline=True)
    return {
        "generated": summary.generated,
        "skipped": summary.skipped,
        "failed": summary.failed,
        "errors": summary.errors,
    }
