"""Small template filters for the staff pages. Markup lives in the templates."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()

_UNITS = (
    (365 * 86400, "year"),
    (30 * 86400, "month"),
    (7 * 86400, "week"),
    (86400, "day"),
    (3600, "hour"),
    (60, "minute"),
)


def ago_text(value: datetime | None, now: datetime | None = None) -> str:
    """'2 days ago' (largest unit only); '—' for no date. Plain arithmetic: the lead table
    shows two per row, and Django's timesince costs ~20× more."""
    if not value:
        return "—"
    seconds = ((now or timezone.now()) - value).total_seconds()
    if seconds < 60:
        return "just now"
    for size, unit in _UNITS:
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


@register.filter
def ago(value: datetime | None) -> str:
    return ago_text(value)


@register.filter
def humanize_status(value: str | None) -> str:
    return (value or "").replace("_", " ").capitalize()


@register.filter
def pct(part: int | None, whole: int | None) -> str:
    if not whole:
        return "—"
    return f"{100 * (part or 0) / whole:.1f}%"


@register.filter
def bar_width(part: int | None, whole: int | None) -> str:
    """Percentage width for a funnel bar, at least a sliver so zero stays visible."""
    if not whole:
        return "0.5"
    return f"{max(0.5, 100 * (part or 0) / whole):.1f}"
